"""The case review: one case, reviewed at one date, computed once — the one truth every output shows.

:func:`review_case` computes a :class:`CaseReview` once per case per review date. Case packs (HTML
and Excel), the index, the portfolio review, the Excel register, every ``vmo`` command's human and
``--json`` output and the what-if explorer's starting point read it; none recomputes a figure.

Bases
-----
Every value carries its basis, named in :data:`BASES` and in the labels of :meth:`CaseReview.cards`:

``approved``   the original approved baseline (whole life, discounted to the case's first period);
``in force``   the baseline in force at the review date (the latest re-baseline approved on or before
               the end of the review period, :meth:`vmo_lib.model.BusinessCase.as_known_at`);
``expected``   the outlook: actuals to date, then the owner's forecast, then the plan in force;
``forward``    what remains after the review period (sunk cost ignored), discounted to the first
               period after it.

Headline metrics (NPV, IRR, MIRR, BCR, ROI, payback, value for money) are those of the expected
outlook, with the approved figure beside them; rankings use the outlook.

The decision
------------
One decision per case, with its reason, used verbatim everywhere (:func:`decide`):

``closed``       the case is closed or cancelled: nothing to continue;
``not started``  a proposed case, awaiting its investment decision;
``stop``         what remains costs more than it returns (forward NPV < 0), for a case that is not
                 regulatory/mandatory;
``re-plan``      value destroyed against the baseline in force while what remains still pays
                 (forward NPV >= 0): re-plan it to a new, honest baseline;
``recover``      at risk, or rated red: a recovery plan is due;
``continue``     none of the above.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib import periods
from vmo_lib.analysis import appraisal as appraisal_mod
from vmo_lib.analysis import outlook, rampup, realisation, risk
from vmo_lib.analysis.appraisal import Appraisal
from vmo_lib.analysis.outlook import EXPECTED
from vmo_lib.analysis.realisation import CaseStatus
from vmo_lib.analysis.verdict import DECISIONS, Thresholds, decide
from vmo_lib.errors import AnalysisError
from vmo_lib.model import BusinessCase

__all__ = ["BASES", "DECISIONS", "REVIEW_KEYS", "CaseReview", "decide", "review_case"]

#: The bases a figure can be on, with the words the outputs use for them.
BASES = {
    "approved": "approved (original baseline)",
    "in force": "baseline in force",
    "expected": "expected outlook (actuals, then forecast, then plan)",
    "forward": "forward: what remains after the review period",
}
#: Monte Carlo iterations of a review (seeded; the same seed gives the same numbers).
DEFAULT_ITERATIONS = 20_000


@dataclass(frozen=True)
class CaseReview:
    """One case reviewed at one date (module notes). Amounts in the case currency; percentages are
    fractions. Build it with :func:`review_case`.

    Attributes
    ----------
    case : BusinessCase
        The case as known at the review date (re-baselines approved later left out).
    as_of : str
        The review quarter (``"2026Q3"``); ``period`` is the case's own review period (a yearly
        case reviewed mid-year covers its last completed year).
    status : CaseStatus
        Realisation, bridge, verdict, RAG and gaps.
    approved, in_force, expected : Appraisal
        Whole-life appraisal of the original baseline, the baseline in force and the outlook.
    decision, decision_reason : str
        :func:`decide`.
    simulation : MonteCarloResult or None
        Monte Carlo of the expected outlook (actuals fixed, uncertainty on what remains).
    simulation_approved : MonteCarloResult or None
        The approved plan's Monte Carlo (the plan in force, with the seed and iterations of
        ``simulation``), labelled as such wherever shown. Only the case pack draws it: it is run the
        first time it is read, and equals, bit for bit, the run drawn together with ``simulation``
        (:func:`vmo_lib.analysis.risk.monte_carlo_runs`); a portfolio of 1,000 reviews does not pay for it.
    switching, tornado, optimism_bias : pandas.DataFrame
        On the outlook (switching values, tornado); optimism bias on the baseline in force.
        ``switching`` and ``tornado`` are computed the first time they are read (no figure of the
        register, the portfolio or ``to_dict`` uses them), by the same functions on the same case.
    seed : int
    early_warning : pandas.DataFrame
        Benefits' ramp-ups fitted from the actuals so far and projected at their target period, with
        the lines projected to miss while still green or amber flagged
        (:func:`vmo_lib.analysis.rampup.early_warning`); computed the first time it is read.
        :meth:`complete` computes all three at once (before handing a review to a notebook, say).
    """

    case: BusinessCase = field(repr=False)
    as_of: str
    period: str
    status: CaseStatus = field(repr=False)
    approved: Appraisal = field(repr=False)
    in_force: Appraisal = field(repr=False)
    expected: Appraisal = field(repr=False)
    decision: str
    decision_reason: str
    simulation: Any = field(default=None, repr=False)
    optimism_bias: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    seed: int = 0
    # switching, tornado and early_warning: computed on first use and kept here (see the properties), and
    # the plain data of to_dict
    _parts: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # --- parts computed on first use ------------------------------------------------------------
    # The register, the portfolio and every --json read none of these: a portfolio of 1,000 cases would
    # spend a fifth of its review time on them. They are computed the first time a pack (or anyone)
    # reads them, by the same functions on the same case, so they are the same tables as computing
    # them with the review (tests/test_scale_review.py checks it).
    def _risk_tables(self) -> None:
        current, view = self.case.current_baseline, self.status.view
        with outlook.shared_work():
            try:
                switching = risk.switching_values(self.case, current, view, as_of=self.as_of)
                tornado = risk.tornado(self.case, current, view, as_of=self.as_of)
            except AnalysisError:  # a driver with no defined answer: shown as absent, never sinks the review
                switching = tornado = pd.DataFrame()
        self._parts.setdefault("switching", switching)
        self._parts.setdefault("tornado", tornado)

    @property
    def switching(self) -> pd.DataFrame:
        """Switching values on the outlook (:func:`vmo_lib.analysis.risk.switching_values`); empty when a
        driver has no defined answer."""
        if "switching" not in self._parts:
            self._risk_tables()
        return self._parts["switching"]

    @property
    def tornado(self) -> pd.DataFrame:
        """The tornado on the outlook (:func:`vmo_lib.analysis.risk.tornado`); empty when a driver has no
        defined answer."""
        if "tornado" not in self._parts:
            self._risk_tables()
        return self._parts["tornado"]

    @property
    def early_warning(self) -> pd.DataFrame:
        """Benefits' ramp-ups fitted from the actuals (:func:`vmo_lib.analysis.rampup.early_warning`)."""
        if "early_warning" not in self._parts:
            b = self.status.benefits
            self._parts["early_warning"] = rampup.early_warning(
                self.case, self.as_of, rag=b.set_index("line_id")["rag"] if "rag" in b else None,
                logistic=False)  # the logistic comparison is drawn by the pack for flagged lines
        return self._parts["early_warning"]

    @property
    def simulation_approved(self) -> Any:
        """The approved plan's Monte Carlo (class notes); None when the review ran no simulation."""
        if "simulation_approved" not in self._parts:
            sim = None
            if self.simulation is not None:
                try:  # the plan in force, as review_case would have drawn it beside the outlook
                    (sim,) = risk.monte_carlo_runs(self.case, [{"scenario": self.case.current_baseline}],
                                                   iterations=len(self.simulation.npv), seed=self.seed,
                                                   view=self.status.view)
                except AnalysisError:
                    sim = None
            self._parts["simulation_approved"] = sim
        return self._parts["simulation_approved"]

    def complete(self) -> CaseReview:
        """Compute every part computed on first use (switching, tornado, early warning, the approved plan's
        Monte Carlo) now; returns self."""
        _ = self.switching, self.tornado, self.early_warning, self.simulation_approved
        return self

    # --- identity -----------------------------------------------------------------------------
    @property
    def case_id(self) -> str:
        return self.case.case_id

    @property
    def title(self) -> str:
        return self.case.title

    @property
    def currency(self) -> str:
        return self.status.currency

    @property
    def value_for_money(self) -> float:
        """Expected NPV per unit of PV capital budget of the outlook (NaN without capex)."""
        cap = self.expected.pv_capex
        return self.expected.npv / cap if abs(cap) > 1e-9 else math.nan

    @property
    def approved_value_for_money(self) -> float:
        cap = self.in_force.pv_capex
        return self.in_force.npv / cap if abs(cap) > 1e-9 else math.nan

    def risk_figures(self) -> dict[str, float]:
        """P10/P50/P90 of the expected NPV, the chance it ends below zero and the chance it gets back
        to the NPV in force (NaN when no simulation was run)."""
        s = self.simulation
        if s is None:
            return {k: math.nan for k in ("risk_p10", "risk_p50", "risk_p90", "prob_below_zero",
                                          "prob_reach_approved")}
        # one sort for the three percentiles (each the number s.percentile gives: numpy interpolates each
        # q alone), not the whole summary
        p10, p50, p90 = (float(x) for x in np.percentile(s.npv, [10, 50, 90]))
        return {"risk_p10": p10, "risk_p50": p50, "risk_p90": p90,
                "prob_below_zero": float(s.prob_below_zero), "prob_reach_approved": float(s.prob_reach_approved)}

    # --- plain data ---------------------------------------------------------------------------
    def to_dict(self, detail: bool = True) -> dict[str, Any]:
        """The review as plain data with the stable keys :data:`REVIEW_KEYS` — the JSON of ``vmo status``,
        each case of ``vmo portfolio --json`` (``detail=False`` leaves out the line tables) and the
        batch's results file. NaN stays NaN (the CLI writes null).

        Built once per ``detail`` and kept (a review does not change); each call returns its own copy.
        """
        key = "to_dict" if detail else "to_dict:summary"
        if key not in self._parts:
            self._parts[key] = self._plain(detail)
        return _plain_copy(self._parts[key])

    def _plain(self, detail: bool) -> dict[str, Any]:
        st = self.status.to_dict(detail=detail)  # the line tables only when asked for
        e, a, f = self.expected, self.approved, self.in_force
        d: dict[str, Any] = {
            **{k: st[k] for k in st if k not in ("benefits", "costs", "gaps")},
            "period": self.period, "as_of": self.as_of,
            "case_status": str(self.case.meta.get("status") or ""),
            "case_type": str(self.case.meta.get("case_type") or ""),
            "sponsor": str(self.case.meta.get("sponsor") or ""),
            "decision": self.decision, "decision_reason": self.decision_reason,
            "approved_npv": a.npv, "in_force_npv": f.npv,
            "npv_basis": {"discounted_to": self.case.periods[0], "annual_rate": e.annual_rate,
                          "discount_schedule": e.discount_schedule, "price_base": e.price_base,
                          "forward_discounted_to": self.status.forward_discounted_to},
            **{f"expected_{k}": getattr(e, k) for k in _METRICS},
            **{f"approved_{k}": getattr(f, k) for k in _METRICS if k != "npv"},
            "value_for_money": self.value_for_money, "approved_value_for_money": self.approved_value_for_money,
            **self.risk_figures(),
            "risk_basis": None if self.simulation is None else f"expected outlook as of {self.as_of}",
            "ob_npv": _ob_npv(self.optimism_bias),
            "seed": self.seed,
        }
        ev = self.status.evidence
        if ev is not None:  # issue 13: evidence behind the claims and the outlook
            gl = self.case.meta.get("actual_go_live")
            evd = ev.to_dict()
            d.update({k: v for k, v in evd.items() if k != "kpi_reconciliation"},
                     actual_go_live=None if gl in (None, "") else str(gl))
        if detail:
            d["benefits"], d["costs"], d["gaps"] = st["benefits"], st["costs"], st["gaps"]
            if ev is not None:
                d["kpi_reconciliation"] = evd["kpi_reconciliation"]
        return {k: d[k] for k in REVIEW_KEYS if k in d}

    def cards(self) -> list[dict[str, Any]]:
        """The key figures of the pack and the index, each labelled with its basis."""
        s = self.status
        risk_f = self.risk_figures()
        real = s.realisation_pct
        nothing_due = abs(s.totals.get("benefit_plan_to_date") or 0.0) < 0.5
        return [
            {"label": "Approved NPV", "value": s.current_baseline_npv, "kind": "money",
             "note": "baseline in force" + ("" if s.bridge_current is None
                                            else f" ({s.baseline_in_force.removeprefix('rebaseline:')})")},
            {"label": "Expected NPV", "value": s.expected_npv, "kind": "money", "note": "actuals + forecast",
             "tone": "bad" if s.expected_npv < 0 else ""},
            {"label": "Forward NPV", "value": s.forward_npv, "kind": "money", "note": "what remains",
             "tone": "bad" if s.forward_npv < 0 else ""},
            {"label": "Benefits realised", "value": None if nothing_due else real,
             "kind": "text" if nothing_due else "percent",
             "note": "nothing due yet" if nothing_due else "of plan to date (gross)"},
            {"label": "Chance NPV < 0", "value": risk_f["prob_below_zero"], "kind": "percent",
             "note": "expected outlook"},
            {"label": "Decision", "value": self.decision, "kind": "text", "note": s.verdict.label},
        ]


