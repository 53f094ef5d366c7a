"""The value bridge: why the expected NPV differs from the promise, split into cost, benefit and timing.

Part of the benefits-realisation family (conventions in :mod:`vmo_lib.analysis.realisation`):
:func:`value_bridge` compares the expected outlook (:func:`vmo_lib.analysis.outlook.expected_case`)
with a reference baseline, line by line, and :class:`ValueBridge` holds the result, whose effects
sum exactly to the change in NPV.

Examples
--------
>>> from vmo_lib.model import make_case
>>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 2, "discount_rate": 0.0},
...               costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0]}],
...               benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 150]}],
...               actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 120}])
>>> value_bridge(c, "2026Q1").components
{'cost': -20.0, 'benefit': 0.0, 'timing': 0.0}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vmo_lib.analysis.outlook import (
    EXPECTED,
    expected_case,
    shared_discount_factors,
    shared_line_matrices,
    shared_npv,
)
from vmo_lib.model import BusinessCase

__all__ = ["ValueBridge", "value_bridge"]

_TINY = 1e-12


@dataclass
class ValueBridge:
    """How the NPV moved from a reference baseline to the expected outlook.

    ``start + cost + benefit + timing == end`` exactly (to floating-point rounding).

    Definition, per line, in two steps from the reference profile ``b`` to the expected profile
    ``e`` (``PV`` at the case's discount factors, ``B``/``E`` undiscounted totals):

    1. **Slip.** ``s`` = first period with an amount in ``e`` minus that in ``b`` (0 if either is
       empty); ``b_s`` = ``b`` moved ``s`` periods (what is pushed past the horizon is lost to the
       slip). ``slip_i = PV(b_s) - PV(b)``.
    2. **Re-phasing and amount.** With ``PV/total`` as a profile's average discount factor::

           rephasing_i = B_s * (PV(e) / E - PV(b_s) / B_s)   # b_s's amounts moved to e's timing
           amount_i    = PV(e) - PV(b_s) - rephasing_i       # = (E - B_s) * PV(e) / E

       (no re-phasing when ``B_s`` or ``E`` is 0: the whole change is amount).

    ``timing_i = slip_i + rephasing_i``, so ``amount_i + timing_i = PV(e) - PV(b)`` exactly.
    ``cost`` = minus the amount effects of cost lines (an overrun is negative), ``benefit`` = the
    amount effects of benefit lines in the view (dis-benefits included), ``timing`` = all timing
    effects signed by their effect on NPV. Hence: a pure slip (same amounts, later, even when the
    tail falls past the horizon) is timing only; an overrun or shortfall that keeps the start
    period and the shape (every period scaled alike, or a one-period line) is cost or benefit only;
    a re-phasing that keeps the total is timing only.

    Attributes
    ----------
    reference : str
        Scenario the bridge starts from (``"baseline"`` or ``"rebaseline:<v>"``).
    start, cost, benefit, timing, end : float
        Reference NPV, the three effects and the expected NPV.
    by_line : pandas.DataFrame
        ``line_id, kind, type, reference_total, expected_total, pv_reference, pv_expected,
        amount_effect, timing_effect`` (effects signed by their effect on NPV).
    """

    reference: str
    start: float
    cost: float
    benefit: float
    timing: float
    end: float
    by_line: pd.DataFrame = field(repr=False)

    @property
    def components(self) -> dict[str, float]:
        """The named effects; their values sum to ``end - start``."""
        return {"cost": self.cost, "benefit": self.benefit, "timing": self.timing}

    def to_dict(self) -> dict[str, float]:
        """Just the components (what ``bridge`` holds in :meth:`vmo_lib.analysis.realisation.CaseStatus.to_dict`)."""
        return dict(self.components)


def _first_amount(m: np.ndarray) -> np.ndarray:
    nz = np.abs(m) > _TINY
    return np.where(nz.any(axis=1), nz.argmax(axis=1), -1)


def _shift_rows(m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Each row moved ``s[i]`` periods later (earlier if negative); what leaves the horizon is lost."""
    out = np.zeros_like(m)
    h = m.shape[1]
    for i, k in enumerate(s):
        k = int(k)
        if k >= 0:
            out[i, k:] = m[i, :h - k] if k < h else 0.0
        else:
            out[i, :h + k] = m[i, -k:]
    return out


def _bridge_lines(ref: np.ndarray, exp: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (amount effect, timing effect) in PV terms, before the cost/benefit sign."""
    fb, fe = _first_amount(ref), _first_amount(exp)
    shift = np.where((fb >= 0) & (fe >= 0), fe - fb, 0)
    slipped = _shift_rows(ref, shift)
    pv_b, pv_s, pv_e = ref @ df, slipped @ df, exp @ df
    s_tot, e_tot = slipped.sum(axis=1), exp.sum(axis=1)
    scale = np.maximum(np.maximum(np.abs(slipped).sum(axis=1), np.abs(exp).sum(axis=1)), 1.0)
    ok = (np.abs(s_tot) > _TINY * scale) & (np.abs(e_tot) > _TINY * scale)
    with np.errstate(all="ignore"):
        rephasing = np.where(ok, s_tot * (pv_e / np.where(ok, e_tot, 1.0) - pv_s / np.where(ok, s_tot, 1.0)), 0.0)
    timing = (pv_s - pv_b) + rephasing
    return (pv_e - pv_b) - timing, timing


def _attribute(case: BusinessCase, column: str, ids: pd.Index) -> list:
    """``list(case.lines.set_index("line_id")[column].reindex(ids))``, looked up in a dict (the same
    elements) when the line ids are unique and hold every id, without copying the lines table."""
    lines = case.lines
    keys = lines["line_id"].tolist()
    wanted = ids.tolist()
    position = {lid: k for k, lid in enumerate(keys)}
    if len(position) != len(keys) or any(lid not in position for lid in wanted):
        return list(lines.set_index("line_id")[column].reindex(ids))
    values = list(lines[column])
    return [values[position[lid]] for lid in wanted]


def value_bridge(case: BusinessCase, as_of: object, reference: str = "baseline", view: str = "economic") -> ValueBridge:
    """Split ``expected NPV - reference NPV`` into cost, benefit and timing effects (exactly).

    Parameters
    ----------
    case : BusinessCase
    as_of : str
        Review period (defines the expected scenario, :func:`vmo_lib.analysis.outlook.expected_flows`).
    reference : str
        Scenario to start from: ``"baseline"`` (the original, default) or ``case.current_baseline``.
    view : {"economic", "cash"}

    Returns
    -------
    ValueBridge
        See its docstring for the formula.

    Examples
    --------
    A benefit of 100 a year slips one year at 10 %: same amount, later, so timing only.

    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "S", "first_period": "2026", "period_length": "year", "horizon": 3,
    ...                "discount_rate": 0.10},
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 100, 0]}],
    ...               actuals=[{"period": "2026", "line_id": "B1", "amount": 0},
    ...                        {"period": "2027", "line_id": "B1", "amount": 0}],
    ...               forecast=[{"period": "2028", "line_id": "B1", "amount": 100}])
    >>> b = value_bridge(c, "2027")
    >>> round(b.timing, 2), b.cost, round(b.benefit, 10)   # 100/1.21 - 100/1.1 = -8.26
    (-8.26, 0.0, 0.0)
    """
    ec = expected_case(case, as_of)
    df = shared_discount_factors(ec)
    rc, rb = shared_line_matrices(ec, reference, view)
    xc, xb = shared_line_matrices(ec, EXPECTED, view)
    c_amount, c_timing = _bridge_lines(rc.to_numpy(), xc.to_numpy(), df)
    b_amount, b_timing = _bridge_lines(rb.to_numpy(), xb.to_numpy(), df)
    by_line = pd.DataFrame({
        "line_id": list(rc.index) + list(rb.index),
        "kind": ["cost"] * len(rc) + ["benefit"] * len(rb),
        "type": _attribute(case, "category", rc.index) + _attribute(case, "benefit_type", rb.index),
        "reference_total": np.r_[rc.to_numpy().sum(axis=1), rb.to_numpy().sum(axis=1)],
        "expected_total": np.r_[xc.to_numpy().sum(axis=1), xb.to_numpy().sum(axis=1)],
        "pv_reference": np.r_[rc.to_numpy() @ df, rb.to_numpy() @ df],
        "pv_expected": np.r_[xc.to_numpy() @ df, xb.to_numpy() @ df],
        "amount_effect": np.r_[-c_amount, b_amount],
        "timing_effect": np.r_[-c_timing, b_timing],
    })
    return ValueBridge(
        reference=reference, start=shared_npv(ec, reference, view), cost=0.0 - float(c_amount.sum()),
        benefit=float(b_amount.sum()), timing=float(b_timing.sum() - c_timing.sum()) + 0.0,
        end=shared_npv(ec, EXPECTED, view), by_line=by_line,
    )
