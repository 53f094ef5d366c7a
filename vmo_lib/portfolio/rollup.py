"""Portfolio roll-ups: the mix of the portfolio, benefit realisation and KPIs across cases.

Conventions
-----------
* **Money is summed per currency**, never across currencies.
* **KPIs are never summed unless additive**: a KPI rolls up by its ``kpi_rollup`` rule (blank = mean
  for %, scores and indices, sum otherwise; the realisation module's rule), and only across benefits
  that share the normalised KPI name (:func:`vmo_lib.portfolio.double_counting.normalise_kpi`), the
  unit and the rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.periods import parse_period
from vmo_lib.portfolio.common import TINY, is_blank
from vmo_lib.portfolio.register import Register

__all__ = ["kpi_rollup", "portfolio_mix", "realisation_rollup"]


def portfolio_mix(register: Register, by: str) -> pd.DataFrame:
    """The portfolio's mix by ``strategic_objective``, ``status``, ``rag``, ``verdict`` or ``benefit_type``.

    For case attributes: number of cases, and per currency the PV costs and baseline NPV. For
    ``benefit_type``: number of benefits and their whole-life planned amount per currency.

    Returns
    -------
    pandas.DataFrame
        ``<by>, currency, count`` and the money columns; sorted by ``by``.
    """
    if by == "benefit_type":
        b = register.benefits
        g = b.groupby([by, "currency"], sort=True, dropna=False)
        out = g.agg(count=("line_id", "size"), plan_total=("plan_total", "sum"),
                    actual_to_date=("actual_to_date", "sum"))
        return out.reset_index()
    c = register.cases
    if by not in c:
        raise ValueError(f"cannot group the register by {by!r}")
    g = c.groupby([by, "currency"], sort=True, dropna=False)
    out = g.agg(count=("case_id", "size"), pv_costs=("pv_costs", "sum"), baseline_npv=("baseline_npv", "sum"),
                expected_npv=("expected_npv", "sum"))
    return out.reset_index()


# --------------------------------------------------------------------------------------------------
# realisation and KPI roll-ups
# --------------------------------------------------------------------------------------------------
def realisation_rollup(benefits: pd.DataFrame, by: str = "benefit_type") -> pd.DataFrame:
    """Benefit realisation across the portfolio by ``benefit_type`` or ``strategic_objective``.

    Money is summed per currency: planned to date, actual to date, realisation % = actual ÷ plan
    over the benefits that reported (like-for-like, as :mod:`vmo_lib.analysis.realisation`). KPIs are not
    combined here: see :func:`kpi_rollup`.

    Examples
    --------
    >>> b = pd.DataFrame({"benefit_type": ["cash-releasing"] * 2, "currency": ["GBP"] * 2,
    ...                   "plan_to_date": [100.0, 50.0], "actual_to_date": [80.0, float("nan")],
    ...                   "plan_total": [400.0, 200.0], "rag": ["amber", "grey"], "case_id": ["A", "B"]})
    >>> r = realisation_rollup(b).iloc[0]
    >>> [float(r[k]) for k in ("benefits", "plan_reported", "actual_to_date", "realisation_pct")]
    [2.0, 100.0, 80.0, 0.8]
    """
    b = benefits.copy()
    reported = b["actual_to_date"].notna()
    b["plan_reported"] = np.where(reported, b["plan_to_date"], 0.0)
    g = b.groupby([by, "currency"], sort=True, dropna=False)
    out = g.agg(benefits=("case_id", "size"), cases=("case_id", "nunique"), plan_total=("plan_total", "sum"),
                plan_to_date=("plan_to_date", "sum"), plan_reported=("plan_reported", "sum"),
                actual_to_date=("actual_to_date", "sum"),
                red=("rag", lambda s: int((s == "red").sum())), amber=("rag", lambda s: int((s == "amber").sum())),
                green=("rag", lambda s: int((s == "green").sum())))
    out["realisation_pct"] = np.where(out["plan_reported"].abs() > TINY,
                                      out["actual_to_date"] / out["plan_reported"].where(out["plan_reported"] != 0), np.nan)
    return out.reset_index()


def kpi_rollup(benefits: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """KPIs rolled up across cases by their roll-up rule; non-additive KPIs are never summed.

    Benefits are grouped by the normalised KPI name (``kpi_key``), the unit and any ``by`` columns
    (e.g. ``strategic_objective``). Within a group:

    1. benefits of the **same organisational unit** measure one and the same KPI (several cases
       claiming it is double counting, :func:`double_counting`): they count **once**, as the mean
       of what the cases report;
    2. the units are then combined by the roll-up rule: ``sum``, ``mean``, ``max``, ``min``, or
       ``latest`` (the unit measured most recently, by ``kpi_latest_period`` when present).

    A group whose benefits disagree on the rule is not combined (``kpi_note`` says why).

    Returns
    -------
    pandas.DataFrame
        ``*by, kpi_key, unit, kpi_rollup, benefits, cases, org_units, kpi_baseline, kpi_target,
        kpi_latest, kpi_note``.

    Examples
    --------
    Two units report customer satisfaction in %: the roll-up is the mean, never the sum.

    >>> b = pd.DataFrame({"kpi_key": ["customer satisfaction"] * 2, "unit": ["%", "%"],
    ...                   "kpi_rollup": ["mean", "mean"], "case_id": ["A", "B"], "org_unit": ["Sales", "Ops"],
    ...                   "kpi_baseline": [60.0, 70.0], "kpi_target": [80.0, 90.0], "kpi_latest": [70.0, 76.0]})
    >>> r = kpi_rollup(b).iloc[0]
    >>> r["kpi_rollup"], float(r["kpi_latest"])
    ('mean', 73.0)
    """
    from vmo_lib.analysis.realisation import (
        roll_up,  # the same roll-up rules as one case's realisation_by_type
    )

    b = benefits[benefits["kpi_key"].fillna("").astype(str).str.len() > 0].copy()
    if "org_unit" not in b:
        b["org_unit"] = ""
    b["_order"] = ([_period_order(p) for p in b["kpi_latest_period"]] if "kpi_latest_period" in b
                   else np.arange(len(b), dtype=float))
    keys = [*by, "kpi_key", "unit"]
    cols = [*keys, "kpi_rollup", "benefits", "cases", "org_units", "kpi_baseline", "kpi_target", "kpi_latest",
            "kpi_note"]
    out = []
    for key, g in b.groupby(keys, sort=True, dropna=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        rules = set(g["kpi_rollup"].astype(str))
        units = g.groupby("org_unit", sort=True, dropna=False).agg(
            kpi_baseline=("kpi_baseline", "mean"), kpi_target=("kpi_target", "mean"),
            kpi_latest=("kpi_latest", "mean"), _order=("_order", "max"), n=("case_id", "nunique"))
        row.update(benefits=len(g), cases=g["case_id"].nunique(), org_units=len(units), kpi_rollup=None,
                   kpi_baseline=math.nan, kpi_target=math.nan, kpi_latest=math.nan, kpi_note="")
        shared = units[units["n"] > 1]
        notes = [f"{int(n)} cases claim it for {u or 'the same unit'}: counted once" for u, n in shared["n"].items()]
        if len(rules) != 1:
            notes.insert(0, f"not combined: roll-up rules differ ({', '.join(sorted(rules))})")
        else:
            rule = rules.pop()
            order = units["_order"]
            row.update(kpi_rollup=rule, kpi_baseline=roll_up(units["kpi_baseline"], rule, order),
                       kpi_target=roll_up(units["kpi_target"], rule, order),
                       kpi_latest=roll_up(units["kpi_latest"], rule, order))
        row["kpi_note"] = "; ".join(notes)
        out.append(row)
    return pd.DataFrame(out, columns=cols)


def _period_order(p: Any) -> float:
    if is_blank(p):
        return math.nan
    s = str(p)
    try:
        y, q = parse_period(s, "quarter" if "Q" in s.upper() else "year")
    except ValueError:
        return math.nan
    return y * 4 + (q if "Q" in s.upper() else 3)
