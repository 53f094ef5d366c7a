"""Shared fixtures: a complete valid case, its workbook, and ways to break it.

``case_factory(**meta)``      a valid, fully filled :class:`BusinessCase` (quarterly, 8 periods
                              from 2026Q1, go-live 2026Q3, approved; costs C1/C2, benefits B1
                              cash-releasing and B2 dis-benefit, actuals to 2026Q3, a forecast and a
                              re-baseline RB1); keyword arguments override Case fields, and
                              ``costs=``/``benefits=``/``actuals=``/``forecast=``/``rebaselines=``
                              replace those lists.
``workbook_factory(case=None, name="case.xlsx", edit=None)``
                              writes the case with :func:`vmo_lib.intake.template.write_case_workbook` in
                              ``tmp_path``; ``edit(wb)`` then changes it with openpyxl (set a cell,
                              delete a sheet) before it is saved again. Returns the path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import settings

from vmo_lib.model import BusinessCase, make_case

# CI runs the property tests on a fixed sequence of examples so a red build can be reproduced;
# locally they explore new examples each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

VALID_META: dict[str, Any] = {
    "case_id": "CRM-2026",
    "title": "CRM replacement",
    "sponsor": "Chief Commercial Officer",
    "portfolio": "Commercial",
    "strategic_objective": "Grow recurring revenue",
    "org_unit": "Sales",
    "case_type": "IT: equipment/development",
    "status": "in delivery",  # it has actuals (an "approved" case with actuals is a warning)
    "approval_date": "2025-12-15",
    "first_period": "2026Q1",
    "period_length": "quarter",
    "horizon": 8,
    "go_live_period": "2026Q3",
    "currency": "GBP",
    "price_base": "real",
    "base_year": 2026,
    "discount_rate": 0.08,
    "discount_schedule": "flat",
}

_PROFILE = {"owner": "Head of Sales Ops", "kpi": "Cost to serve", "unit": "GBP", "baseline_value": 120.0,
            "baseline_date": "2025-11-01", "target_value": 90.0, "target_date": "2027-12-31",
            "frequency": "quarterly", "data_source": "Finance ledger", "confidence": "medium"}

VALID_COSTS = [
    {"line_id": "C1", "name": "Build and licences", "category": "capex", "low": 200.0, "likely": 250.0, "high": 400.0,
     "amounts": [100, 100, 50]},
    {"line_id": "C2", "name": "Run", "category": "opex", "amounts": [0, 0, 10, 10, 10, 10, 10, 10]},
]
VALID_BENEFITS = [
    {"line_id": "B1", "name": "Lower cost to serve", "benefit_type": "cash-releasing", **_PROFILE,
     "amounts": [0, 0, 0, 40, 40, 40, 40, 40]},
    {"line_id": "B2", "name": "Retraining time", "benefit_type": "dis-benefit", **_PROFILE, "kpi": "Training hours",
     "unit": "hours", "amounts": [0, 0, -5, -5]},
]
VALID_ACTUALS = [
    {"period": "2026Q1", "line_id": "C1", "amount": 90.0},
    {"period": "2026Q2", "line_id": "C1", "amount": 120.0, "comment": "licence true-up"},
    {"period": "2026Q3", "line_id": "C2", "amount": 12.0},
    {"period": "2026Q3", "line_id": "B2", "amount": -4.0, "kpi_value": 35.0},
]
VALID_FORECAST = [{"period": "2026Q4", "line_id": "B1", "amount": 30.0}]
VALID_REBASELINES = [{"version": "RB1", "approved": "2026-06-30", "reason": "Scope change",
                      "amounts": {"C1": [100, 120, 80]}}]


@pytest.fixture
def case_factory() -> Callable[..., BusinessCase]:
    def build(costs=None, benefits=None, actuals=None, forecast=None, rebaselines=None, **meta) -> BusinessCase:
        return make_case(
            {**VALID_META, **meta},
            costs=VALID_COSTS if costs is None else costs,
            benefits=VALID_BENEFITS if benefits is None else benefits,
            actuals=VALID_ACTUALS if actuals is None else actuals,
            forecast=VALID_FORECAST if forecast is None else forecast,
            rebaselines=VALID_REBASELINES if rebaselines is None else rebaselines,
        )

    return build


@pytest.fixture
def workbook_factory(tmp_path, case_factory) -> Callable[..., Path]:
    from vmo_lib.intake.template import write_case_workbook

    def write(case: BusinessCase | None = None, name: str = "case.xlsx",
              edit: Callable[[openpyxl.Workbook], Any] | None = None) -> Path:
        path = write_case_workbook(case if case is not None else case_factory(), tmp_path / name)
        if edit is not None:
            wb = openpyxl.load_workbook(path)
            edit(wb)
            wb.save(path)
        return Path(path)

    return write
