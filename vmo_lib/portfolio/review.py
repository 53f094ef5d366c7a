"""The portfolio review: one object built from the case reviews of one review date.

:func:`review_portfolio` stacks the :class:`~vmo_lib.analysis.review.CaseReview` of every case into the
register (one row per case, every figure read from its review: nothing recomputed), the benefit
register, the totals (each the sum of its column, per currency), the decisions needed, the selection
at the budget, double counting and the reference class. The portfolio pack (HTML and Excel), the
index headline and ``vmo portfolio`` render it.

Money on one basis
------------------
Each case's NPVs are on its own basis (its first period, its rate, its price base). Before any total
they are restated on the portfolio basis (:mod:`vmo_lib.portfolio.basis`: a stated base period,
annual rate, price base and inflation, from ``portfolio.toml`` beside the cases, else
:func:`default_basis`): the register's ``*_pb`` columns. Totals add only those columns; a case that
cannot be restated (a nominal case with no inflation stated on a real basis) is totalled on a row of
its own, on its own basis, never mixed in.

Selection
---------
The budget is a parameter (``portfolio.toml``'s ``[budget]``, or ``--budget`` on ``vmo review`` and
``vmo portfolio``), shown on the page. Cases in delivery or live are committed: their remaining spend
comes off each year's budget first and the selection never says "do not fund" for them (only the
decision rule can say "stop"); proposed and approved cases compete for what remains.
"""

from __future__ import annotations

import functools
import gc
import os
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.analysis.outlook import Grid, grid, memo, shared_work
from vmo_lib.analysis.review import DECISIONS, DEFAULT_ITERATIONS, CaseReview, review_case
from vmo_lib.errors import AnalysisError
from vmo_lib.files import atomic_write_bytes
from vmo_lib.model import Portfolio
from vmo_lib.portfolio import core, reference_class
from vmo_lib.portfolio import double_counting as double_counting_mod
from vmo_lib.portfolio import register as register_mod
from vmo_lib.portfolio import risk as portfolio_risk_mod
from vmo_lib.portfolio import selection as selection_mod
from vmo_lib.portfolio.basis import PortfolioBasis, basis_factors
from vmo_lib.portfolio.common import case_as_of
from vmo_lib.portfolio.double_counting import find_double_counting
from vmo_lib.portfolio.selection import CANDIDATE_STATUSES, COMMITTED_STATUSES, committed_selection
from vmo_lib.portfolio.settings import PortfolioSettings

__all__ = ["FINITE_COLUMNS", "PORTFOLIO_REGISTER_COLUMNS", "TOTAL_COLUMNS", "PortfolioReview", "case_review_from", "double_counting_table",
           "load_or_review", "load_review", "nonfinite_cases", "realisation_by_type", "register_row", "review_folder", "review_portfolio", "save_review"]

#: Columns of :attr:`PortfolioReview.register` (one row per case; money in the case's currency).
PORTFOLIO_REGISTER_COLUMNS = (
    "case_id", "title", "sponsor", "portfolio", "strategic_objective", "org_unit", "case_type", "status",
    "currency", "decision", "decision_reason", "verdict", "rag", "rag_reason", "approved_npv", "in_force_npv",
    "baseline_npv", "expected_npv", "forward_npv", "ob_npv", "realisation_pct", "cost_spend_pct", "pv_costs",
    "budget", "vfm", "irr", "bcr", "payback_years", "risk_p10", "risk_p50", "risk_p90", "risk_spread",
    "prob_negative", "prob_reach_approved", "restated", "basis_note", "approved_npv_pb", "in_force_npv_pb",
    "expected_npv_pb", "forward_npv_pb", "source",
)
#: Money columns totalled per currency: the NPVs restated on the portfolio basis (each total is the
#: sum of its column over the restated cases).
TOTAL_COLUMNS = ("approved_npv_pb", "in_force_npv_pb", "expected_npv_pb", "forward_npv_pb")
#: The own-basis columns behind them (the cases' own figures, as their packs show them).
OWN_COLUMNS = ("approved_npv", "in_force_npv", "expected_npv", "forward_npv")


#: The :func:`vmo_lib.analysis.outlook.memo` kind of :func:`register_row` (keyed by the review and the basis).
REGISTER_ROW_MEMO = "portfolio:register_row"


