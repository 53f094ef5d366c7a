"""What the history keeps of one case review: plain tables, one row per case, line, KPI and period.

:func:`records_from_review` turns a :class:`~vmo_lib.analysis.review.CaseReview` into the rows the
quarterly history store (:mod:`vmo_lib.history.store`) writes, and that movement, drift and
estimating-accuracy analyses read back. It is pure: the same review gives the same rows, whether they
are about to be stored or were just computed to compare with the stored quarter.

Tables
------
``case_quarter``   one row per case and review quarter: the headline figures of every basis, the
                   decision and its reason, verdict, RAG, realisation, risk, the workbook's SHA-256,
                   the review's whole ``to_dict(detail=False)`` as JSON, the approved go-live
                   period and the first period the original baseline expects a benefit
                   (:data:`CASE_COLUMNS`);
``line_quarter``   one row per cost and benefit line: plan, actual and variance to date, the plan in
                   force, the original plan and the expected (outlook) total over the whole life, the
                   first period the outlook expects money, the KPI and its progress, RAG, the
                   stated confidence (Benefits sheet: high/medium/low) (:data:`LINE_COLUMNS`);
``period_quarter`` one row per line and period of the expected outlook as known that quarter: the
                   amount and where it came from (``actual``, ``forecast``, ``plan``) — the forecasts
                   *as recorded then* (:data:`PERIOD_COLUMNS`).

Column types are the DuckDB types of the store's schema; every table starts with
``quarter, case_id`` (the review quarter, e.g. ``"2026Q3"``, and the case id).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.analysis import outlook
from vmo_lib.analysis.review import CaseReview

__all__ = ["CASE_COLUMNS", "LINE_COLUMNS", "PERIOD_COLUMNS", "TABLES", "records_from_review", "to_json"]

#: ``case_quarter`` columns and their DuckDB types.
CASE_COLUMNS: dict[str, str] = {
    "quarter": "VARCHAR", "case_id": "VARCHAR", "period": "VARCHAR", "title": "VARCHAR",
    "currency": "VARCHAR", "case_status": "VARCHAR", "case_type": "VARCHAR", "sponsor": "VARCHAR",
    "org_unit": "VARCHAR", "decision": "VARCHAR", "decision_reason": "VARCHAR", "verdict": "VARCHAR",
    "rag": "VARCHAR", "rag_reason": "VARCHAR", "baseline_in_force": "VARCHAR",
    "approved_npv": "DOUBLE", "in_force_npv": "DOUBLE", "expected_npv": "DOUBLE", "forward_npv": "DOUBLE",
    "expected_irr": "DOUBLE", "expected_pv_benefits": "DOUBLE", "expected_pv_costs": "DOUBLE",
    "realisation_pct": "DOUBLE", "benefit_plan_to_date": "DOUBLE", "benefit_actual_to_date": "DOUBLE",
    "cost_plan_to_date": "DOUBLE", "cost_actual_to_date": "DOUBLE",
    "risk_p10": "DOUBLE", "risk_p50": "DOUBLE", "risk_p90": "DOUBLE", "prob_below_zero": "DOUBLE",
    "ob_npv": "DOUBLE", "seed": "BIGINT", "source_file": "VARCHAR", "workbook_sha256": "VARCHAR",
    "warnings": "VARCHAR", "review_json": "VARCHAR",
    "go_live_period": "VARCHAR", "approved_benefit_start": "VARCHAR",
}
#: ``line_quarter`` columns and their DuckDB types.
LINE_COLUMNS: dict[str, str] = {
    "quarter": "VARCHAR", "case_id": "VARCHAR", "line_id": "VARCHAR", "kind": "VARCHAR", "name": "VARCHAR",
    "type": "VARCHAR", "owner": "VARCHAR", "plan_to_date": "DOUBLE", "actual_to_date": "DOUBLE",
    "variance_to_date": "DOUBLE", "realisation_pct": "DOUBLE", "plan_total": "DOUBLE",
    "original_total": "DOUBLE", "expected_total": "DOUBLE", "expected_start": "VARCHAR",
    "forecast_total": "DOUBLE", "kpi": "VARCHAR", "kpi_baseline": "DOUBLE", "kpi_target": "DOUBLE",
    "kpi_latest": "DOUBLE", "kpi_latest_period": "VARCHAR", "kpi_progress_pct": "DOUBLE",
    "kpi_planned_progress_pct": "DOUBLE", "rag": "VARCHAR", "rag_reason": "VARCHAR",
    "confidence": "VARCHAR",
}
#: ``period_quarter`` columns and their DuckDB types.
PERIOD_COLUMNS: dict[str, str] = {
    "quarter": "VARCHAR", "case_id": "VARCHAR", "line_id": "VARCHAR", "kind": "VARCHAR",
    "period": "VARCHAR", "t": "INTEGER", "amount": "DOUBLE", "source": "VARCHAR", "estimated": "BOOLEAN",
}
#: The tables :func:`records_from_review` returns, with their columns.
TABLES: dict[str, dict[str, str]] = {
    "case_quarter": CASE_COLUMNS, "line_quarter": LINE_COLUMNS, "period_quarter": PERIOD_COLUMNS,
}


def to_json(value: Any) -> str:
    """JSON text of plain data with NaN/inf as ``null`` and dates/numpy scalars as strings/numbers."""
    return json.dumps(_plain(value), sort_keys=True, default=str, allow_nan=False)


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v)


def _first_benefit(review: CaseReview) -> str | None:
    """The first period in which the original approved baseline expects a (net positive) benefit."""
    case = review.case
    b = case.matrix("baseline", "benefit").to_numpy(dtype=float).sum(axis=0)
    nz = np.flatnonzero(b > 1e-9)
    return case.periods[int(nz[0])] if nz.size else None


def records_from_review(review: CaseReview) -> dict[str, pd.DataFrame]:
    """The rows the history keeps of one case review (module notes).

    Parameters
    ----------
    review : CaseReview

    Returns
    -------
    dict of str to pandas.DataFrame
        ``case_quarter`` (one row), ``line_quarter`` (one row per line) and ``period_quarter`` (one
        row per line and period of the expected outlook), each with exactly the columns of
        :data:`TABLES`, in that order.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 100, 100]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110}])
    >>> rec = records_from_review(review_case(case, "2026Q1", iterations=0))
    >>> rec["case_quarter"][["quarter", "case_id", "expected_npv", "decision"]].values.tolist()
    [['2026Q1', 'X', 90.0, 'recover']]
    >>> rec["line_quarter"][["line_id", "expected_total", "expected_start", "forecast_total"]].values.tolist()
    [['B1', 200.0, '2026Q2', 0.0], ['C1', 110.0, '2026Q1', 0.0]]
    >>> rec["period_quarter"]["source"].tolist()
    ['actual', 'plan', 'plan', 'plan', 'plan', 'plan']
    """
    q, cid = review.as_of, review.case_id
    d = review.to_dict(detail=False)
    meta = review.case.meta
    issues = review.case.issues
    warnings = [] if issues is None or "message" not in issues else [str(m) for m in issues["message"]]
    case_row = {
        "quarter": q, "case_id": cid, "period": review.period, "title": review.title,
        "currency": review.currency, "case_status": d.get("case_status"), "case_type": d.get("case_type"),
        "sponsor": d.get("sponsor"), "org_unit": _text(meta.get("org_unit")), "decision": review.decision,
        "decision_reason": review.decision_reason, "verdict": d.get("verdict"), "rag": d.get("rag"),
        "rag_reason": d.get("rag_reason"), "baseline_in_force": d.get("baseline_in_force"),
        "approved_npv": d.get("approved_npv"), "in_force_npv": d.get("in_force_npv"),
        "expected_npv": d.get("expected_npv"), "forward_npv": d.get("forward_npv"),
        "expected_irr": d.get("expected_irr"), "expected_pv_benefits": d.get("expected_pv_benefits"),
        "expected_pv_costs": d.get("expected_pv_costs"), "realisation_pct": d.get("realisation_pct"),
        "benefit_plan_to_date": d.get("benefit_plan_to_date"),
        "benefit_actual_to_date": d.get("benefit_actual_to_date"),
        "cost_plan_to_date": d.get("cost_plan_to_date"), "cost_actual_to_date": d.get("cost_actual_to_date"),
        "risk_p10": d.get("risk_p10"), "risk_p50": d.get("risk_p50"), "risk_p90": d.get("risk_p90"),
        "prob_below_zero": d.get("prob_below_zero"), "ob_npv": d.get("ob_npv"), "seed": review.seed,
        "source_file": _text(review.case.source), "workbook_sha256": _text(review.case.sha256),
        "warnings": to_json(warnings), "review_json": to_json(d),
        "go_live_period": _text(meta.get("go_live_period")),
        "approved_benefit_start": _first_benefit(review),
    }
    flows = outlook.expected_flows(review.case, q)
    flows.insert(0, "case_id", cid)
    flows.insert(0, "quarter", q)
    flows = flows[list(PERIOD_COLUMNS)]

    nonzero = flows[flows["amount"].abs() > 1e-9]
    start = nonzero.groupby("line_id", sort=False)["period"].first()
    fc = flows[flows["source"] == "forecast"].groupby("line_id", sort=False)["amount"].sum()
    lines = pd.concat([review.status.benefits, review.status.costs], ignore_index=True)
    line_rows = pd.DataFrame({c: lines[c] if c in lines else None for c in LINE_COLUMNS if c not in
                              ("quarter", "case_id", "expected_start", "forecast_total", "confidence")})
    line_rows.insert(0, "case_id", cid)
    line_rows.insert(0, "quarter", q)
    line_rows["expected_start"] = line_rows["line_id"].map(start).astype(object)
    line_rows["forecast_total"] = line_rows["line_id"].map(fc).fillna(0.0).astype(float)
    conf = review.case.lines.set_index("line_id")["confidence"]
    line_rows["confidence"] = [_text(conf.get(x)) for x in line_rows["line_id"]]
    line_rows = line_rows[list(LINE_COLUMNS)]
    return {"case_quarter": pd.DataFrame([case_row], columns=list(CASE_COLUMNS)),
            "line_quarter": line_rows.reset_index(drop=True),
            "period_quarter": flows.reset_index(drop=True)}
