"""Small helpers shared by the portfolio modules (no analysis of their own).

Examples
--------
>>> is_blank("  "), is_blank(float("nan")), is_blank(0)
(True, True, False)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from vmo_lib.model import BusinessCase, Portfolio
from vmo_lib.periods import review_period

__all__ = ["TINY", "case_as_of", "cases_of", "is_blank", "kpi_rule", "org_unit_of"]

#: Amounts smaller than this (in absolute value) count as zero.
TINY = 1e-9


def cases_of(portfolio: Portfolio | Iterable[BusinessCase]) -> list[BusinessCase]:
    """The cases of a :class:`~vmo_lib.model.Portfolio` or of any iterable of cases, as a list."""
    return list(portfolio.cases if isinstance(portfolio, Portfolio) else portfolio)


def case_as_of(case: BusinessCase, as_of: object) -> str:
    """The review period in a case's own period length (:func:`vmo_lib.periods.review_period`)."""
    return review_period(as_of, case.period_length, like=case.meta.get("first_period"))


def is_blank(v: Any) -> bool:
    """None, NaN or an all-blank string."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def org_unit_of(line_unit: Any, case: BusinessCase) -> str:
    """A line's organisational unit: its own when given, else its case's."""
    return str(case.meta.get("org_unit") or "") if is_blank(line_unit) else str(line_unit)


def kpi_rule(unit: Any, rule: Any) -> str:
    """A KPI's roll-up rule (:func:`vmo_lib.analysis.realisation.kpi_rule`: one rule for cases and the portfolio)."""
    from vmo_lib.analysis.realisation import kpi_rule as rule_of

    return rule_of(unit, rule)