def default_basis(as_of: str) -> PortfolioBasis:
    """The basis used when ``portfolio.toml`` states none: valued at the start of the review
    quarter, 8 % a year, nominal prices, real cases inflated at 2 % a year (all stated on the pack)."""
    return PortfolioBasis(str(as_of), 0.08, "nominal", None, 0.02)


def _restated(review: CaseReview, basis: PortfolioBasis) -> dict[str, Any]:
    """The review's NPVs (approved, in force, expected, forward) restated on ``basis``."""
    f, note = basis_factors(review.case, basis)
    net: dict[str, np.ndarray] = {}
    of: dict[int, np.ndarray] = {}  # the plan in force is often the approved appraisal itself: read once
    for k, a in (("approved", review.approved), ("in_force", review.in_force), ("expected", review.expected)):
        if id(a) not in of:
            of[id(a)] = a.cashflows["benefits"].to_numpy(dtype=float) - a.cashflows["costs"].to_numpy(dtype=float)
        net[k] = of[id(a)]
    tau = review.case.t_of(review.period)
    future = net["expected"].copy()
    future[: max(tau + 1, 0)] = 0.0
    out = {f"{k}_npv_pb": float((v * f).sum()) for k, v in net.items()}
    out["forward_npv_pb"] = float((future * f).sum())
    return {**out, "restated": not note, "basis_note": note}


def register_row(review: CaseReview, basis: PortfolioBasis | None = None) -> dict[str, Any]:
    """One case's register row, read from its review (the same figures as ``vmo status --json``:
    ``expected_npv``, ``forward_npv``, ``approved_npv``, ``in_force_npv``, ``verdict``, ``rag``,
    ``decision``, ``realisation_pct``; ``irr``/``bcr``/``payback_years``/``vfm`` of the expected outlook).
    """
    d = review.to_dict(detail=False)
    m = review.case.meta
    return {
        "case_id": d["case_id"], "title": d["title"], "sponsor": m.get("sponsor") or "",
        "portfolio": m.get("portfolio") or "", "strategic_objective": m.get("strategic_objective") or "",
        "org_unit": m.get("org_unit") or "", "case_type": m.get("case_type") or "",
        "status": m.get("status") or "", "currency": d["currency"], "decision": d["decision"],
        "decision_reason": d["decision_reason"], "verdict": d["verdict"], "rag": d["rag"],
        "rag_reason": d["rag_reason"], "approved_npv": d["approved_npv"], "in_force_npv": d["in_force_npv"],
        "baseline_npv": d["baseline_npv"], "expected_npv": d["expected_npv"], "forward_npv": d["forward_npv"],
        "ob_npv": d["ob_npv"], "realisation_pct": d["realisation_pct"], "cost_spend_pct": d["cost_spend_pct"],
        "pv_costs": d["expected_pv_costs"], "budget": d["expected_pv_capex"], "vfm": d["value_for_money"],
        "irr": d["expected_irr"], "bcr": d["expected_bcr"], "payback_years": d["expected_payback_years"],
        "risk_p10": d["risk_p10"], "risk_p50": d["risk_p50"], "risk_p90": d["risk_p90"],
        "risk_spread": d["risk_p90"] - d["risk_p10"], "prob_negative": d["prob_below_zero"],
        "prob_reach_approved": d["prob_reach_approved"], "source": review.case.source,
        **(_restated(review, basis) if basis is not None else {}),
    }


