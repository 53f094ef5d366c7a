"""Risk and uncertainty: optimism bias, one-way sensitivity, switching values and Monte Carlo.

A point NPV hides how wrong a case could plausibly be (DOMAIN.md §4-§5). This module answers, for
one scenario of one case:

* :func:`appraisal_with_optimism_bias` — the appraisal before and after the Green Book optimism-bias
  adjustment (:mod:`vmo_lib.analysis.scenarios` holds the uplifts and the what-if rules);
* :func:`tornado` — NPV at the low and high end of every line group (cost category, benefit type,
  risk driver) and global driver (discount rate, delay, benefit realisation, cost overrun);
* :func:`switching_values` — how far cost, benefits, timing and the discount rate can move before
  NPV reaches zero, solved in closed form (never by scanning a grid of values);
* :func:`monte_carlo` — the NPV distribution from the three-point estimates, optionally with a
  fat-tailed reference-class cost overrun, benefit delay and correlation between lines sharing a
  driver.

Every function is pure: it takes a case (or precomputed :class:`~vmo_lib.analysis.scenarios.CaseMatrices`)
and returns tables, numbers or dataclasses.

Plan or outlook
---------------
Without ``as_of`` the functions describe a plan scenario as approved (``basis`` ``"approved plan"``).
With ``as_of="2026Q3"`` they describe the **outlook** at that review
(:meth:`~vmo_lib.analysis.scenarios.CaseMatrices.outlook`): the expected flows of
:func:`vmo_lib.analysis.outlook.expected_case` (actuals to date, then the forecast, then the plan in
force) with everything up to the review period fixed; ranges, overrun, delays and switching values act
only on what remains, and the NPV is the expected NPV (discounted to period 0, actuals included). A
reported period without an actual (a measurement gap, :func:`vmo_lib.analysis.realisation.measurement_gaps`)
is fixed at the estimate the outlook uses for it. Every result carries its basis
(:func:`basis_of`: ``"outlook as of 2026Q3"``) so an output can label it; a review pack should show the
outlook, and may show the approved plan's risk beside it, labelled.

Examples
--------
>>> from vmo_lib.model import make_case
>>> case = make_case({"case_id": "R", "first_period": "2026", "period_length": "year", "horizon": 3,
...                   "discount_rate": 0.0},
...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100], "low": 90, "likely": 100,
...                          "high": 150}],
...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 80, 80]}])
>>> sv = switching_values(case).set_index("driver")["value"]
>>> float(sv["cost uplift"]), float(sv["benefit shortfall"])        # 60/100 and 60/160
(0.6, 0.375)
>>> r = monte_carlo(case, iterations=10_000, seed=1)
>>> round(r.mean, 0)                       # 160 - (90 + 100 + 150) / 3
47.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from vmo_lib.analysis import appraisal, finance, outlook
from vmo_lib.analysis.outlook import EXPECTED
from vmo_lib.analysis.overrun import OverrunDistribution, flyvbjerg_it_overrun
from vmo_lib.analysis.scenarios import (
    CaseMatrices,
    WhatIf,
    shift_right,
    three_point_factors,
    what_if_appraisal,
    what_if_npv,
)
from vmo_lib.model import BusinessCase

__all__ = [
    "CHUNK_ITERATIONS",
    "MonteCarloResult",
    "appraisal_with_optimism_bias",
    "basis_of",
    "monte_carlo",
    "monte_carlo_runs",
    "switching_values",
    "three_point_npv",
    "tornado",
]

#: Iterations drawn at a time: small enough that a chunk's arrays stay in the CPU cache (measured
#: faster than 20,000 on the 2-core machine) and memory stays bounded; results do not depend on it.
CHUNK_ITERATIONS = 2_000
#: Points of the PERT quantile tables (on the normal scale, see :func:`monte_carlo` Notes).
_PERT_GRID = 1025
_Z_MAX = 8.5


# --------------------------------------------------------------------------------------------------
# optimism bias
# --------------------------------------------------------------------------------------------------
_OB_ROWS = {
    "pv_capex": "PV capex", "pv_opex": "PV opex", "pv_costs": "PV costs",
    "pv_benefits": "PV benefits (net of dis-benefits)", "npv": "NPV", "irr": "IRR (annual)",
    "bcr": "Benefit-cost ratio", "roi": "ROI", "discounted_payback_years": "Discounted payback (years)",
}


#: The optimism-bias what-if (:func:`vmo_lib.analysis.scenarios.optimism_bias_adjusted`'s).
_OB_WHAT_IF = WhatIf(optimism_bias=True, name="ob")


def appraisal_with_optimism_bias(case: BusinessCase, scenario: str = "baseline", view: str = "economic") -> pd.DataFrame:
    """The appraisal before and after the optimism-bias adjustment, side by side.

    Parameters
    ----------
    case : BusinessCase
    scenario : str
        Scenario to adjust (its adjusted twin is ``"<scenario>+ob"``).
    view : {"economic", "cash"}

    Returns
    -------
    pandas.DataFrame
        Index: the metric (``npv``, ``pv_costs``, ...); columns ``label``, ``before``, ``after``,
        ``change`` (after − before). The uplifts used are :func:`vmo_lib.analysis.scenarios.optimism_bias`.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"period_length": "year", "first_period": "2026", "horizon": 3, "discount_rate": 0,
    ...                   "ob_capex": 0.5, "ob_duration": 0, "ob_benefits": 0.1},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 100, 100]}])
    >>> appraisal_with_optimism_bias(case).loc["npv", ["before", "after"]].tolist()   # 200-100, 180-150
    [100.0, 30.0]
    """
    before = appraisal.appraise(case, scenario, view)
    # = appraise(optimism_bias_adjusted(case, scenario), f"{scenario}+ob", view), on the line arrays
    after = what_if_appraisal(case, _OB_WHAT_IF, scenario, view)
    b = [float(getattr(before, key)) for key in _OB_ROWS]
    a = [float(getattr(after, key)) for key in _OB_ROWS]
    return pd.DataFrame({"label": list(_OB_ROWS.values()), "before": b, "after": a,
                         "change": [x - y for x, y in zip(a, b, strict=True)]},
                        index=pd.Index(list(_OB_ROWS), name="metric"))


# --------------------------------------------------------------------------------------------------
# switching values
# --------------------------------------------------------------------------------------------------
def _matrices(case: BusinessCase | CaseMatrices, scenario: str, view: str, as_of: object = None) -> CaseMatrices:
    """The plan ``scenario`` of the case, or its outlook as of ``as_of`` (:meth:`CaseMatrices.outlook`)."""
    if isinstance(case, CaseMatrices):
        if as_of is not None:
            raise ValueError("as_of needs a BusinessCase: precomputed matrices carry their own basis "
                             "(build them with CaseMatrices.outlook(case, as_of))")
        return case
    if as_of is None:
        return CaseMatrices.from_case(case, scenario, view)
    if scenario not in ("baseline", case.current_baseline, EXPECTED):
        raise ValueError(f"as_of simulates the expected outlook (actuals to date, then the forecast, then the plan "
                         f"in force {case.current_baseline!r}); scenario {scenario!r} cannot be combined with it: "
                         "leave scenario at 'baseline', or drop as_of for the plan view of that scenario")
    return CaseMatrices.outlook(case, as_of, view)


def basis_of(matrices: CaseMatrices) -> str:
    """What the figures describe, as every output labels them.

    ``"outlook as of 2026Q3"`` for an outlook (:meth:`CaseMatrices.outlook`); ``"approved plan"`` for
    the baseline or a formal re-baseline; else ``"scenario <name>"``.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"horizon": 2}, costs=[{"line_id": "C", "name": "c", "amounts": [1]}])
    >>> basis_of(CaseMatrices.from_case(case)), basis_of(CaseMatrices.outlook(case, "2026Q1"))
    ('approved plan', 'outlook as of 2026Q1')
    """
    if matrices.as_of is not None:
        return f"outlook as of {matrices.as_of}"
    name = matrices.scenario
    return "approved plan" if name == "baseline" or name.startswith("rebaseline:") else f"scenario {name}"


def _factors(case: BusinessCase, m: CaseMatrices) -> pd.DataFrame:
    """Three-point factors of the lines of ``m``; an outlook's are those of the plan in force (the
    estimates were made against it) and scale the flows after the review."""
    if m.as_of is None:
        return three_point_factors(case, m)

    def build() -> tuple[CaseMatrices, pd.DataFrame]:
        plan = CaseMatrices.from_case(case, case.current_baseline, m.view)
        f = three_point_factors(case, plan)
        ids = list(m.cost_ids) + list(m.benefit_ids)
        # the outlook has the plan's lines in the plan's order (the usual case): reindexing would copy
        return m, f if f.index.tolist() == ids else f.reindex(ids)
    hit = outlook.memo(f"outlook_factors:{id(m)}", case, "", build)  # once per review (shared_work)
    return hit[1] if hit[0] is m else build()[1]


def _future_line_pv(m: CaseMatrices) -> tuple[np.ndarray, np.ndarray]:
    """PV of each cost and benefit line counting only the periods after the fixed ones (all of a plan)."""
    df = m.discount_factors
    return m.split(m.costs)[1] @ df, m.split(m.benefits)[1] @ df


def npv_by_delay(matrices: CaseMatrices) -> np.ndarray:
    """NPV with every benefit ``d`` whole periods late, for ``d = 0 .. horizon`` (exact, one array).

    On an outlook only the benefits after the review move (actuals to date stay where they are).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"horizon": 3, "discount_rate": 0}, costs=[{"line_id": "C", "name": "c", "amounts": [10]}],
    ...                  benefits=[{"line_id": "B", "name": "b", "amounts": [0, 8, 8]}])
    >>> npv_by_delay(CaseMatrices.from_case(case)).tolist()
    [6.0, -2.0, -10.0, -10.0]
    """
    p = matrices.profiles()
    df = matrices.discount_factors
    h = matrices.horizon
    ben = p[2] + p[3]
    pv_cost = float((p[0] + p[1]) @ df)
    if matrices.fixed_through < 0:
        return np.array([float(ben[: h - d] @ df[d:]) for d in range(h + 1)]) - pv_cost
    fixed, future = matrices.split(ben)
    return np.array([float(future[: h - d] @ df[d:]) for d in range(h + 1)]) + (float(fixed @ df) - pv_cost)


def switching_values(case: BusinessCase | CaseMatrices, scenario: str = "baseline", view: str = "economic", *,
                     as_of: object = None) -> pd.DataFrame:
    """How far each input can move before NPV reaches zero, solved exactly.

    Parameters
    ----------
    case : BusinessCase or CaseMatrices
    scenario, view : str
        Ignored when ``case`` is already :class:`~vmo_lib.analysis.scenarios.CaseMatrices`.
    as_of : str or date, optional
        Review quarter: solve on the **outlook** at that date (:meth:`CaseMatrices.outlook`: actuals to
        date, then the forecast, then the plan in force), moving only the flows after the review (the
        actuals are sunk). None (default): the plan ``scenario`` as approved.

    Returns
    -------
    pandas.DataFrame
        One row per driver: ``driver`` (``cost uplift``, ``benefit shortfall``, ``delay``,
        ``discount rate``), ``value`` (NaN when NPV cannot reach zero that way), ``unit``,
        ``npv_at_value`` (the NPV with the value substituted back: ≈ 0), ``note`` (a sentence).
        ``attrs["basis"]`` is :func:`basis_of` the matrices (``"outlook as of 2026Q3"``, ``"approved plan"``).

    Notes
    -----
    With ``B`` = PV of the benefits (dis-benefits excluded), ``D`` = PV of the dis-benefits (≤ 0),
    ``C`` = PV of the costs and ``NPV = B + D - C``:

    * cost uplift ``x`` with ``B + D - (1 + x) C = 0``: ``x = NPV / C`` (needs ``C > 0``; none when
      ``x <= -1``, i.e. NPV stays negative even at no cost);
    * benefit shortfall ``s`` with ``(1 - s) B + D - C = 0``: ``s = NPV / B`` (needs ``B > 0``; none
      when ``s > 1``: benefits can fall 100 % and NPV stays positive);
    * delay: NPV is exact at whole periods ``d`` (benefits and dis-benefits ``d`` periods late,
      :func:`npv_by_delay`). A fractional delay ``d + f`` means a share ``f`` of the benefits arrives
      ``d + 1`` periods late and the rest ``d`` periods late, so NPV is linear between whole periods
      and its first zero is ``d + NPV(d) / (NPV(d) - NPV(d + 1))``. None when NPV is already negative
      or stays positive with every benefit pushed past the horizon;
    * discount rate: the IRR of the net flows (:func:`vmo_lib.analysis.finance.irr_report`), annualised,
      flagged when the flows have several IRRs.

    A negative cost uplift or benefit shortfall means NPV is negative now: costs must fall (or
    benefits rise) by that much for NPV to reach zero.

    On an outlook ``NPV`` is the expected NPV (discounted to period 0, actuals included) while ``B``
    and ``C`` count only the periods after the review: ``x`` is how far the *remaining* costs may
    rise. When the expected NPV is already negative the notes say so and give the move the other way
    (how much future costs must fall, future benefits must rise).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"horizon": 3, "discount_rate": 0}, costs=[{"line_id": "C", "name": "c", "amounts": [10]}],
    ...                  benefits=[{"line_id": "B", "name": "b", "amounts": [0, 8, 8]}])
    >>> switching_values(case).set_index("driver")["value"].round(4).tolist()
    [0.6, 0.375, 0.75, 2.6246]

    With the 10 spent as 20 by the end of the first quarter, the outlook is 16 - 20 = -4: future
    benefits must rise 4/16 = 25 %.

    >>> late = make_case({"horizon": 3, "discount_rate": 0}, costs=[{"line_id": "C", "name": "c", "amounts": [10]}],
    ...                  benefits=[{"line_id": "B", "name": "b", "amounts": [0, 8, 8]}],
    ...                  actuals=[{"period": "2026Q1", "line_id": "C", "amount": 20}])
    >>> sv = switching_values(late, as_of="2026Q1").set_index("driver")
    >>> float(sv.loc["benefit shortfall", "value"]), sv.loc["benefit shortfall", "note"]
    (-0.25, 'The expected NPV is already negative: future benefits must rise 25.0% for it to reach zero.')
    """
    m = _matrices(case, scenario, view, as_of)
    outlook = m.as_of is not None
    p = m.profiles()
    df = m.discount_factors
    pv_c = float(m.split(p[0] + p[1])[1] @ df)
    pv_b = float(m.split(p[2])[1] @ df)
    npv = m.npv()
    subject, costs_w, benefits_w = (("the expected NPV", "future costs", "future benefits") if outlook
                                    else ("NPV", "costs", "benefits"))
    already = "The expected NPV is already negative: "
    rows = []

    # cost uplift
    if pv_c > 0 and npv / pv_c > -1.0:
        x = npv / pv_c
        if x >= 0:
            note = f"{costs_w.capitalize()} can rise {x:.1%} before {subject} falls to zero."
        elif outlook:
            note = f"{already}future costs must fall {-x:.1%} for it to reach zero."
        else:
            note = f"Costs must fall {-x:.1%} for NPV to reach zero."
        rows.append(("cost uplift", x, "share of costs", what_if_npv(m, WhatIf(cost_overrun=x)), note))
    else:
        why = (f"no {costs_w} remain" if outlook else "there are no costs") if pv_c <= 0 \
            else f"{subject} stays negative even with no {costs_w[:-1]} at all"
        rows.append(("cost uplift", math.nan, "share of costs", math.nan, f"None: {why}."))

    # benefit shortfall
    if pv_b > 0 and npv / pv_b <= 1.0:
        s = npv / pv_b
        if s >= 0:
            note = f"{benefits_w.capitalize()} can fall {s:.1%} before {subject} falls to zero."
        elif outlook:
            note = f"{already}future benefits must rise {-s:.1%} for it to reach zero."
        else:
            note = f"Benefits must rise {-s:.1%} for NPV to reach zero."
        rows.append(("benefit shortfall", s, "share of benefits",
                     what_if_npv(m, WhatIf(benefit_realisation=1.0 - s)), note))
    else:
        why = ((f"no {benefits_w} remain" if outlook else "there are no benefits") if pv_b <= 0
               else f"{benefits_w} can fall 100% and {subject} stays positive")
        rows.append(("benefit shortfall", math.nan, "share of benefits", math.nan, f"None: {why}."))

    # delay
    by_delay = npv_by_delay(m)
    k = m.periods_per_year
    if by_delay[0] <= 0:
        why = ("the expected NPV is already negative; a delay only lowers it further" if outlook
               else "NPV is not positive without delay")
        rows.append(("delay", math.nan, "periods", math.nan, f"None: {why}."))
    else:
        below = np.flatnonzero(by_delay <= 0)
        if not below.size:
            rows.append(("delay", math.nan, "periods", math.nan,
                         f"None: {subject} stays positive even with every {benefits_w[:-1]} pushed past the horizon."))
        else:
            d1 = int(below[0])
            a, b = by_delay[d1 - 1], by_delay[d1]
            f = a / (a - b)
            delta = d1 - 1 + f
            at = (1.0 - f) * a + f * b
            rows.append(("delay", delta, "periods", at,
                         f"{benefits_w.capitalize()} can arrive {delta:.2f} periods ({delta / k:.2f} years) late "
                         f"before {subject} falls to zero."))

    # discount rate
    net = p[2] + p[3] - p[0] - p[1]
    rep = finance.irr_report(net)
    if math.isnan(rep.irr):
        rows.append(("discount rate", math.nan, "annual rate", math.nan, f"None: {rep.message}"))
    else:
        r = (1.0 + rep.irr) ** k - 1.0
        note = (f"The expected NPV (actuals to date and outlook) is zero at a discount rate of {r:.2%} a year."
                if outlook else f"NPV is zero at a discount rate of {r:.2%} a year (the IRR).")
        if rep.ambiguous:
            note += f" The flows have {len(rep.roots)} IRRs: this is the one from a 10% guess; use MIRR."
        rows.append(("discount rate", r, "annual rate", what_if_npv(m, WhatIf(discount_rate=r)), note))
    out = pd.DataFrame(rows, columns=["driver", "value", "unit", "npv_at_value", "note"])
    out.attrs["basis"] = basis_of(m)
    return out


# --------------------------------------------------------------------------------------------------
# tornado
# --------------------------------------------------------------------------------------------------
def tornado(
    case: BusinessCase,
    scenario: str = "baseline",
    view: str = "economic",
    *,
    rate_change: float = 0.02,
    benefit_realisation: tuple[float, float] = (0.8, 1.2),
    cost_overrun: tuple[float, float] = (-0.2, 0.2),
    delay_periods: int | None = None,
    as_of: object = None,
) -> pd.DataFrame:
    """One-way sensitivity of NPV to every line group and global driver, largest swing first.

    Parameters
    ----------
    case : BusinessCase
    scenario, view : str
    rate_change : float, default 0.02
        Discount rate tested at the case's annual rate ± this (flat rates; a Green Book case uses
        3.5 % as its central rate).
    benefit_realisation : (float, float), default (0.8, 1.2)
        Low and high share of benefits realised (dis-benefits unchanged).
    cost_overrun : (float, float), default (-0.2, 0.2)
        Low and high cost overrun.
    delay_periods : int, optional
        Delay tested against none; default the optimism-bias delay of the case, or one year when
        that is zero.
    as_of : str or date, optional
        Review quarter: the sensitivity of the **expected NPV** at that date (:meth:`CaseMatrices.outlook`):
        line groups move to their low / high estimates and the global drivers apply only to the flows
        after the review; actuals to date are fixed. The ranges are those of the plan in force, scaling
        each line's remaining expected flows. None (default): the plan ``scenario`` as approved.

    Returns
    -------
    pandas.DataFrame
        Columns ``driver``, ``kind`` (``cost category``, ``benefit type``, ``risk driver``,
        ``global``), ``low``, ``high`` (what was set), ``npv_low``, ``npv_high``, ``swing``
        (``|npv_high - npv_low|``), ``base_npv`` and, for line groups, ``switching_change``: the
        relative change of the group's amounts at which NPV is zero (``+0.4`` = 40 % more; NaN when
        impossible). Line groups move all their lines to their ``low`` and ``high`` estimates
        (others stay likely); a group without ranges has no swing. ``attrs["basis"]`` is
        :func:`basis_of` the figures.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"horizon": 3, "discount_rate": 0},
    ...     costs=[{"line_id": "C1", "name": "x", "amounts": [100], "low": 90, "likely": 100, "high": 150}],
    ...     benefits=[{"line_id": "B1", "name": "y", "amounts": [0, 200], "low": 180, "likely": 200, "high": 210}])
    >>> t = tornado(case, delay_periods=1)
    >>> t[["driver", "npv_low", "npv_high"]].round(1).head(3).values.tolist()
    [['benefit realisation', 60.0, 140.0], ['capex', 110.0, 50.0], ['cost overrun', 120.0, 80.0]]
    """
    m = _matrices(case, scenario, view, as_of)
    f = _factors(case, m)
    pv_c, pv_b = _future_line_pv(m)
    signed = pd.Series(np.concatenate([-pv_c, pv_b]), index=list(m.cost_ids) + list(m.benefit_ids))
    base = m.npv()
    lines = case.lines.drop_duplicates("line_id").set_index("line_id").reindex(signed.index)
    groups: list[tuple[str, str, np.ndarray]] = []
    is_cost = (f["kind"] == "cost").to_numpy()
    for cat in ("capex", "opex"):
        mask = is_cost & (lines["category"] == cat).to_numpy()
        if mask.any():
            groups.append((cat, "cost category", mask))
    btypes = lines["benefit_type"].to_numpy()
    for bt in pd.unique(btypes[~is_cost]):
        groups.append((str(bt), "benefit type", ~is_cost & (btypes == bt)))
    drivers = f["driver"].to_numpy()
    for d in sorted({x for x in drivers if x is not None}):
        groups.append((d, "risk driver", drivers == d))

    rows = []
    s = signed.to_numpy()
    for name, kind, mask in groups:
        lo = base + float(((f["low"].to_numpy() - 1.0) * s)[mask].sum())
        hi = base + float(((f["high"].to_numpy() - 1.0) * s)[mask].sum())
        p_g = float(s[mask].sum())
        change = -base / p_g if p_g != 0 else math.nan
        if change <= -1.0:
            change = math.nan
        rows.append((name, kind, "low estimates", "high estimates", lo, hi, change))

    rate = appraisal.annual_rate_of(case)
    k = m.periods_per_year
    delay = delay_periods if delay_periods is not None else (m.optimism.delay_periods or k)
    bl, bh = benefit_realisation
    cl, ch = cost_overrun
    glob = [
        ("discount rate", f"{rate - rate_change:.2%}", f"{rate + rate_change:.2%}",
         WhatIf(discount_rate=rate - rate_change), WhatIf(discount_rate=rate + rate_change)),
        ("delay", "none", f"{delay} period{'s' if delay != 1 else ''} late", WhatIf(), WhatIf(delay_periods=delay)),
        ("benefit realisation", f"{bl:.0%}", f"{bh:.0%}", WhatIf(benefit_realisation=bl), WhatIf(benefit_realisation=bh)),
        ("cost overrun", f"{cl:+.0%}", f"{ch:+.0%}", WhatIf(cost_overrun=cl), WhatIf(cost_overrun=ch)),
    ]
    for name, l_lab, h_lab, wl, wh in glob:
        rows.append((name, "global", l_lab, h_lab, what_if_npv(m, wl), what_if_npv(m, wh), math.nan))
    out = pd.DataFrame(rows, columns=["driver", "kind", "low", "high", "npv_low", "npv_high", "switching_change"])
    out["swing"] = (out["npv_high"] - out["npv_low"]).abs()
    out["base_npv"] = base
    # equal swings (to a millionth of the currency unit) are ordered by name, not by rounding noise
    out["_key"] = out["swing"].round(6)
    out = out.sort_values(["_key", "driver"], ascending=[False, True], kind="stable").reset_index(drop=True)
    out = out[["driver", "kind", "low", "high", "npv_low", "npv_high", "swing", "base_npv", "switching_change"]]
    out.attrs["basis"] = basis_of(m)
    return out


def three_point_npv(case: BusinessCase, scenario: str = "baseline", view: str = "economic", *,
                    as_of: object = None) -> dict[str, float]:
    """NPV with every line at its pessimistic, likely and optimistic estimate.

    Parameters
    ----------
    case : BusinessCase
    scenario, view : str
    as_of : str or date, optional
        Review quarter: scale only the expected flows after the review (:meth:`CaseMatrices.outlook`);
        ``likely`` is then the expected NPV. None: the plan ``scenario`` (the NPVs of
        :func:`~vmo_lib.analysis.scenarios.three_point_scenarios`).

    Returns
    -------
    dict
        ``{"pessimistic": ..., "likely": ..., "optimistic": ...}``.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"horizon": 2, "discount_rate": 0},
    ...     costs=[{"line_id": "C1", "name": "x", "amounts": [100], "low": 90, "likely": 100, "high": 130}],
    ...     benefits=[{"line_id": "B1", "name": "y", "amounts": [0, 150], "low": 100, "likely": 150, "high": 160}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 120}])
    >>> {k: round(v, 9) for k, v in three_point_npv(case).items()}
    {'pessimistic': -30.0, 'likely': 50.0, 'optimistic': 70.0}
    >>> {k: round(v, 9) for k, v in three_point_npv(case, as_of="2026Q1").items()}   # the 120 spent is fixed
    {'pessimistic': -20.0, 'likely': 30.0, 'optimistic': 40.0}
    """
    m = _matrices(case, scenario, view, as_of)
    f = _factors(case, m)
    pv_c, pv_b = _future_line_pv(m)
    signed = np.concatenate([-pv_c, pv_b])
    base = m.npv()
    return {"pessimistic": base + float(((f["pessimistic"].to_numpy() - 1.0) * signed).sum()), "likely": base,
            "optimistic": base + float(((f["optimistic"].to_numpy() - 1.0) * signed).sum())}


# --------------------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonteCarloResult:
    """The NPV of every Monte Carlo iteration and its summary.

    Attributes
    ----------
    npv : ndarray
        NPV of each iteration (float64), in drawing order.
    deterministic_npv : float
        NPV of the scenario with every line at its likely value, no overrun, no delay (on an
        outlook: the expected NPV).
    case_id, scenario, view : str
        ``scenario`` is ``"expected"`` on an outlook.
    seed : int
    settings : dict
        What was drawn (rho, overrun, delay), for the record.
    basis : str
        What was simulated, as outputs label it: ``"outlook as of 2026Q3"`` or ``"approved plan"``
        (:func:`basis_of`).
    as_of : str or None
        Review quarter of an outlook.
    reference_npv : float
        The NPV the case promised: the approved NPV in force (NaN when unknown).
    """

    npv: np.ndarray = field(repr=False)
    deterministic_npv: float
    case_id: str
    scenario: str
    view: str
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)
    basis: str = "approved plan"
    as_of: str | None = None
    reference_npv: float = math.nan

    @property
    def iterations(self) -> int:
        return int(self.npv.shape[0])

    def percentile(self, q: float) -> float:
        """NPV percentile (``q`` in 0-100, linear interpolation as :func:`numpy.percentile`)."""
        return float(np.percentile(self.npv, q))

    @property
    def p10(self) -> float:
        return self.percentile(10)

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p90(self) -> float:
        return self.percentile(90)

    @property
    def mean(self) -> float:
        return float(self.npv.mean())

    @property
    def std(self) -> float:
        return float(self.npv.std(ddof=1)) if self.iterations > 1 else 0.0

    @property
    def prob_negative(self) -> float:
        """Share of iterations with NPV < 0."""
        return float(np.mean(self.npv < 0))

    @property
    def prob_below_zero(self) -> float:
        """Chance the NPV ends below zero (on an outlook: the expected NPV); = :attr:`prob_negative`."""
        return self.prob_negative

    @property
    def prob_reach_approved(self) -> float:
        """Chance the NPV gets back to (or beats) :attr:`reference_npv`, the approved NPV; NaN without one."""
        if math.isnan(self.reference_npv):
            return math.nan
        return float(np.mean(self.npv >= self.reference_npv))

    @property
    def expected_shortfall(self) -> float:
        """Mean NPV of the worst decile: the ``ceil(n / 10)`` lowest iterations."""
        k = max(1, math.ceil(self.iterations / 10))
        return float(np.partition(self.npv, k - 1)[:k].mean())

    def summary(self) -> dict[str, Any]:
        """The headline figures under stable keys (the ``monte_carlo`` object of ``vmo risk --json``).

        ``basis`` and ``as_of`` say what was simulated; ``prob_below_zero`` (= ``prob_negative``) is the
        chance the NPV ends below zero, ``prob_reach_approved`` the chance it reaches ``reference_npv``.
        """
        return {
            "basis": self.basis, "as_of": self.as_of,
            "iterations": self.iterations, "seed": self.seed, "deterministic_npv": self.deterministic_npv,
            "mean": self.mean, "std": self.std, "p10": self.p10, "p50": self.p50, "p90": self.p90,
            "prob_negative": self.prob_negative, "prob_below_zero": self.prob_below_zero,
            "reference_npv": self.reference_npv, "prob_reach_approved": self.prob_reach_approved,
            "expected_shortfall_worst_decile": self.expected_shortfall,
        }


def _tri_ppf(u: np.ndarray, a: np.ndarray, b: np.ndarray, *, c_left: np.ndarray | None = None,
             c_right: np.ndarray | None = None, left: np.ndarray | None = None,
             mask: np.ndarray | None = None, below: np.ndarray | None = None) -> np.ndarray:
    """Quantile of triangular(a, mode 1, b) per column (u is overwritten and returned).

    ``c_left`` = ``(b - a) * (1 - a)`` and ``c_right`` = ``(b - a) * (b - 1)`` may be passed precomputed;
    ``left`` (float64), ``mask`` (int64) and ``below`` (bool), arrays of ``u``'s shape, are work space
    reused across chunks (a fresh array of a chunk's size is page-faulted in on every allocation, which
    was measured to cost more than the arithmetic). Every element is the same number either way.
    """
    if c_left is None:
        c_left = (b - a) * (1.0 - a)
    if c_right is None:
        c_right = (b - a) * (b - 1.0)
    left = np.multiply(u, c_left, out=left)
    np.sqrt(left, out=left)
    left += a
    np.subtract(1.0, u, out=u)
    u *= c_right
    np.sqrt(u, out=u)
    np.subtract(b, u, out=u)
    # the left branch holds where u < F(mode), i.e. exactly where it is below the mode 1. The choice is
    # made on the bits (u ^ ((left ^ u) & mask)): the same numbers as np.where, which branches on a
    # random mask and was measured ~4x slower than these integer passes.
    below = np.less(left, 1.0, out=below)
    if mask is None:
        mask = below.astype(np.int64)
    else:
        np.copyto(mask, below)
    np.negative(mask, out=mask)                 # all ones where left holds, zeros elsewhere
    lb, ub = left.view(np.int64), u.view(np.int64)
    lb ^= ub
    lb &= mask
    ub ^= lb
    return u


@lru_cache(maxsize=512)
def _pert_table(lo: float, hi: float) -> np.ndarray:
    """PERT(lo, 1, hi) quantile at Phi(z) on a uniform grid of z in [-Z_MAX, Z_MAX]."""
    alpha = 1.0 + 4.0 * (1.0 - lo) / (hi - lo)
    beta = 1.0 + 4.0 * (hi - 1.0) / (hi - lo)
    z = np.linspace(-_Z_MAX, _Z_MAX, _PERT_GRID)
    return lo + (hi - lo) * special.betaincinv(alpha, beta, special.ndtr(z))


def _pert_from_z(z: np.ndarray, flat: np.ndarray, slope: np.ndarray, grid: int) -> np.ndarray:
    """Interpolate each column's quantile table at z (columns = lines; tables flattened row-wise)."""
    scale = (grid - 1) / (2.0 * _Z_MAX)
    pos = np.clip(z, -_Z_MAX, _Z_MAX)
    pos += _Z_MAX
    pos *= scale
    i = np.minimum(pos.astype(np.intp), grid - 2)
    pos -= i
    i += (np.arange(z.shape[1]) * grid)[None, :]
    out = flat[i]
    out += pos * slope[i]
    return out


