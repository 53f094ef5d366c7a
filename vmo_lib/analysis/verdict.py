"""The value verdict, the RAG rules and the decision of a review.

Part of the benefits-realisation family (conventions in :mod:`vmo_lib.analysis.realisation`): the
configurable :class:`Thresholds`, the RAG colour of a performance ratio (:func:`rag`), the verdict on
value (:func:`verdict`: value created, on track, at risk, value destroyed) and the one decision rule
(:func:`decide`: stop, re-plan, recover, not started, continue, closed).

Examples
--------
>>> verdict(100, 80, 1000).label, rag(0.9)
('on track', 'amber')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from vmo_lib.formatting import format_money

__all__ = [
    "DECISIONS",
    "RAG_LABELS",
    "VERDICTS",
    "Thresholds",
    "Verdict",
    "decide",
    "rag",
    "verdict",
]

#: Decisions in order of urgency (most urgent first); :func:`decide` is the rule.
DECISIONS = ("stop", "re-plan", "recover", "not started", "continue", "closed")
#: Lifecycle statuses of a case that has ended.
_ENDED = ("closed", "cancelled")
_MANDATORY = "Regulatory/mandatory"
#: Verdicts; "not started" is a proposed case (nothing approved yet, so nothing to judge).
VERDICTS = ("value created", "on track", "at risk", "value destroyed", "not started")
RAG_LABELS = {"green": "on plan", "amber": "below plan", "red": "well below plan", "grey": "not started / no data"}
_TINY = 1e-12


# --------------------------------------------------------------------------------------------------
# thresholds and the RAG rule
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    """The configurable rules behind verdicts and RAG statuses (fractions, not percentages).

    Attributes
    ----------
    value_created : float
        Verdict "value created" when expected NPV beats the reference baseline NPV by more than this
        share of the reference PV of costs (default 5 %).
    at_risk : float
        Verdict "at risk" when expected NPV falls short of the reference by more than this share of
        PV costs (default 5 %).
    value_destroyed : float
        Verdict "value destroyed" for a case whose baseline NPV is negative by design
        (regulatory/mandatory), which has no zero line to cross: when its shortfall exceeds this
        share of PV costs (default 25 %). A case that promised a non-negative NPV is "value
        destroyed" when its expected NPV is negative: it now loses money, whatever it promised.
    value_destroyed_any : float or None
        Optional stricter rule: any case whose shortfall exceeds this share of PV costs is "value
        destroyed" even while its expected NPV stays positive. Default None (off): a case still
        expected to return more than it costs is "at risk", however far below its promise.
    green, amber : float
        RAG on performance % (100 % = on plan, higher = better): green ``>= green`` (95 %), amber
        ``>= amber`` (80 %), else red. No plan due and nothing reported = grey ("not started").
    overdue_grace : int
        Extra periods allowed beyond a benefit's measurement frequency before it is "overdue".
    kpi_tolerance : float
        A benefit's claimed money is flagged when it differs from what its KPI supports (KPI
        movement x value per unit, :mod:`vmo_lib.analysis.evidence`) by more than this share of the
        KPI-implied value (default 10 %).
    unevidenced_share : float
        The decision reason warns that the outlook rests mainly on unevidenced forecasts when more
        than this share of the future benefit value (PV) shows no evidence of progress (default 50 %).

    Examples
    --------
    >>> Thresholds(at_risk=0.10).at_risk
    0.1
    """

    value_created: float = 0.05
    at_risk: float = 0.05
    value_destroyed: float = 0.25
    value_destroyed_any: float | None = None
    green: float = 0.95
    amber: float = 0.80
    overdue_grace: int = 0
    kpi_tolerance: float = 0.10
    unevidenced_share: float = 0.50

    def __post_init__(self) -> None:
        if not 0 <= self.at_risk <= self.value_destroyed:
            raise ValueError("thresholds must satisfy 0 <= at_risk <= value_destroyed")
        if self.value_destroyed_any is not None and self.value_destroyed_any < self.at_risk:
            raise ValueError("thresholds must satisfy at_risk <= value_destroyed_any")
        if not 0 <= self.amber <= self.green:
            raise ValueError("thresholds must satisfy 0 <= amber <= green")
        if not self.kpi_tolerance >= 0 or not 0 <= self.unevidenced_share <= 1:
            raise ValueError("thresholds must satisfy kpi_tolerance >= 0 and 0 <= unevidenced_share <= 1")


def rag(performance: float, thresholds: Thresholds | None = None) -> str:
    """RAG colour of a performance ratio (1.0 = on plan, higher = better); NaN gives ``"grey"``.

    Examples
    --------
    >>> [rag(x) for x in (1.2, 0.95, 0.9, 0.5, float("nan"))]
    ['green', 'green', 'amber', 'red', 'grey']
    """
    th = thresholds or Thresholds()
    if performance is None or math.isnan(performance):
        return "grey"
    if performance >= th.green - 1e-12:
        return "green"
    if performance >= th.amber - 1e-12:
        return "amber"
    return "red"


# --------------------------------------------------------------------------------------------------
# the verdict
# --------------------------------------------------------------------------------------------------
@dataclass
class Verdict:
    """The value verdict in words, with the rule that fired and the figures behind it.

    Attributes
    ----------
    label : str
        One of :data:`VERDICTS`.
    rule : str
        The rule that fired, in words.
    reference_npv, expected_npv, change : float
        ``change = expected_npv - reference_npv``.
    change_pct : float
        ``change`` as a share of the reference PV of costs (the scale of every threshold).
    """

    label: str
    rule: str
    reference_npv: float
    expected_npv: float
    change: float
    change_pct: float


def verdict(reference_npv: float, expected_npv: float, pv_costs: float,
            thresholds: Thresholds | None = None) -> Verdict:
    """Value created, on track, at risk or value destroyed, from stated thresholds.

    Rules, first match wins (``change = expected - reference``, scaled by the reference PV of costs;
    when that is 0 the scale is ``|reference NPV|``):

    1. **value destroyed**: the reference NPV is >= 0 and the expected NPV < 0 (the case now loses
       money it promised to make); or, for a case negative by design (reference NPV < 0, e.g.
       regulatory), which is never compared with zero, the shortfall exceeds ``value_destroyed``
       (25 %); or, if set, the shortfall exceeds ``value_destroyed_any``.
    2. **at risk**: the shortfall exceeds ``at_risk`` (5 %).
    3. **value created**: the gain exceeds ``value_created`` (5 %).
    4. **on track**: otherwise.

    Examples
    --------
    >>> [verdict(100, e, 1000).label for e in (200, 80, 0, -400)]
    ['value created', 'on track', 'at risk', 'value destroyed']
    >>> verdict(800, 100, 1000).label         # 70 % of PV costs lost, but still positive
    'at risk'
    >>> verdict(-500, -800, 1000).label       # mandatory case, 30 % worse than its negative baseline
    'value destroyed'
    >>> verdict(100, -1, 1000).label          # promised value, now negative
    'value destroyed'
    >>> verdict(-500, -520, 1000).label       # mandatory case, 2 % worse than its negative baseline
    'on track'
    """
    th = thresholds or Thresholds()
    change = float(expected_npv) - float(reference_npv)
    scale = float(pv_costs) if abs(pv_costs) > _TINY else abs(float(reference_npv))
    pct = change / scale if scale > _TINY else (0.0 if abs(change) <= _TINY else math.copysign(math.inf, change))
    if reference_npv >= 0 and expected_npv < 0:
        label, rule = "value destroyed", "expected NPV is negative although the baseline promised a positive NPV"
    elif reference_npv < 0 and pct < -th.value_destroyed:
        label, rule = "value destroyed", (f"negative-by-design case: expected NPV is more than "
                                          f"{th.value_destroyed:.0%} of PV costs below baseline")
    elif th.value_destroyed_any is not None and pct < -th.value_destroyed_any:
        label, rule = "value destroyed", (f"expected NPV is more than {th.value_destroyed_any:.0%} "
                                          "of PV costs below baseline")
    elif pct < -th.at_risk:
        label, rule = "at risk", f"expected NPV is more than {th.at_risk:.0%} of PV costs below baseline"
    elif pct > th.value_created:
        label, rule = "value created", f"expected NPV is more than {th.value_created:.0%} of PV costs above baseline"
    else:
        label, rule = "on track", (f"expected NPV within −{th.at_risk:.0%} / +{th.value_created:.0%} "
                                   "of PV costs of baseline")
    return Verdict(label, rule, float(reference_npv), float(expected_npv), change, pct)


# --------------------------------------------------------------------------------------------------
# the decision
# --------------------------------------------------------------------------------------------------
class _Status(Protocol):
    """What :func:`decide` reads of a :class:`vmo_lib.analysis.realisation.CaseStatus` (named here, not
    imported, so that this module does not import the module that imports it)."""

    currency: str
    verdict: Verdict
    expected_npv: float
    current_baseline_npv: float
    forward_npv: float
    continue_signal: str
    rag: str
    rag_reason: str


def decide(status: _Status, case_status_field: str = "", case_type: str = "") -> tuple[str, str]:
    """The one decision rule (module notes): ``(decision, reason)`` for a case's review.

    Parameters
    ----------
    status : vmo_lib.analysis.realisation.CaseStatus
        The realisation status at the review date.
    case_status_field : str
        The case's lifecycle status (``proposed``, ``approved``, ``in delivery``, ``live``,
        ``closed``, ``cancelled``).
    case_type : str
        ``Regulatory/mandatory`` cases are never "stop" on a negative forward NPV (they must be done).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.realisation import case_status
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 50, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 100, 100]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 100}])
    >>> decide(case_status(case, "2026Q1"), "in delivery")
    ('continue', 'on track: expected NPV £50 against £50 in force; forward NPV £150')
    >>> decide(case_status(case, "2026Q1"), "cancelled")[0]
    'closed'
    """
    lifecycle = (case_status_field or "").strip().lower()
    cur = status.currency or "GBP"

    def m(x: float) -> str:
        return format_money(x, cur, compact=True)

    v = status.verdict
    against = f"expected NPV {m(status.expected_npv)} against {m(v.reference_npv)} in force"
    fwd = status.forward_npv
    remaining = status.continue_signal != "complete"
    if lifecycle in _ENDED:
        return "closed", f"{lifecycle}: nothing remains to decide; final expected NPV {m(status.expected_npv)}"
    if lifecycle == "proposed":
        return "not started", f"proposed: awaiting its investment decision (NPV {m(status.current_baseline_npv)} as proposed)"
    mandatory = case_type == _MANDATORY
    if remaining and not math.isnan(fwd) and fwd < 0 and not mandatory:
        return "stop", f"forward NPV {m(fwd)}: what remains costs more than it returns, whatever was spent"
    if v.label == "value destroyed":
        return "re-plan", f"value destroyed: {against}; what remains still returns {m(fwd)}"
    if v.label == "at risk" or status.rag == "red":
        why = v.label if v.label == "at risk" else f"rated red ({status.rag_reason})"
        return "recover", f"{why}: {against}; a recovery plan is due"
    tail = f"; forward NPV {m(fwd)}" if remaining else "; nothing remains in the horizon"
    if mandatory and remaining and fwd < 0:
        tail = f"; regulatory/mandatory, so it continues although what remains costs {m(-fwd)} net"
    return "continue", f"{v.label}: {against}{tail}"