@dataclass(frozen=True)
class PortfolioReview:
    """The portfolio at one review date, built from its case reviews (module notes).

    Attributes
    ----------
    as_of : str
    reviews : dict
        ``case_id`` → :class:`~vmo_lib.analysis.review.CaseReview`.
    register : pandas.DataFrame
        :data:`PORTFOLIO_REGISTER_COLUMNS`, ranked by value for money of the outlook.
    benefits : pandas.DataFrame
        The benefit register (:func:`vmo_lib.portfolio.core.benefit_register`).
    totals : pandas.DataFrame
        Per currency and ``restated``: ``cases`` and the sum of each :data:`TOTAL_COLUMNS` column.
    decisions : pandas.DataFrame
        Cases whose decision is not "continue" or "closed", most urgent first.
    failures : pandas.DataFrame
        Workbooks that could not be loaded (not in any figure).
    basis : PortfolioBasis
        The one basis every total is on.
    annual_budget : float, {year: float} or None
    selection : CommittedSelection or None
        Committed cases first, then the discretionary choice within what remains of ``annual_budget``
        (None without a budget; ``selection_note`` says why, ``selection_infeasible`` when must-do cases
        cannot fit).
    double_counting : DoubleCounting
        Double counting by KPI group (:func:`vmo_lib.portfolio.double_counting.find_double_counting`:
        near-linear in the number of claims); ``overlaps`` is its group table, one row per KPI and unit.
    history, uplifts : pandas.DataFrame
        The reference-class history and its uplifts.
    target_benefits, benefit_correlation, cost_correlation : float or None
        ``portfolio.toml``'s ``[target]``: the defaults of :meth:`risk`, the portfolio Monte Carlo.
    nonfinite : tuple of str
        Cases with a non-finite figure (an overflow to infinity, or NaN, in a money column of
        :data:`FINITE_COLUMNS`): listed in the register with their figures, left out of the totals and
        of the selection; ``nonfinite_note`` says so, naming them ("" when none).
    """

    as_of: str
    reviews: Mapping[str, CaseReview] = field(repr=False)
    register: pd.DataFrame = field(repr=False)
    benefits: pd.DataFrame = field(repr=False)
    totals: pd.DataFrame = field(repr=False)
    decisions: pd.DataFrame = field(repr=False)
    failures: pd.DataFrame = field(repr=False)
    basis: PortfolioBasis | None = None
    annual_budget: Any = None
    candidates: str = "active"
    benefit_target: float | None = None
    selection: Any = field(default=None, repr=False)
    selection_note: str = ""
    selection_infeasible: bool = False
    double_counting: Any = field(default=None, repr=False)
    history: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    uplifts: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    seed: int = 0
    nonfinite: tuple[str, ...] = ()
    nonfinite_note: str = ""
    target_benefits: float | None = None
    benefit_correlation: float | None = None
    cost_correlation: float | None = None

    def risk(self, *, target: float | None = None, iterations: int = portfolio_risk_mod.DEFAULT_ITERATIONS,
             seed: int | None = None, benefit_correlation: float | None = None,
             cost_correlation: float | None = None) -> portfolio_risk_mod.PortfolioRisk:
        """The portfolio's chance of meeting its benefit target: the portfolio Monte Carlo over the case
        outlooks (:func:`vmo_lib.portfolio.risk.portfolio_risk`), on :attr:`basis`.

        ``target`` and the correlations default to ``portfolio.toml``'s ``[target]`` (:attr:`target_benefits`,
        :attr:`benefit_correlation`, :attr:`cost_correlation`), ``seed`` to the review's. Cases with
        non-finite figures (:attr:`nonfinite`) are left out, named.
        """
        return portfolio_risk_mod.portfolio_risk(
            self.reviews.values(), self.basis, iterations=iterations, seed=self.seed if seed is None else seed,
            target=self.target_benefits if target is None else target,
            benefit_correlation=self.benefit_correlation if benefit_correlation is None else benefit_correlation,
            cost_correlation=self.cost_correlation if cost_correlation is None else cost_correlation,
            exclude={c: "figures not finite" for c in self.nonfinite})

    @property
    def overlaps(self) -> pd.DataFrame:
        """Double counting, one row per KPI group (:data:`vmo_lib.portfolio.double_counting.GROUP_COLUMNS`)."""
        return self.double_counting.groups

    @property
    def cases(self) -> list[Any]:
        return [r.case for r in self.reviews.values()]

    def to_dict(self) -> dict[str, Any]:
        """Plain data: ``as_of``, ``annual_budget``, ``totals``, ``decisions``, ``cases`` (each case's
        :meth:`CaseReview.to_dict` without line tables — the same keys as ``vmo status --json``),
        ``selection``, ``double_counting``."""
        return {
            "as_of": self.as_of, "seed": self.seed, "annual_budget": self.annual_budget,
            "candidates": self.candidates, "basis": None if self.basis is None else self.basis.describe(),
            "totals": self.totals.to_dict(orient="records"),
            "decisions": self.decisions.to_dict(orient="records"),
            "cases": [r.to_dict(detail=False) for r in self.reviews.values()],
            "register": self.register.drop(columns=["source"]).to_dict(orient="records"),
            "selection": None if self.selection is None else self.selection.to_dict(),
            "selection_note": self.selection_note,
            "double_counting": None if self.double_counting is None else self.double_counting.to_dict(top=50),
            "failures": self.failures.to_dict(orient="records"),
            "nonfinite": list(self.nonfinite), "nonfinite_note": self.nonfinite_note,
        }