def _delay_distribution(delay: Any, m: CaseMatrices) -> tuple[np.ndarray, np.ndarray]:
    if delay is None:
        return np.array([0]), np.array([1.0])
    if isinstance(delay, str):
        if delay != "optimism-bias":
            raise ValueError(f"delay must be None, 'optimism-bias' or a mapping {{periods: probability}}, not {delay!r}")
        d = m.optimism.delay_periods
        return np.arange(d + 1), np.full(d + 1, 1.0 / (d + 1))
    if not isinstance(delay, Mapping) or not delay:
        raise ValueError("delay must be a non-empty mapping {periods: probability}")
    items = sorted((int(k), float(v)) for k, v in delay.items())
    ds = np.array([k for k, _ in items])
    ps = np.array([v for _, v in items])
    if (ds < 0).any() or (ps < 0).any() or not math.isclose(ps.sum(), 1.0, abs_tol=1e-9):
        raise ValueError(f"delay probabilities must be ≥ 0 over delays ≥ 0 and sum to 1, got {delay!r}")
    return ds, ps


def monte_carlo(
    case: BusinessCase,
    iterations: int = 100_000,
    seed: int = 0,
    scenario: str = "baseline",
    view: str = "economic",
    *,
    rho: float | Mapping[str, float] = 0.8,
    cost_overrun: OverrunDistribution | str | None = None,
    delay: Mapping[int, float] | str | None = None,
    chunk_size: int = CHUNK_ITERATIONS,
    as_of: object = None,
    reference_npv: float | None = None,
) -> MonteCarloResult:
    """Monte Carlo of the NPV from the lines' three-point estimates, on the plan or on the outlook.

    Parameters
    ----------
    case : BusinessCase
    iterations : int, default 100,000
    seed : int, default 0
        The same seed gives the same NPVs bit for bit, whatever ``chunk_size``.
    scenario, view : str
        Scenario whose period profiles are scaled; which benefits count.
    rho : float or mapping, default 0.8
        Correlation (Gaussian copula) between lines that share a ``driver``; a mapping gives one per
        driver (missing drivers 0.8). Lines with different or no drivers are independent. ``1`` makes
        a driver's lines draw identical quantiles.
    cost_overrun : distribution, "reference-class" or None
        A reference-class overrun ``X`` (:mod:`vmo_lib.portfolio.reference_class`) drawn once per iteration;
        every cost is multiplied by ``1 + X``. ``"reference-class"`` =
        :func:`~vmo_lib.portfolio.reference_class.flyvbjerg_it_overrun`. Off by default: the three-point
        ranges may already include it.
    delay : mapping, "optimism-bias" or None
        Benefit delay in whole periods drawn once per iteration: ``{0: 0.5, 2: 0.3, 4: 0.2}``, or
        ``"optimism-bias"`` = uniform over 0 .. the case's optimism-bias delay. None = no delay.
    chunk_size : int, default :data:`CHUNK_ITERATIONS`
        Iterations drawn at a time (memory ~ ``chunk_size x lines x 8`` bytes per temporary).
    as_of : str or date, optional
        Review quarter: simulate the **expected outlook** at that date (:meth:`CaseMatrices.outlook`:
        actuals to date, then the forecast, then the plan in force) with the actuals to date fixed.
        The ranges, the overrun and the delay then act only on the flows after the review period.
        ``scenario`` must stay ``"baseline"`` (the outlook follows the plan in force). None (default):
        the plan ``scenario`` as approved.
    reference_npv : float, optional
        NPV to get back to (:attr:`MonteCarloResult.prob_reach_approved`); default the approved NPV in
        force (``npv_of(case, case.current_baseline, view)``).

    Returns
    -------
    MonteCarloResult

    Notes
    -----
    Each line's *level* (its multiplier, the estimate over likely) is drawn once per iteration from
    triangular(low, likely, high) or PERT (beta with ``alpha = 1 + 4 (m - a) / (b - a)``, mean
    ``(a + 4m + b) / 6``); a line with no range is fixed. A line's PV is precomputed (and the
    benefits' PV under each delay), so iteration ``i`` costs a dot product:
    ``NPV_i = F_b,i . PVb(d_i) - (1 + X_i) F_c,i . PVc``.

    Correlation: a line of driver ``g`` uses ``Z = sqrt(rho) Z_g + sqrt(1 - rho) e`` (standard
    normals), mapped to its distribution by ``Phi``; independent triangular lines are drawn from
    uniforms directly. PERT quantiles are read from a 1,025-point table of ``F^-1(Phi(z))`` over
    ``|z| <= 8.5`` (linear interpolation; error below 1e-4 of the range).

    Outlook: with ``tau`` the review period's offset, ``NPV_i = S + F_b,i . PVb_future(d_i) -
    (1 + X_i) F_c,i . PVc_future`` where ``S`` is the PV of the actuals (and any estimate) up to
    ``tau``, fixed, and the ``PV*_future`` count only periods after ``tau`` (a delay moves only those;
    amounts pushed past the horizon are lost). A line's three-point factor (its estimate over likely,
    from the plan in force) scales its remaining expected flows. A case with nothing left after the
    review has no spread.

    Reproducibility: ``SeedSequence(seed)`` spawns one PCG64 stream per kind of draw (uniforms,
    normals, driver factors, overrun, delay); each stream is consumed in iteration order, so chunks
    of any size concatenate to the same numbers, and the first ``n`` iterations of a longer run equal
    a run of ``n``.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"horizon": 1, "discount_rate": 0},
    ...     benefits=[{"line_id": "B1", "name": "b", "amounts": [100], "low": 50, "likely": 100, "high": 150,
    ...                "distribution": "pert"}])
    >>> r = monte_carlo(case, iterations=20_000, seed=3)
    >>> round(r.mean), round(r.p50)
    (100, 100)
    """
    if int(iterations) != iterations or iterations < 1:
        raise ValueError(f"iterations must be a whole number ≥ 1, not {iterations!r}")
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a whole number ≥ 1, not {chunk_size!r}")
    prep = _mc_prepare(case, scenario, view, as_of, rho, cost_overrun, delay, reference_npv)
    (out,) = _mc_simulate([prep], int(iterations), seed, int(chunk_size))
    return _mc_result(case, prep, out, seed, view)