def _plain_copy(value: Any) -> Any:
    """A deep copy of plain data (dicts, lists and immutable scalars), as :func:`copy.deepcopy` makes it
    in a fifth of the time; anything else is handed to :func:`copy.deepcopy`."""
    if isinstance(value, dict):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_copy(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return copy.deepcopy(value)


_METRICS = ("npv", "irr", "mirr", "bcr", "roi", "payback_years", "discounted_payback_years", "pv_costs",
            "pv_capex", "pv_benefits")

#: Keys of :meth:`CaseReview.to_dict` (stable; shared by ``vmo status --json`` and the cases of
#: ``vmo portfolio --json``).
REVIEW_KEYS = (
    "case_id", "title", "as_of", "period", "case_status", "case_type", "sponsor", "view", "currency",
    "decision", "decision_reason", "verdict", "verdict_sentence", "verdict_rule", "verdict_vs_original",
    "rag", "rag_reason", "baseline_in_force", "approved_npv", "in_force_npv", "baseline_npv",
    "current_baseline_npv", "expected_npv", "forward_npv", "forward_discounted_to", "continue_signal",
    "npv_change", "npv_change_pct_of_cost", "npv_basis",
    *(f"expected_{k}" for k in _METRICS), *(f"approved_{k}" for k in _METRICS if k != "npv"),
    "value_for_money", "approved_value_for_money",
    "realisation_pct", "benefit_plan_to_date", "benefit_actual_to_date", "benefit_variance_to_date",
    "disbenefit_plan_to_date", "disbenefit_actual_to_date", "disbenefit_variance_to_date",
    "cost_spend_pct", "cost_plan_to_date", "cost_actual_to_date", "cost_variance_to_date",
    "risk_p10", "risk_p50", "risk_p90", "prob_below_zero", "prob_reach_approved", "risk_basis", "ob_npv",
    "bridge", "bridge_current", "variance_note", "thresholds", "seed",
    # issue 13 (vmo_lib.analysis.evidence): go-live, KPI reconciliation, evidence and forecast credibility
    "actual_go_live", "go_live_shift", "kpi_tolerance", "realised_to_date", "evidenced_to_date", "evidenced_pct",
    "evidence_mix", "future_benefit_pv", "unevidenced_future_pv", "unevidenced_future_pct", "not_yet_due_future_pv",
    "expected_npv_evidenced",
    "forecast_warning",
    "benefits", "costs", "gaps", "kpi_reconciliation",
)


def _ob_npv(table: pd.DataFrame) -> float:
    """NPV after the optimism-bias adjustment (:func:`vmo_lib.analysis.risk.appraisal_with_optimism_bias`)."""
    if table is None or "after" not in table or "npv" not in table.index:
        return math.nan
    return float(table.loc["npv", "after"])


def review_case(case: BusinessCase, as_of: object, *, thresholds: Thresholds | None = None,
                view: str = "economic", seed: int = 0, iterations: int = DEFAULT_ITERATIONS) -> CaseReview:
    """Review one case at one date: every figure any output shows, computed once.

    Parameters
    ----------
    case : BusinessCase
    as_of : str or date
        The review quarter (:func:`vmo_lib.periods.review_quarter`: a malformed value raises
        :class:`~vmo_lib.errors.UsageError`).
    thresholds : Thresholds, optional
    view : {"economic", "cash"}
    seed : int, default 0
        Seed of the Monte Carlo (same inputs and seed, same numbers).
    iterations : int
        Monte Carlo iterations; 0 skips the simulation (risk figures NaN).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 100, 100]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110}])
    >>> r = review_case(case, "2026Q1", iterations=0)
    >>> r.approved.npv, r.expected.npv, r.status.expected_npv, r.decision
    (100.0, 90.0, 90.0, 'recover')
    """
    as_of = periods.review_quarter(as_of)
    period = outlook.review_period(case, as_of)
    known = outlook.known_at(case, as_of)  # the one rule for the baseline in force at the review date
    with outlook.shared_work():  # the grid and the expected case are built once for every figure below
        status = realisation.case_status(known, as_of, thresholds, view)
        ec = outlook.expected_case(known, as_of)
        approved = appraisal_mod.appraise(ec, "baseline", view)
        current = known.current_baseline
        in_force = approved if current == "baseline" else appraisal_mod.appraise(ec, current, view)
        expected = appraisal_mod.appraise(ec, EXPECTED, view)
        decision, reason = status.decision, status.decision_reason
        sim = None
        if iterations:
            try:  # the approved plan's run is drawn on first read (CaseReview.simulation_approved)
                (sim,) = risk.monte_carlo_runs(known, [{"as_of": as_of, "reference_npv": status.current_baseline_npv}],
                                               iterations=iterations, seed=seed, view=view)
            except AnalysisError:  # no defined simulation (e.g. no three-point ranges and no case type): shown as absent
                sim = None
        try:
            ob = risk.appraisal_with_optimism_bias(known, current, view)
        except AnalysisError:  # a case type with no optimism-bias defaults
            ob = pd.DataFrame()
    # switching values, the tornado and the early warning are computed on first use (CaseReview)
    return CaseReview(case=known, as_of=as_of, period=period, status=status, approved=approved,
                      in_force=in_force, expected=expected, decision=decision, decision_reason=reason,
                      simulation=sim, optimism_bias=ob, seed=int(seed))