#: Register columns that must be finite for a case to enter the totals and the selection.
FINITE_COLUMNS = ("approved_npv", "in_force_npv", "expected_npv", "forward_npv", "pv_costs", "budget",
                  "approved_npv_pb", "in_force_npv_pb", "expected_npv_pb", "forward_npv_pb")


def nonfinite_cases(register: pd.DataFrame) -> list[str]:
    """Case ids whose :data:`FINITE_COLUMNS` hold an infinity or a NaN, in register order.

    Examples
    --------
    >>> t = pd.DataFrame({"case_id": ["A", "B"], "expected_npv": [1.0, float("inf")]})
    >>> nonfinite_cases(t)
    ['B']
    """
    cols = [c for c in FINITE_COLUMNS if c in register]
    if not cols or not len(register):
        return []
    values = register[cols].to_numpy(dtype=float)
    bad = ~np.isfinite(values).all(axis=1)
    return [str(c) for c in register["case_id"].to_numpy()[bad]]


def _decisions(register: pd.DataFrame) -> pd.DataFrame:
    cols = ["case_id", "title", "decision", "reason", "sponsor", "expected_npv", "forward_npv", "currency"]
    d = register[~register["decision"].isin(["continue", "closed"])].rename(columns={"decision_reason": "reason"})
    order = {k: i for i, k in enumerate(DECISIONS)}
    d = d.assign(_o=d["decision"].map(order)).sort_values(["_o", "case_id"], kind="stable")
    return d[cols].reset_index(drop=True)


def _totals(register: pd.DataFrame) -> pd.DataFrame:
    """Per currency: the restated cases' totals of :data:`TOTAL_COLUMNS`; cases not restated on a row
    of their own with their own-basis totals (``restated`` False) — never added together."""
    rows = []
    for (cur, restated), g in register.groupby(["currency", "restated"], sort=True):
        cols = TOTAL_COLUMNS if restated else OWN_COLUMNS
        rows.append({"currency": cur, "restated": bool(restated), "cases": len(g),
                     **{k: float(g[c].sum()) for k, c in zip(TOTAL_COLUMNS, cols, strict=True)}})
    return pd.DataFrame(rows, columns=["currency", "restated", "cases", *TOTAL_COLUMNS])


def review_portfolio(reviews: Iterable[CaseReview], as_of: str, *, settings: PortfolioSettings | None = None,
                     annual_budget: Any = None, candidates: str = "active", failures: pd.DataFrame | None = None,
                     seed: int = 0) -> PortfolioReview:
    """Build the portfolio review from the case reviews of one date (module notes).

    Parameters
    ----------
    reviews : iterable of CaseReview
        One per case, all at ``as_of``.
    as_of : str
    settings : PortfolioSettings, optional
        ``portfolio.toml`` (:func:`vmo_lib.portfolio.settings.load_portfolio_settings`): budget, basis,
        benefit target, must-do / exclusive / depends-on.
    annual_budget : float or {year: float}, optional
        Overrides the settings' budget; with neither there is no selection.
    candidates : str
        Which cases compete (:data:`vmo_lib.portfolio.core.CANDIDATE_STATUSES`).
    failures : pandas.DataFrame, optional
        Workbooks that could not be loaded (:attr:`vmo_lib.model.Portfolio.failures`).
    seed : int

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> a = make_case({"case_id": "A", "horizon": 2, "discount_rate": 0},
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10]}])
    >>> b = make_case({"case_id": "B", "horizon": 2, "discount_rate": 0},
    ...               costs=[{"line_id": "C1", "name": "C", "amounts": [5, 5]}])
    >>> from vmo_lib.portfolio.settings import PortfolioSettings
    >>> s = PortfolioSettings(basis=PortfolioBasis("2026Q1", 0.0, "real"))
    >>> pr = review_portfolio([review_case(c, "2026Q1", iterations=0) for c in (a, b)], "2026Q1", settings=s)
    >>> int(pr.totals.loc[0, "cases"]), float(pr.totals.loc[0, "expected_npv_pb"])
    (2, 10.0)
    """
    reviews = list(reviews)
    by_id = {r.case_id: r for r in reviews}
    if len(by_id) != len(reviews):
        raise AnalysisError("two case reviews have the same case id")
    # the selection's candidates and the reference class read each case's expected profile: built once
    # per case (outlook.shared_work; the cases do not change here), not once per reader
    with shared_work():
        return _review_portfolio(reviews, by_id, as_of, settings, annual_budget, candidates, failures, seed)