def monte_carlo_runs(case: BusinessCase, runs: list[Mapping[str, Any]], iterations: int = 100_000, seed: int = 0,
                     view: str = "economic", *, rho: float | Mapping[str, float] = 0.8,
                     cost_overrun: OverrunDistribution | str | None = None,
                     delay: Mapping[int, float] | str | None = None,
                     chunk_size: int = CHUNK_ITERATIONS) -> list[MonteCarloResult]:
    """Several :func:`monte_carlo` runs of one case with the same seed, drawn together.

    Parameters
    ----------
    case : BusinessCase
    runs : list of mapping
        One per run: the keywords ``scenario``, ``as_of`` and ``reference_npv`` of :func:`monte_carlo`.
    iterations, seed, view, rho, cost_overrun, delay, chunk_size
        As :func:`monte_carlo`, the same for every run.

    Returns
    -------
    list of MonteCarloResult
        In the order of ``runs``; each equal, bit for bit, to ``monte_carlo(case, ..., **run)``.

    Notes
    -----
    Runs whose lines draw from the same distributions (the same lines, ranges, drivers and delay:
    an outlook and the plan in force it follows) share the drawn levels, which are the same numbers
    with the same seed; only each run's weights (its lines' PVs) differ. A review's two simulations
    then cost little more than one.
    """
    if int(iterations) != iterations or iterations < 1:
        raise ValueError(f"iterations must be a whole number ≥ 1, not {iterations!r}")
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a whole number ≥ 1, not {chunk_size!r}")
    preps = [_mc_prepare(case, r.get("scenario", "baseline"), view, r.get("as_of"), rho, cost_overrun, delay,
                         r.get("reference_npv")) for r in runs]
    groups: list[list[int]] = []
    for i, p in enumerate(preps):
        for g in groups:
            if _same_draws(preps[g[0]], p):
                g.append(i)
                break
        else:
            groups.append([i])
    outs: list[Any] = [None] * len(preps)
    for g in groups:
        for i, out in zip(g, _mc_simulate([preps[i] for i in g], int(iterations), seed, int(chunk_size)), strict=True):
            outs[i] = out
    return [_mc_result(case, p, out, seed, view) for p, out in zip(preps, outs, strict=True)]