def _review_portfolio(reviews: list[CaseReview], by_id: dict[str, CaseReview], as_of: str,
                      settings: PortfolioSettings | None, annual_budget: Any, candidates: str,
                      failures: pd.DataFrame | None, seed: int) -> PortfolioReview:
    settings = settings or PortfolioSettings()
    basis = settings.basis or default_basis(as_of)
    budget = annual_budget if annual_budget is not None else settings.budget
    # each review's row once per review and basis within an outlook.shared_work block (vmo portfolio's workers
    # build it beside the review: review_folder's ``basis``)
    register = pd.DataFrame([memo(REGISTER_ROW_MEMO, r, basis, functools.partial(register_row, r, basis))
                             for r in reviews], columns=list(PORTFOLIO_REGISTER_COLUMNS))
    register = core.rank_cases(register, by="vfm") if len(register) else register
    # a case whose figures overflowed (or are NaN) stays in the register, named, out of totals and selection
    bad = nonfinite_cases(register)
    bad_set = set(bad)
    bad_note = (f"Left out of the totals and the selection: {', '.join(bad)} (figures not finite: an amount "
                "too large to add up, or no defined value).") if bad else ""
    finite_register = register[~register["case_id"].isin(bad_set)] if bad else register
    cases = [r.case for r in reviews]
    finite_cases = [c for c in cases if c.case_id not in bad_set]
    statuses = {r.case_id: r.status for r in reviews}
    benefits = core.benefit_register(cases, statuses) if cases else pd.DataFrame(
        columns=list(core.BENEFIT_REGISTER_COLUMNS))
    selection = None
    infeasible = False
    note = "No annual budget was given, so no selection was made." if budget is None else ""
    if budget is not None and finite_cases:
        try:
            selection = committed_selection(Portfolio(finite_cases), as_of, budget, value=settings.value,
                                            must_do=settings.must_do, exclusive=settings.exclusive,
                                            depends_on=settings.depends_on, register=finite_register,
                                            benefit_target=settings.benefit_target)
            note = selection.note
        except AnalysisError as exc:  # must-do cases that do not fit: said on the page, exit 1 in the CLI
            note, infeasible = str(exc), True
    if bad_note:
        note = f"{bad_note} {note}".strip()
    overlaps = find_double_counting(cases)
    history = reference_class.history_ratios(cases, as_of) if cases else pd.DataFrame()
    uplifts = reference_class.reference_class_uplifts(history) if len(history) else pd.DataFrame()
    fail = failures if failures is not None else pd.DataFrame(columns=["file", "error"])
    return PortfolioReview(
        as_of=as_of, reviews=by_id, register=register.reset_index(drop=True), benefits=benefits,
        totals=_totals(finite_register), decisions=_decisions(register), failures=fail, basis=basis,
        annual_budget=budget, candidates=candidates, benefit_target=settings.benefit_target,
        selection=selection, selection_note=note, selection_infeasible=infeasible, double_counting=overlaps,
        history=history,
        uplifts=uplifts, seed=int(seed), nonfinite=tuple(bad), nonfinite_note=bad_note,
        target_benefits=settings.target_benefits, benefit_correlation=settings.benefit_correlation,
        cost_correlation=settings.cost_correlation,
    )


# --- reviews from files (the notebooks' and the batch's entry points) ---------------------------------
def save_review(review: CaseReview | PortfolioReview, path: str | os.PathLike[str]) -> Path:
    """Save a computed review for the notebook that renders it (a pickle the batch writes and reads
    itself, in its own work folder; never a file a user supplies)."""
    return atomic_write_bytes(path, pickle.dumps(review, protocol=pickle.HIGHEST_PROTOCOL))


def load_review(path: str | os.PathLike[str]) -> Any:
    """Read a review saved by :func:`save_review`."""
    with open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - written by this batch run, in its own work folder


def case_review_from(case_path: str | os.PathLike[str], as_of: object, *, seed: int = 0,
                     review_file: str | os.PathLike[str] = "", iterations: int | None = None) -> CaseReview:
    """The review of one workbook: the one the batch computed (``review_file``) or, interactively,
    computed here (load, validate, review)."""
    if review_file:
        return load_review(review_file)
    from vmo_lib.intake.loader import load_case

    kw = {} if iterations is None else {"iterations": iterations}
    return review_case(load_case(case_path, as_of=as_of), as_of, seed=seed, **kw)


def load_or_review(folder: str | os.PathLike[str], as_of: object, *, seed: int = 0,
                   annual_budget: float | None = None, review_file: str | os.PathLike[str] = "",
                   iterations: int | None = None) -> PortfolioReview:
    """The portfolio review the batch built (``review_file``) or, interactively, built here from the
    folder's workbooks."""
    if review_file:
        return load_review(review_file)
    from vmo_lib.periods import review_quarter
    from vmo_lib.portfolio.settings import load_portfolio_settings

    as_of = review_quarter(as_of)
    kw = {} if iterations is None else {"iterations": iterations}
    settings = load_portfolio_settings(folder, {"budget": annual_budget})
    p, reviews = review_folder(folder, as_of, seed=seed, **kw)
    return review_portfolio(reviews, as_of, settings=settings, failures=p.failures, seed=seed)


def review_folder(folder: str | os.PathLike[str], as_of: object, *, view: str = "economic", seed: int = 0,
                  iterations: int = DEFAULT_ITERATIONS, thresholds: Any = None,
                  workers: int | None = None, basis: PortfolioBasis | None = None) -> tuple[Portfolio, list[CaseReview]]:
    """Load every workbook of a folder and review every case: each worker process loads a workbook and
    reviews its case at once (:func:`vmo_lib.intake.loader.load_portfolio_with`), so the reviews are
    spread over the workers as the loading is.

    Every review is :func:`~vmo_lib.analysis.review.review_case` of the loaded case with these
    arguments, wherever it ran: the same figures as reviewing the cases one by one in this process.

    Parameters
    ----------
    folder : str or path-like
    as_of : str or date
        The review quarter (:func:`vmo_lib.periods.review_quarter`).
    view, seed, iterations, thresholds
        As :func:`~vmo_lib.analysis.review.review_case`.
    workers : int, optional
        As :func:`vmo_lib.intake.loader.load_portfolio` (default: one per CPU, at most 4, from 50
        workbooks on; 1: everything in this process).
    basis : PortfolioBasis, optional
        The basis the portfolio review will restate the cases on (:func:`review_portfolio`'s); given,
        each case's register row on it is built beside its review too.

    Called inside an open :func:`vmo_lib.analysis.outlook.shared_work` block (as ``vmo portfolio`` does),
    the per-case parts of the portfolio review built beside each review (its expected profile's grid, its
    register row, its double-counting claims, its reference-class row, its forward costs and benefit
    register columns: the same functions on the same case) are handed to the block, so
    :func:`review_portfolio` on these reviews, in the same block, does not build them again.

    Returns
    -------
    (Portfolio, list of CaseReview)
        The loaded portfolio (its ``failures`` listed, never fatal) and one review per case, in order.

    Examples
    --------
    >>> import tempfile
    >>> pf, reviews = review_folder(tempfile.mkdtemp(), "2026Q3", iterations=0)
    >>> len(pf), reviews
    (0, [])
    """
    from vmo_lib.intake.loader import load_portfolio_with
    from vmo_lib.periods import review_quarter

    as_of = review_quarter(as_of)
    review = functools.partial(_review_for_portfolio, as_of=as_of, thresholds=thresholds, view=view, seed=seed,
                               iterations=iterations, basis=basis)
    pf, done = load_portfolio_with(folder, as_of, workers, then=review)
    reviews = []
    # the hand-over below makes a few small objects per case; with every review just received still in the
    # young generation, each garbage collection they trigger would walk all of them (over a second on 1,000
    # cases): collection is paused meanwhile (nothing here is garbage), as the loader does while gathering
    collecting = gc.isenabled()
    gc.disable()
    try:
        for r, g, parts in done:
            # the grid of the case's expected profile the review built, handed to an open outlook.shared_work
            # block (vmo portfolio's), so the portfolio's readers (selection, reference class) do not build it again
            memo("grid", r.case, case_as_of(r.case, as_of), lambda g=g: g)
            for kind, key, on, value in parts:  # the portfolio's per-case parts, likewise (_portfolio_parts)
                memo(kind, r if on == "review" else r.status.benefits if on == "benefits" else r.case, key,
                     lambda value=value: value)
            reviews.append(r)
    finally:
        if collecting:
            gc.enable()
    return pf, reviews