@dataclass
class _Prepared:
    """One Monte Carlo run made ready: what is drawn (shared by runs with the same draws) and its weights."""

    m: CaseMatrices
    settings_rho: Any
    cost_overrun: Any
    ds: np.ndarray
    ps: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    stoch: np.ndarray
    is_pert: np.ndarray
    rhos: np.ndarray
    line_driver: list
    n_c: int
    pv_line_c: np.ndarray
    pv_line_b: np.ndarray
    sunk: float
    reference_npv: float


def _same_draws(a: _Prepared, b: _Prepared) -> bool:
    """True when two runs draw the same levels from the same seed (their weights may differ)."""
    return (a.cost_overrun is b.cost_overrun and a.n_c == b.n_c and a.line_driver == b.line_driver
            and all(np.array_equal(x, y) for x, y in ((a.ds, b.ds), (a.ps, b.ps), (a.lo, b.lo), (a.hi, b.hi),
                                                       (a.stoch, b.stoch), (a.is_pert, b.is_pert),
                                                       (a.rhos, b.rhos))))


def _mc_prepare(case: BusinessCase, scenario: str, view: str, as_of: object, rho: Any, cost_overrun: Any,
                delay: Any, reference_npv: float | None) -> _Prepared:
    m = _matrices(case, scenario, view, as_of)
    f = _factors(case, m)
    df = m.discount_factors
    ds, ps = _delay_distribution(delay, m)
    n_c = len(m.cost_ids)
    # the fixed periods (actuals to date; none on a plan) as one constant, the rest per line
    fixed_c, future_c = m.split(m.costs)
    fixed_b, future_b = m.split(m.benefits)
    sunk = float(fixed_b.sum(axis=0) @ df - fixed_c.sum(axis=0) @ df) if m.fixed_through >= 0 else 0.0
    # PV of every line's future (zero for the other kind): costs, and benefits under each possible delay
    pv_line_c = np.concatenate([future_c @ df, np.zeros(len(m.benefit_ids))])
    pv_line_b = np.concatenate([np.zeros((len(ds), n_c)),
                                np.stack([shift_right(future_b, int(d)) @ df for d in ds])], axis=1)
    if reference_npv is None:
        ref_case = case if as_of is None else outlook.known_at(case, as_of)
        reference_npv = appraisal.npv_of(ref_case, ref_case.current_baseline, view)

    if isinstance(cost_overrun, str):
        if cost_overrun != "reference-class":
            raise ValueError(f"cost_overrun must be a distribution, 'reference-class' or None, not {cost_overrun!r}")
        cost_overrun = _reference_class_overrun()

    def rho_of(d: str | None) -> float:
        if d is None:
            return 0.0
        r = float(rho.get(d, 0.8)) if isinstance(rho, Mapping) else float(rho)
        if not 0.0 <= r <= 1.0:
            raise ValueError(f"rho for driver {d!r} must be between 0 and 1, got {r}")
        return r

    line_driver = list(f["driver"])
    return _Prepared(
        m=m, settings_rho=dict(rho) if isinstance(rho, Mapping) else float(rho), cost_overrun=cost_overrun,
        ds=ds, ps=ps, lo=f["lo"].to_numpy(), hi=f["hi"].to_numpy(), stoch=f["stochastic"].to_numpy(),
        is_pert=np.array([d == "pert" for d in f["distribution"].tolist()], dtype=bool), rhos=np.array([rho_of(d) for d in line_driver]),
        line_driver=line_driver, n_c=n_c, pv_line_c=pv_line_c, pv_line_b=pv_line_b, sunk=sunk,
        reference_npv=float(reference_npv))