def _review_for_portfolio(case: Any, *, basis: PortfolioBasis | None = None,
                          **kw: Any) -> tuple[CaseReview, Grid, list[tuple[str, Any, str, Any]]]:
    """:func:`~vmo_lib.analysis.review.review_case`, with its plain data (what the register and the
    portfolio's JSON read) built where the review ran: in a worker, that work is spread too. Also
    the grid of the case's expected profile at its review period (:func:`vmo_lib.analysis.outlook.grid`,
    which the review built), for the portfolio's readers, and the portfolio's per-case parts
    (:func:`_portfolio_parts`)."""
    with shared_work():  # the review's own block: the grid it builds is kept to the end of this one
        review = review_case(case, **kw)
        g = grid(review.case, case_as_of(review.case, kw["as_of"]))
        parts = _portfolio_parts(review, kw["as_of"], basis)
    review.to_dict(detail=False)  # kept by the review (CaseReview.to_dict)
    return review, g, parts


def _portfolio_parts(review: CaseReview, as_of: str, basis: PortfolioBasis | None) -> list[tuple[str, Any, str, Any]]:
    """What :func:`review_portfolio` reads of one case, built by the functions it calls, each as
    ``(memo kind, memo key, what it is keyed on: "case", "review" or "benefits", value)``
    (:func:`vmo_lib.analysis.outlook.memo`; :func:`review_folder` hands them to its block).

    Built beside the review, in the worker that reviewed the case, where the case's indexes already
    are: the portfolio's main process then only stacks them.
    """
    case = review.case
    todo: list[tuple[str, Any, str, Any]] = [
        (double_counting_mod.CLAIMS_MEMO, "", "case", lambda: double_counting_mod.case_claims(case)),
        (f"{reference_class.HISTORY_MEMO}:outturn:4", as_of, "case", lambda: reference_class.history_row(case, as_of)),
        (register_mod.BENEFIT_COLUMNS_MEMO, case.case_id, "benefits",
         lambda: register_mod.benefit_columns(case, review.status.benefits)),
    ]
    if str(case.meta.get("status") or "") in (*CANDIDATE_STATUSES["proposed"], *COMMITTED_STATUSES):
        todo.append((selection_mod.FORWARD_COSTS_MEMO, as_of, "case", lambda: selection_mod.forward_costs(case, as_of)))
    if basis is not None:
        todo.append((REGISTER_ROW_MEMO, basis, "review", lambda: register_row(review, basis)))
    parts = []
    for kind, key, on, build in todo:
        try:
            parts.append((kind, key, on, build()))
        except Exception:  # noqa: BLE001 - left to the portfolio review, which builds it again and says why
            continue
    return parts


def realisation_by_type(review: PortfolioReview) -> pd.DataFrame:
    """Benefits realised to date against plan by benefit type (non-financial KPIs are not added up)."""
    cols = ["benefit_type", "cases", "benefits", "plan_total", "plan_reported", "actual_to_date", "realisation_pct",
            "red", "amber", "green", "currency"]
    t = core.realisation_rollup(review.benefits, by="benefit_type")
    return t[[c for c in cols if c in t]]


def double_counting_table(review: PortfolioReview) -> pd.DataFrame:
    """The double-counting findings for display: one row per KPI and unit claimed by two or more
    cases at the same time, with the cases, their lines, the periods and the amount at stake."""
    o = review.overlaps
    cols = ["kpi", "org_unit", "case_ids", "lines", "overlap_from", "overlap_to", "amount_at_stake", "currency"]
    return o[[c for c in cols if c in o]].rename(columns={"kpi": "KPI", "case_ids": "cases"})