@lru_cache(maxsize=1)
def _reference_class_overrun() -> OverrunDistribution:
    """:func:`flyvbjerg_it_overrun`, built once (runs drawn together share the same object)."""
    return flyvbjerg_it_overrun()


def _mc_simulate(preps: list[_Prepared], iterations: int, seed: int, chunk_size: int) -> list[np.ndarray]:
    """The NPV of every iteration of each run in ``preps`` (runs with the same draws, :func:`_same_draws`)."""
    d = preps[0]
    lo, hi, stoch, is_pert, rhos, line_driver = d.lo, d.hi, d.stoch, d.is_pert, d.rhos, d.line_driver
    ds, ps, n_c, cost_overrun = d.ds, d.ps, d.n_c, d.cost_overrun
    # three ways to draw a level; each block lists costs first (line order is costs then benefits)
    idx_u = np.flatnonzero(stoch & ~is_pert & (rhos == 0))                 # uniforms, closed form
    idx_zt = np.flatnonzero(stoch & ~is_pert & (rhos > 0))                 # copula, triangular
    idx_zp = np.flatnonzero(stoch & is_pert)                               # normals, PERT table
    idx_z = np.concatenate([idx_zt, idx_zp])
    drivers = sorted({d for d, r in zip(line_driver, rhos, strict=True) if d is not None and r > 0})
    g_of = np.array([drivers.index(line_driver[i]) if rhos[i] > 0 else 0 for i in idx_z], dtype=np.intp)
    a_z, s_z = np.sqrt(rhos[idx_z]), np.sqrt(1.0 - rhos[idx_z])
    tables = (np.stack([_pert_table(float(lo[i]), float(hi[i])) for i in idx_zp])
              if idx_zp.size else np.zeros((0, _PERT_GRID)))
    table_flat = tables.ravel()
    table_slope = np.diff(tables, axis=1, append=tables[:, -1:]).ravel()
    fixed = np.flatnonzero(~stoch)
    consts = [(float(p.pv_line_c[fixed].sum()), p.pv_line_b[:, fixed].sum(axis=1)) for p in preps]  # per delay
    cum = np.cumsum(ps)
    cum[-1] = 1.0
    blocks = [(idx_u, "u"), (idx_zt, "zt"), (idx_zp, "zp")]
    n_cost = {name: int((idx < n_c).sum()) for idx, name in blocks}

    children = np.random.SeedSequence(seed).spawn(5)
    rng_u, rng_z, rng_g, rng_o, rng_d = (np.random.Generator(np.random.PCG64(c)) for c in children)
    outs = [np.empty(iterations) for _ in preps]
    n_t = idx_zt.size
    # work space reused by every chunk (see _tri_ppf); a chunk's arrays are views of its first n rows
    m = min(chunk_size, iterations)
    tri = {name: (lo[idx], hi[idx], (hi[idx] - lo[idx]) * (1.0 - lo[idx]), (hi[idx] - lo[idx]) * (hi[idx] - 1.0))
           for idx, name in ((idx_u, "u"), (idx_zt, "zt"))}
    work = {name: (np.empty((m, idx.size)), np.empty((m, idx.size)), np.empty((m, idx.size), dtype=np.int64),
                   np.empty((m, idx.size), dtype=bool)) for idx, name in ((idx_u, "u"), (idx_zt, "zt")) if idx.size}
    prods = {name: (np.empty((m, n_cost[name])), np.empty((m, idx.size - n_cost[name])))
             for idx, name in blocks if idx.size}
    row_sum = np.empty(m)
    weights_c = [{name: p.pv_line_c[idx[:n_cost[name]]] for idx, name in blocks} for p in preps]
    weights_b = [{name: (p.pv_line_b[0, idx[n_cost[name]:]], p.pv_line_b[:, idx[n_cost[name]:]])
                  for idx, name in blocks} for p in preps]
    for start in range(0, iterations, chunk_size):
        n = min(chunk_size, iterations - start)
        k = np.minimum(np.searchsorted(cum, rng_d.random(n), side="right"), len(ds) - 1) if len(ds) > 1 else None
        parts = [(np.full(n, const_c), np.full(n, const_b[0]) if k is None else const_b[k])
                 for const_c, const_b in consts]
        z = None
        if idx_z.size:
            z = rng_z.standard_normal((n, idx_z.size))
            if drivers:
                zg = rng_g.standard_normal((n, len(drivers)))
                z *= s_z
                z += a_z * zg[:, g_of]
        for idx, name in blocks:
            if not idx.size:
                continue
            if name == "u":
                u_buf, left, mask, below = (w[:n] for w in work[name])
                level = _tri_ppf(rng_u.random(out=u_buf), *tri[name][:2], c_left=tri[name][2],
                                 c_right=tri[name][3], left=left, mask=mask, below=below)
            elif name == "zt":
                u_buf, left, mask, below = (w[:n] for w in work[name])
                level = _tri_ppf(special.ndtr(z[:, :n_t], out=u_buf), *tri[name][:2], c_left=tri[name][2],
                                 c_right=tri[name][3], left=left, mask=mask, below=below)
            else:
                level = _pert_from_z(z[:, n_t:], table_flat, table_slope, _PERT_GRID)
            # row sums (not BLAS products) so every iteration's value is independent of the chunk
            nc = n_cost[name]
            prod_c, prod_b = (w[:n] for w in prods[name])
            rows = row_sum[:n]
            for j, (cost_part, ben_part) in enumerate(parts):
                if nc:
                    np.multiply(level[:, :nc], weights_c[j][name], out=prod_c)
                    cost_part += prod_c.sum(axis=1, out=rows)
                if nc < idx.size:
                    w0, w_all = weights_b[j][name]
                    np.multiply(level[:, nc:], w0 if k is None else w_all[k], out=prod_b)
                    ben_part += prod_b.sum(axis=1, out=rows)
        if cost_overrun is not None:
            x = 1.0 + np.asarray(cost_overrun.sample(rng_o, n), dtype=np.float64)
            for cost_part, _ in parts:
                cost_part *= x
        for out, (cost_part, ben_part) in zip(outs, parts, strict=True):
            np.subtract(ben_part, cost_part, out=out[start:start + n])
    for p, out in zip(preps, outs, strict=True):
        if p.m.fixed_through >= 0:
            out += p.sunk
    return outs


def _mc_result(case: BusinessCase, p: _Prepared, out: np.ndarray, seed: int, view: str) -> MonteCarloResult:
    m = p.m
    settings = {
        "rho": p.settings_rho,
        "cost_overrun": None if p.cost_overrun is None else repr(p.cost_overrun),
        "delay": {int(d): float(q) for d, q in zip(p.ds, p.ps, strict=True)},
        "stochastic_lines": int(p.stoch.sum()), "lines": int(p.stoch.size),
        # the last period whose flows are actuals, fixed (None on a plan or before period 0)
        "fixed_through": case.periods[min(m.fixed_through, m.horizon - 1)] if m.fixed_through >= 0 else None,
    }
    return MonteCarloResult(npv=out, deterministic_npv=m.npv(), case_id=m.case_id, scenario=m.scenario,
                            view=view, seed=int(seed), settings=settings, basis=basis_of(m), as_of=m.as_of,
                            reference_npv=p.reference_npv)
