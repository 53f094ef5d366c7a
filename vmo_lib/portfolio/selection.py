"""Selection under a budget: which candidates to fund, what more budget buys, the efficient frontier.

Conventions
-----------
* **Candidates** (:func:`selection_options`): ``"proposed"`` (default) = cases ``proposed`` or
  ``approved`` — money not yet sunk; ``"active"`` adds cases ``in delivery`` (the continue/stop
  question). Their value is the **forward NPV** (:func:`vmo_lib.analysis.realisation.forward_npv`:
  actuals to date ignored, the rest of the expected flows valued from the period after the review)
  and their costs the expected costs after the review period, summed by calendar year (quarters
  2026Q1..Q4 are year 2026). ``value="ob_npv"`` selects on the Green Book optimism-bias-adjusted NPV
  instead (:mod:`vmo_lib.analysis.scenarios`): a risk-adjusted choice. A ``Regulatory/mandatory`` case
  is a must-do by default.
* The selection constrains undiscounted **forward costs (capex and opex) per calendar year**,
  because budgets are set per year in cash. It refuses candidates in more than one currency (no
  exchange rates are assumed).
* **Committed and discretionary spend** (:func:`committed_selection`): cases in delivery or live are
  committed — their remaining spend comes off each year's budget first and they are never "do not
  fund"; the discretionary candidates compete for what remains.
* **Selection** is a 0-1 knapsack with one budget row per calendar year, solved exactly by
  ``scipy.optimize.milp`` (HiGHS, relative gap 0). Must-do cases are forced in; at most one case of a
  mutually exclusive group; ``depends_on={"A": ["B"]}`` means A only if B.
* **Efficient frontier**: the best value for each annual budget level ``B`` (the same limit every
  year), computed exactly at every breakpoint: from the cheapest feasible budget, alternately find
  the smallest budget that buys more value and the best value at that budget.

Examples
--------
>>> value = pd.Series({"A": 10.0, "B": 6.0, "C": 5.0})
>>> costs = pd.DataFrame({2026: [8.0, 5.0, 4.0]}, index=["A", "B", "C"])
>>> s = select_portfolio(value, costs, budget=9)
>>> s.selected, s.value
(['B', 'C'], 11.0)
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from vmo_lib.errors import AnalysisError
from vmo_lib.model import BusinessCase, Portfolio
from vmo_lib.periods import parse_period
from vmo_lib.portfolio.common import TINY, case_as_of, cases_of

__all__ = [
    "CANDIDATE_STATUSES",
    "COMMITTED_STATUSES",
    "FORWARD_COSTS_MEMO",
    "BudgetStep",
    "InfeasibleSelection",
    "Selection",
    "budget_step",
    "committed_selection",
    "efficient_frontier",
    "forward_costs",
    "select_with_commitments",
    "portfolio_selection",
    "select_portfolio",
    "selection_options",
]

#: Which statuses are candidates for selection (see the module conventions).
CANDIDATE_STATUSES = {
    "proposed": ("proposed", "approved"),
    "active": ("proposed", "approved", "in delivery"),
}
#: Statuses whose remaining spend is committed (deducted from the budget before the choice).
COMMITTED_STATUSES = ("in delivery", "live")


class InfeasibleSelection(AnalysisError):
    """No selection satisfies the constraints (e.g. the must-do cases alone exceed a year's budget).

    Attributes
    ----------
    reasons : list of str
        Each conflict found, in words.
    """

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("no portfolio satisfies the constraints: " + "; ".join(reasons))


# --------------------------------------------------------------------------------------------------
# selection under a budget
# --------------------------------------------------------------------------------------------------
def _calendar_year(period: str, length: str) -> int:
    return parse_period(period, length)[0]


#: The :func:`vmo_lib.analysis.outlook.memo` kind of :func:`forward_costs`.
FORWARD_COSTS_MEMO = "selection:forward_costs"


def forward_costs(case: BusinessCase, as_of: object) -> pd.Series:
    """A case's expected undiscounted costs after ``as_of`` per calendar year (index: the year, int):
    a row of :func:`selection_options`'s ``costs``.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "P", "first_period": "2026Q3", "horizon": 4},
    ...               costs=[{"line_id": "C1", "name": "Build", "amounts": [10, 20, 30, 40]}])
    >>> forward_costs(c, "2026Q2").to_dict()
    {2026: 30.0, 2027: 70.0}
    """
    from vmo_lib.analysis.outlook import expected_matrix, grid

    c_as_of = case_as_of(case, as_of)
    # expected_flows' amounts, kinds and periods, read from the grid it is built from (its rows are the
    # grid's cells in line-major order): the same values, without building the table
    g = grid(case, c_as_of)
    amount = expected_matrix(g)[0]
    tau = case.t_of(c_as_of)
    h = case.horizon
    t = np.tile(np.arange(h), len(g.ids))
    cost = (np.repeat(g.kind, h) == "cost") & (t > tau)
    year_of_t = np.array([_calendar_year(p, case.period_length) for p in case.periods], dtype=np.int64)
    return pd.Series(amount.ravel()[cost], index=year_of_t[t[cost]]).groupby(level=0).sum()


def selection_options(portfolio: Portfolio | Iterable[BusinessCase], as_of: object, candidates: str = "proposed",
                      value: str = "forward_npv", view: str = "economic",
                      register: pd.DataFrame | None = None,
                      statuses: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The candidates of a selection: their value and their forward costs per calendar year.

    Parameters
    ----------
    portfolio : Portfolio or iterable of BusinessCase
    as_of : str
        Review period: costs after it are the ones still to fund.
    candidates : {"proposed", "active"}
        Which statuses are candidates (:data:`CANDIDATE_STATUSES`).
    value : {"forward_npv", "ob_npv"}
        What the selection maximises (module conventions).
    view : {"economic", "cash"}
    register : pandas.DataFrame, optional
        :attr:`Register.cases` already built (its ``forward_npv``/``ob_npv`` are reused).
    statuses : sequence of str, optional
        These statuses instead of ``candidates`` (e.g. :data:`COMMITTED_STATUSES`).

    Returns
    -------
    (options, costs) : tuple of pandas.DataFrame
        ``options`` indexed by ``case_id``: ``title, status, case_type, currency, value, must_do``
        (``must_do`` = case type Regulatory/mandatory). ``costs``: index ``case_id``, one column
        per calendar year (int), the expected undiscounted costs after ``as_of`` in that year.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "P", "status": "proposed", "first_period": "2026Q3", "horizon": 4,
    ...                "discount_rate": 0.0},
    ...               costs=[{"line_id": "C1", "name": "Build", "amounts": [10, 20, 30, 40]}],
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 0, 100, 100]}])
    >>> opts, costs = selection_options([c], "2026Q2")
    >>> float(opts.loc["P", "value"]), costs.loc["P"].to_dict()
    (100.0, {2026: 30.0, 2027: 70.0})
    """
    from vmo_lib.analysis.outlook import memo
    from vmo_lib.analysis.realisation import forward_npv, shared_work

    if candidates not in CANDIDATE_STATUSES:
        raise ValueError(f"candidates must be one of {sorted(CANDIDATE_STATUSES)}, not {candidates!r}")
    if value not in ("forward_npv", "ob_npv"):
        raise ValueError(f"value must be 'forward_npv' or 'ob_npv', not {value!r}")
    statuses = CANDIDATE_STATUSES[candidates] if statuses is None else tuple(statuses)
    # the register's value of each case (a dict: one look-up per case, not two .loc's)
    reg_value = None if register is None else dict(zip(register["case_id"], register[value].to_numpy(), strict=True))
    rows, cost_rows = [], {}
    for c in cases_of(portfolio):
        if str(c.meta.get("status") or "") not in statuses:
            continue
        c_as_of = case_as_of(c, as_of)
        with shared_work():  # forward_npv and the expected profile share one grid
            if reg_value is not None and c.case_id in reg_value and not pd.isna(reg_value[c.case_id]):
                v = float(reg_value[c.case_id])
            elif value == "forward_npv":
                v = forward_npv(c, c_as_of, view)
            else:
                from vmo_lib.analysis.scenarios import CaseMatrices, WhatIf, what_if_npv

                v = what_if_npv(CaseMatrices.from_case(c, c.current_baseline, view), WhatIf(optimism_bias=True))
            # each case's forward costs once per case and date within the block (vmo portfolio's workers
            # build them beside the review)
            cost_rows[c.case_id] = memo(FORWARD_COSTS_MEMO, c, as_of, lambda c=c: forward_costs(c, as_of))
        rows.append({"case_id": c.case_id, "title": c.title, "status": c.meta.get("status"),
                     "case_type": c.meta.get("case_type"), "currency": str(c.meta.get("currency") or ""),
                     "value": v, "must_do": c.meta.get("case_type") == "Regulatory/mandatory"})
    options = pd.DataFrame(rows, columns=["case_id", "title", "status", "case_type", "currency", "value", "must_do"])
    options = options.set_index("case_id")
    costs = pd.DataFrame(cost_rows).T.reindex(options.index).fillna(0.0)
    costs = costs.reindex(sorted(costs.columns), axis=1)
    costs.index.name = "case_id"
    return options, costs


@dataclass
class Selection:
    """The best set of cases under a budget.

    Attributes
    ----------
    selected : list of str
        Case ids chosen (in the order of the input).
    value : float
        Total value of the selection (e.g. the sum of forward NPVs).
    spend : pandas.DataFrame
        Per calendar year (index): ``budget`` (inf = unconstrained), ``spend``, ``headroom``.
    table : pandas.DataFrame
        Per case: ``value, selected, must_do`` and the cost of each year.
    """

    selected: list[str]
    value: float
    spend: pd.DataFrame
    table: pd.DataFrame
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"selected": self.selected, "value": self.value, "note": self.note,
                "spend": [{"year": int(y), **{k: (None if not math.isfinite(v) else float(v)) for k, v in r.items()}}
                          for y, r in self.spend.iterrows()]}


def _budget_vector(budget: float | Mapping[int, float], years: Sequence[int]) -> np.ndarray:
    if isinstance(budget, Mapping):
        return np.array([float(budget.get(y, math.inf)) for y in years], dtype=float)
    return np.full(len(years), float(budget))


@dataclass
class _Problem:
    ids: list[str]
    v: np.ndarray
    C: np.ndarray           # (years, cases)
    years: list[int]
    lb: np.ndarray
    ub: np.ndarray
    extra_A: np.ndarray     # exclusive and dependency rows
    extra_ub: np.ndarray


def _problem(value: pd.Series, costs: pd.DataFrame, must_do: Iterable[str] | None,
             exclusive: Iterable[Iterable[str]], depends_on: Mapping[str, Iterable[str] | str],
             exclude: Iterable[str] = ()) -> _Problem:
    ids = [str(i) for i in value.index]
    pos = {k: i for i, k in enumerate(ids)}
    costs = costs.reindex(value.index).fillna(0.0)
    if (costs.to_numpy() < -TINY).any():
        raise AnalysisError("selection costs must be >= 0")
    n = len(ids)
    lb, ub = np.zeros(n), np.ones(n)

    def need(k: str, what: str) -> int:
        if k not in pos:
            raise AnalysisError(f"{what}: {k!r} is not a candidate (candidates: {', '.join(ids)})")
        return pos[k]

    for k in must_do or ():
        lb[need(str(k), "must-do")] = 1
    for k in exclude:
        ub[need(str(k), "excluded")] = 0
    rows, rhs = [], []
    for grp in exclusive:
        row = np.zeros(n)
        for k in grp:
            row[need(str(k), "exclusive group")] = 1
        rows.append(row)
        rhs.append(1.0)
    for a, bs in depends_on.items():
        for b in ([bs] if isinstance(bs, str) else bs):
            row = np.zeros(n)
            row[need(str(a), "depends-on")] += 1
            row[need(str(b), f"{a} depends on")] -= 1
            rows.append(row)
            rhs.append(0.0)
    return _Problem(ids, value.to_numpy(dtype=float), costs.to_numpy(dtype=float).T, [int(y) for y in costs.columns],
                    lb, ub, np.array(rows).reshape(len(rows), n), np.array(rhs))


@contextlib.contextmanager
def _native_stdout_to_stderr() -> Iterator[None]:
    """Send what native code prints to stdout (file descriptor 1) to stderr while the solver runs.

    Some HiGHS builds print diagnostics (``HighsMipSolverData::transformNewIntegerFeasibleSolution
    tmpSolver.run();``) from C++ on larger problems; on stdout they would corrupt ``--json`` output.
    """
    try:
        fd_out, fd_err = sys.__stdout__.fileno(), sys.__stderr__.fileno()
    except (AttributeError, OSError, ValueError):   # no real stdout (e.g. an embedded interpreter)
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd_out)
    try:
        os.dup2(fd_err, fd_out)
        yield
    finally:
        try:
            ctypes.CDLL(None).fflush(None)        # what the C library still buffers goes to stderr too
        except (OSError, AttributeError):         # pragma: no cover - not a POSIX C library
            pass
        os.dup2(saved, fd_out)
        os.close(saved)


def _solve(p: _Problem, budget: np.ndarray, min_value: float | None = None) -> np.ndarray | None:
    """Max value under per-year budgets; or, with ``min_value``, min extra budget ``z`` reaching it.

    Returns the 0/1 vector (plus z as last element in the second form), or None if infeasible.
    """
    n = len(p.ids)
    if n == 0:  # nothing competes for the budget: fund nothing, and no extra budget reaches a positive value
        if min_value is None:
            return np.zeros(0)
        return np.zeros(1) if min_value <= 0 else None
    cons = []
    fin = np.isfinite(budget)
    if min_value is None:
        c = -p.v
        if fin.any():
            cons.append(LinearConstraint(p.C[fin], -np.inf, budget[fin]))
        if len(p.extra_A):
            cons.append(LinearConstraint(p.extra_A, -np.inf, p.extra_ub))
        integrality = np.ones(n)
        bounds = Bounds(p.lb, p.ub)
    else:  # variables x (n) and z: minimise z s.t. C x - z <= budget, v x >= min_value
        c = np.r_[np.zeros(n), 1.0]
        A = np.c_[p.C[fin], -np.ones(int(fin.sum()))]
        if fin.any():
            cons.append(LinearConstraint(A, -np.inf, budget[fin]))
        cons.append(LinearConstraint(np.r_[p.v, 0.0][None, :], min_value, np.inf))
        if len(p.extra_A):
            cons.append(LinearConstraint(np.c_[p.extra_A, np.zeros(len(p.extra_A))], -np.inf, p.extra_ub))
        integrality = np.r_[np.ones(n), 0.0]
        bounds = Bounds(np.r_[p.lb, 0.0], np.r_[p.ub, np.inf])
    if not cons:
        cons = []
    with _native_stdout_to_stderr():
        res = milp(c, integrality=integrality, bounds=bounds, constraints=cons,
                   options={"mip_rel_gap": 0.0, "presolve": True})
    if res.status != 0 or res.x is None:
        if res.status in (2,):
            return None
        if res.status == 3 and min_value is not None:
            return None
        raise AnalysisError(f"the selection solver stopped: {res.message}")
    x = res.x.copy()
    x[:n] = np.round(x[:n])
    return x


def _value_step(p: _Problem) -> float:
    """The smallest value gain that counts as "more": well above the solver's feasibility tolerance
    (1e-7, absolute), small against any case's value."""
    return 1e-6 * max(1.0, float(np.abs(p.v).max(initial=0.0)))


def _diagnose(p: _Problem, budget: np.ndarray) -> list[str]:
    """Why the constraints cannot all hold, in words."""
    n = len(p.ids)
    forced = p.lb > 0.5
    # dependencies of forced cases are forced too (transitively)
    dep = [(int(np.flatnonzero(r > 0)[0]), int(np.flatnonzero(r < 0)[0])) for r, u in zip(p.extra_A, p.extra_ub, strict=True)
           if u == 0.0 and (r > 0).sum() == 1 and (r < 0).sum() == 1]
    changed = True
    while changed:
        changed = False
        for a, b in dep:
            if forced[a] and not forced[b]:
                forced[b] = changed = True
    reasons = []
    need = p.C[:, forced].sum(axis=1) if n else np.zeros(len(p.years))
    for y, nd, b in zip(p.years, need, budget, strict=True):
        if nd > b + 1e-9:
            names = [p.ids[i] for i in np.flatnonzero(forced & (p.C[p.years.index(y)] > 0))]
            reasons.append(f"in {y} the must-do cases ({', '.join(names)}) need {nd:,.0f} but the budget is {b:,.0f}")
    for r, u in zip(p.extra_A, p.extra_ub, strict=True):
        if u == 1.0 and (forced & (r > 0)).sum() > 1:
            reasons.append("must-do cases " + ", ".join(p.ids[i] for i in np.flatnonzero(forced & (r > 0)))
                           + " are in the same mutually exclusive group")
    for i in np.flatnonzero(forced & (p.ub < 0.5)):
        reasons.append(f"{p.ids[i]} is required (must-do or a must-do depends on it) but excluded")
    return reasons or ["the must-do, exclusive and depends-on constraints cannot all hold within the budget"]


def select_portfolio(value: pd.Series, costs: pd.DataFrame, budget: float | Mapping[int, float],
                     must_do: Iterable[str] | None = None, exclusive: Iterable[Iterable[str]] = (),
                     depends_on: Mapping[str, Iterable[str] | str] | None = None,
                     currency: pd.Series | None = None) -> Selection:
    """The set of cases with the greatest total value whose costs fit the budget of every year.

    Parameters
    ----------
    value : pandas.Series
        Value of each candidate (index = case id), e.g. ``options["value"]``.
    costs : pandas.DataFrame
        Cost of each candidate (rows, same index) in each calendar year (columns).
    budget : float or mapping
        The limit of every year, or ``{year: limit}`` (years not given are unconstrained).
    must_do : iterable of str, optional
        Cases forced in.
    exclusive : iterable of iterables
        Groups of which at most one case may be selected.
    depends_on : mapping, optional
        ``{"A": ["B", ...]}``: A can only be selected if every B is.
    currency : pandas.Series, optional
        Currency of each candidate: more than one → :class:`~vmo_lib.errors.AnalysisError`.

    Returns
    -------
    Selection

    Raises
    ------
    InfeasibleSelection
        No selection satisfies the constraints (e.g. must-dos above a year's budget); the message
        names the years and cases.

    Examples
    --------
    >>> value = pd.Series({"A": 10.0, "B": 6.0, "C": 5.0})
    >>> costs = pd.DataFrame({2026: [8.0, 5.0, 4.0], 2027: [0.0, 5.0, 0.0]}, index=["A", "B", "C"])
    >>> select_portfolio(value, costs, budget={2026: 12}, depends_on={"C": "A"}).selected
    ['A', 'C']
    """
    if currency is not None and currency.nunique() > 1:
        raise AnalysisError("candidates are in more than one currency (" + ", ".join(sorted(currency.unique()))
                            + "): select within one currency, or convert them first")
    p = _problem(value, costs, must_do, exclusive, depends_on or {})
    b = _budget_vector(budget, p.years)
    x = _solve(p, b)
    if x is None:
        raise InfeasibleSelection(_diagnose(p, b))
    return _selection(p, x, b)


def _selection(p: _Problem, x: np.ndarray, b: np.ndarray) -> Selection:
    sel = x[: len(p.ids)] > 0.5
    spend = p.C[:, sel].sum(axis=1) if len(p.ids) else np.zeros(len(p.years))
    sp = pd.DataFrame({"budget": b, "spend": spend, "headroom": b - spend}, index=pd.Index(p.years, name="year"))
    table = pd.DataFrame(p.C.T, index=pd.Index(p.ids, name="case_id"), columns=p.years)
    table.insert(0, "must_do", p.lb > 0.5)
    table.insert(0, "selected", sel)
    table.insert(0, "value", p.v)
    return Selection([p.ids[i] for i in np.flatnonzero(sel)], float(p.v[sel].sum()), sp, table)


def portfolio_selection(portfolio: Portfolio | Iterable[BusinessCase], as_of: object, budget: float | Mapping[int, float] | None,
                        candidates: str = "proposed", value: str = "forward_npv", view: str = "economic",
                        must_do: Iterable[str] | None = None, exclusive: Iterable[Iterable[str]] = (),
                        depends_on: Mapping[str, Iterable[str] | str] | None = None,
                        register: pd.DataFrame | None = None) -> Selection:
    """The selection of a portfolio's candidates at a budget per year (options + :func:`select_portfolio`).

    ``must_do`` None = the Regulatory/mandatory candidates (:func:`selection_options`); ``budget``
    None = unconstrained (every candidate worth doing). ``Selection.note`` states the basis.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> mk = lambda i, v: make_case({"case_id": i, "status": "proposed", "first_period": "2027Q1", "horizon": 2,
    ...                              "discount_rate": 0.0},
    ...                             costs=[{"line_id": "C1", "name": "Build", "amounts": [10, 0]}],
    ...                             benefits=[{"line_id": "B1", "name": "S", "amounts": [0, v]}])
    >>> s = portfolio_selection([mk("A", 30), mk("B", 25)], "2026Q3", budget=15)
    >>> s.selected, s.value
    (['A'], 20.0)
    """
    options, costs = selection_options(portfolio, as_of, candidates, value, view, register)
    must = list(options.index[options["must_do"]]) if must_do is None else list(must_do)
    limit = math.inf if budget is None else budget
    sel = select_portfolio(options["value"], costs, limit, must_do=must, exclusive=exclusive, depends_on=depends_on,
                           currency=options["currency"])
    sel.table.insert(0, "title", options["title"].reindex(sel.table.index))
    what = {"forward_npv": "forward NPV", "ob_npv": "optimism-bias-adjusted NPV"}[value]
    limit_text = "no budget limit" if budget is None else (
        f"a budget of {budget:,.0f} a year" if not isinstance(budget, Mapping) else "the budgets per year given")
    sel.note = (f"Candidates: {', '.join(CANDIDATE_STATUSES[candidates])} cases; maximises the {what} within "
                f"{limit_text} (expected costs after {as_of}, undiscounted, by calendar year); must-do: "
                f"{', '.join(must) or 'none'}.")
    return sel


@dataclass
class BudgetStep:
    """What more budget would buy.

    Attributes
    ----------
    base : Selection
        The selection at the given budget.
    step : float
        Extra budget per constrained year that was examined (``next_breakpoint`` when not given).
    value_gain : float
        Extra value of the best selection with ``step`` more budget per year.
    entering, leaving : list of str
        How the selection changes.
    next_breakpoint : float
        The smallest extra budget per year that buys any more value (inf if nothing more can be
        bought: every worthwhile case is in).
    next_value_gain : float
        The value gained at ``next_breakpoint``.
    """

    base: Selection
    step: float
    value_gain: float
    entering: list[str]
    leaving: list[str]
    next_breakpoint: float
    next_value_gain: float

    def sentence(self, currency: str = "") -> str:
        cur = f"{currency} " if currency else ""
        if not math.isfinite(self.next_breakpoint):
            return "More budget would buy nothing: every case worth selecting is already in."
        s = (f"The next {cur}{self.step:,.0f} a year would add {cur}{self.value_gain:,.0f} of value"
             + (f" (in: {', '.join(self.entering)}" + (f"; out: {', '.join(self.leaving)}" if self.leaving else "") + ")"
                if self.entering or self.leaving else "") + ".")
        return s


def budget_step(value: pd.Series, costs: pd.DataFrame, budget: float | Mapping[int, float],
                step: float | None = None, must_do: Iterable[str] | None = None,
                exclusive: Iterable[Iterable[str]] = (), depends_on: Mapping[str, Iterable[str] | str] | None = None) -> BudgetStep:
    """What the next unit of budget would buy: the marginal value of more budget.

    Adds ``step`` to the limit of every constrained year and re-solves; also finds, exactly, the
    smallest extra budget that buys anything (a MILP minimising the extra budget subject to a
    higher value).

    Examples
    --------
    >>> value = pd.Series({"A": 10.0, "B": 6.0, "C": 5.0})
    >>> costs = pd.DataFrame({2026: [8.0, 5.0, 4.0]}, index=["A", "B", "C"])
    >>> s = budget_step(value, costs, budget=9)
    >>> s.next_breakpoint, s.next_value_gain, s.entering, s.leaving
    (3.0, 4.0, ['A'], ['B'])
    >>> budget_step(value, costs, budget=9, step=8).value_gain   # all three at 17
    10.0
    """
    p = _problem(value, costs, must_do, exclusive, depends_on or {})
    b = _budget_vector(budget, p.years)
    x = _solve(p, b)
    if x is None:
        raise InfeasibleSelection(_diagnose(p, b))
    base = _selection(p, x, b)
    eps = _value_step(p)
    nb_x = _solve(p, b, min_value=base.value + eps) if np.isfinite(b).any() else None
    if nb_x is None:
        nxt, nxt_gain = math.inf, 0.0
    else:
        nxt = float(nb_x[-1])
        xb = _solve(p, b + nxt * (1 + 1e-12) + 1e-9)
        nxt_gain = float(p.v[xb[: len(p.ids)] > 0.5].sum()) - base.value if xb is not None else 0.0
    st = nxt if step is None else float(step)
    if math.isfinite(st):
        x2 = _solve(p, b + st)
        s2 = _selection(p, x2, b + st)
    else:
        s2 = base
    before, after = set(base.selected), set(s2.selected)
    return BudgetStep(base, st, s2.value - base.value, [i for i in p.ids if i in after - before],
                      [i for i in p.ids if i in before - after], nxt, nxt_gain)


def efficient_frontier(value: pd.Series, costs: pd.DataFrame, budgets: Sequence[float] | None = None,
                       must_do: Iterable[str] | None = None, exclusive: Iterable[Iterable[str]] = (),
                       depends_on: Mapping[str, Iterable[str] | str] | None = None,
                       max_points: int = 200) -> pd.DataFrame:
    """Best value against the annual budget (the same limit every year).

    Parameters
    ----------
    value, costs, must_do, exclusive, depends_on
        As :func:`select_portfolio`.
    budgets : sequence of float, optional
        Budget levels to evaluate. Default: exactly at every breakpoint, from the cheapest feasible
        budget until nothing more can be bought (at most ``max_points`` points).

    Returns
    -------
    pandas.DataFrame
        ``budget, value, peak_spend, selected`` (``selected`` = comma-separated ids); the frontier is
        a step function: ``value`` holds from each ``budget`` to the next.

    Examples
    --------
    >>> value = pd.Series({"A": 10.0, "B": 6.0, "C": 5.0})
    >>> costs = pd.DataFrame({2026: [8.0, 5.0, 4.0]}, index=["A", "B", "C"])
    >>> efficient_frontier(value, costs)[["budget", "value", "selected"]].values.tolist()
    [[0.0, 0.0, ''], [4.0, 5.0, 'C'], [5.0, 6.0, 'B'], [8.0, 10.0, 'A'], [9.0, 11.0, 'B,C'], [12.0, 15.0, 'A,C'], [13.0, 16.0, 'A,B'], [17.0, 21.0, 'A,B,C']]
    """
    p = _problem(value, costs, must_do, exclusive, depends_on or {})
    ny = len(p.years)
    rows = []

    def point(B: float) -> None:
        x = _solve(p, np.full(ny, B * (1 + 1e-12) + 1e-9))
        if x is None:
            return
        sel = x[: len(p.ids)] > 0.5
        peak = float(p.C[:, sel].sum(axis=1).max()) if ny else 0.0
        rows.append({"budget": float(B), "value": float(p.v[sel].sum()), "peak_spend": peak,
                     "selected": ",".join(p.ids[i] for i in np.flatnonzero(sel))})

    if budgets is not None:
        for B in budgets:
            point(float(B))
        return pd.DataFrame(rows, columns=["budget", "value", "peak_spend", "selected"])
    # the cheapest feasible budget: minimise z with any value
    x0 = _solve(p, np.zeros(ny), min_value=-np.inf)
    if x0 is None:
        raise InfeasibleSelection(_diagnose(p, np.full(ny, np.inf)))
    B = float(x0[-1])
    eps = _value_step(p)
    while len(rows) < max_points:
        before = rows[-1]["value"] if rows else -math.inf
        point(B)
        if not rows or rows[-1]["value"] <= before:
            break
        nxt = _solve(p, np.zeros(ny), min_value=rows[-1]["value"] + eps)
        if nxt is None:
            break
        B = float(nxt[-1])
    return pd.DataFrame(rows, columns=["budget", "value", "peak_spend", "selected"])


# --------------------------------------------------------------------------------------------------
# committed and discretionary spend
# --------------------------------------------------------------------------------------------------
@dataclass
class CommittedSelection:
    """A selection after committed spend: what is committed, what is chosen, what is not funded.

    Attributes
    ----------
    budget : pandas.DataFrame
        Per calendar year (index): ``budget`` (inf = unconstrained), ``committed`` (the remaining
        spend of cases in delivery or live), ``available`` = ``budget - committed`` (never below 0),
        ``discretionary`` (the chosen cases' spend), ``headroom`` = ``available - discretionary``.
    selection : Selection
        The choice among the discretionary candidates within ``available``.
    decisions : pandas.DataFrame
        One row per case (index ``case_id``): ``status, value, decision`` — ``"committed"`` (never
        "do not fund"), ``"fund"`` or ``"do not fund"`` — and the forward cost of each year.
    over_committed : list of int
        Years whose committed spend alone exceeds the budget.
    benefit_target : float or None
        The value the portfolio should reach (settings); ``target_gap`` = target - committed value
        - selected value (positive = short of it).
    """

    budget: pd.DataFrame
    selection: Selection
    decisions: pd.DataFrame
    over_committed: list[int]
    committed_value: float
    benefit_target: float | None = None
    note: str = ""

    @property
    def committed(self) -> list[str]:
        return list(self.decisions.index[self.decisions["decision"] == "committed"])

    @property
    def funded(self) -> list[str]:
        return self.committed + list(self.selection.selected)

    @property
    def not_funded(self) -> list[str]:
        return list(self.decisions.index[self.decisions["decision"] == "do not fund"])

    @property
    def value(self) -> float:
        """Committed value plus the value of the chosen discretionary cases."""
        return self.committed_value + self.selection.value

    @property
    def target_gap(self) -> float:
        return math.nan if self.benefit_target is None else float(self.benefit_target) - self.value

    def reasons(self, money: Any = None) -> pd.Series:
        """Why each case got its decision, in words (index ``case_id``), from the figures of the selection.

        * committed: in delivery or live, its spend comes off the budget first;
        * fund: must-do, or chosen for its forward value within what remained;
        * do not fund: the first year its cost does not fit what is left after the committed and chosen
          cases (cost against headroom), else its value is not positive, else a dependency or an exclusive
          choice kept it out.

        ``money`` formats an amount (default ``f"{x:,.0f}"``).

        Examples
        --------
        >>> from vmo_lib.model import make_case
        >>> mk = lambda i, st, c, v: make_case({"case_id": i, "status": st, "first_period": "2027Q1", "horizon": 2,
        ...                                     "discount_rate": 0.0},
        ...                                    costs=[{"line_id": "C1", "name": "Build", "amounts": [c, 0]}],
        ...                                    benefits=[{"line_id": "B1", "name": "S", "amounts": [0, v]}])
        >>> cs = committed_selection([mk("D", "in delivery", 8, 9), mk("A", "proposed", 10, 30),
        ...                           mk("B", "approved", 6, 15)], "2026Q3", budget=15)
        >>> cs.reasons()["A"]
        'needs 10 in 2027 where 1 is left after the committed and chosen cases'
        """
        fmt = money or (lambda x: f"{x:,.0f}")
        must = self.selection.table["must_do"] if "must_do" in self.selection.table else pd.Series(dtype=bool)
        years = [y for y in self.budget.index if y in self.decisions.columns]
        headroom = self.budget["headroom"] if "headroom" in self.budget else pd.Series(dtype=float)
        out = {}
        for cid, r in self.decisions.iterrows():
            if r["decision"] == "committed":
                out[cid] = "in delivery or live: its spend comes off the budget first"
            elif r["decision"] == "fund":
                out[cid] = ("must-do: funded whatever its value" if bool(must.get(cid, False))
                            else "chosen: the most forward value the remaining budget buys")
            else:
                short = [(y, float(r[y]), float(headroom.get(y, math.inf))) for y in years
                         if float(r[y]) > float(headroom.get(y, math.inf)) + 0.5]
                if short:
                    y, cost, left = short[0]
                    out[cid] = f"needs {fmt(cost)} in {y} where {fmt(max(left, 0.0))} is left after the committed and chosen cases"
                elif not float(r["value"]) > 0:
                    out[cid] = "its forward value is not positive"
                else:
                    out[cid] = "a dependency or an exclusive choice keeps it out"
        return pd.Series(out, name="why", dtype=object)

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if v is None or not math.isfinite(v) else float(v)

        return {"committed": self.committed, "selected": list(self.selection.selected), "not_funded": self.not_funded,
                "committed_value": num(self.committed_value), "selected_value": num(self.selection.value),
                "value": num(self.value), "benefit_target": num(self.benefit_target) if self.benefit_target is not None
                else None, "target_gap": num(self.target_gap), "over_committed": [int(y) for y in self.over_committed],
                "note": self.note,
                "budget": [{"year": int(y), **{k: num(v) for k, v in r.items()}} for y, r in self.budget.iterrows()]}


def select_with_commitments(value: pd.Series, costs: pd.DataFrame, committed_costs: pd.DataFrame,
                            budget: float | Mapping[int, float] | None, must_do: Iterable[str] | None = None,
                            exclusive: Iterable[Iterable[str]] = (),
                            depends_on: Mapping[str, Iterable[str] | str] | None = None,
                            currency: pd.Series | None = None) -> tuple[Selection, pd.DataFrame, list[int]]:
    """The best discretionary selection within what the committed spend leaves of each year's budget.

    Parameters
    ----------
    value, costs, must_do, exclusive, depends_on, currency
        The discretionary candidates, as :func:`select_portfolio`.
    committed_costs : pandas.DataFrame
        Forward costs of the committed cases (rows) per calendar year (columns): deducted first.
    budget : float, mapping or None
        Each year's budget (a flat amount, ``{year: amount}``, or None = unconstrained).

    Returns
    -------
    (selection, budget_table, over_committed)
        ``budget_table`` as :attr:`CommittedSelection.budget`; ``over_committed`` the years whose
        committed spend alone is above the budget (nothing discretionary fits in them).

    Raises
    ------
    InfeasibleSelection
        The must-do candidates do not fit what the committed spend leaves (the message says so).

    Examples
    --------
    >>> value = pd.Series({"A": 10.0, "B": 6.0})
    >>> costs = pd.DataFrame({2027: [8.0, 5.0]}, index=["A", "B"])
    >>> committed = pd.DataFrame({2027: [4.0]}, index=["LIVE"])
    >>> s, table, over = select_with_commitments(value, costs, committed, budget=10)
    >>> s.selected, float(table.loc[2027, "available"]), over
    (['B'], 6.0, [])
    """
    years = sorted({int(y) for y in costs.columns} | {int(y) for y in committed_costs.columns})
    committed = (committed_costs.sum(axis=0).reindex(years).fillna(0.0) if len(committed_costs)
                 else pd.Series(0.0, index=years))
    committed.index = committed.index.astype(int)
    if budget is None:
        limit = np.full(len(years), math.inf)
    else:
        limit = _budget_vector(budget, years)
    available = np.maximum(limit - committed.to_numpy(dtype=float), 0.0)
    over = [y for y, lim, c in zip(years, limit, committed, strict=True) if c > lim + 1e-9]
    costs = costs.reindex(columns=years, fill_value=0.0)
    try:
        sel = select_portfolio(value, costs, dict(zip(years, available, strict=True)), must_do, exclusive, depends_on,
                               currency)
    except InfeasibleSelection as e:
        raise InfeasibleSelection([*e.reasons, "budgets above are what the committed spend (cases in delivery or "
                                   "live) leaves: " + ", ".join(f"{y}: {c:,.0f} committed of {lim:,.0f}"
                                                                 for y, c, lim in zip(years, committed, limit, strict=True)
                                                                 if c > 0)]) from None
    spend = sel.spend["spend"].reindex(years).fillna(0.0).to_numpy()
    table = pd.DataFrame({"budget": limit, "committed": committed.to_numpy(dtype=float), "available": available,
                          "discretionary": spend, "headroom": available - spend},
                         index=pd.Index(years, name="year"))
    return sel, table, over


def committed_selection(portfolio: Portfolio | Iterable[BusinessCase], as_of: object,
                        budget: float | Mapping[int, float] | None, value: str = "forward_npv",
                        view: str = "economic", must_do: Iterable[str] | None = None,
                        exclusive: Iterable[Iterable[str]] = (),
                        depends_on: Mapping[str, Iterable[str] | str] | None = None,
                        register: pd.DataFrame | None = None,
                        benefit_target: float | None = None) -> CommittedSelection:
    """Fund the committed cases first, then choose among the discretionary ones with what remains.

    Cases in delivery or live (:data:`COMMITTED_STATUSES`) are committed: their expected spend after
    ``as_of`` comes off each calendar year's budget and they are never "do not fund". Proposed and
    approved-not-started cases (:data:`CANDIDATE_STATUSES` ``"proposed"``) compete for the rest
    (:func:`select_with_commitments`). Closed cases take no part.

    Parameters
    ----------
    portfolio, as_of, value, view, must_do, exclusive, depends_on, register
        As :func:`portfolio_selection` (``must_do`` None = the Regulatory/mandatory candidates).
    budget : float, mapping or None
        Each calendar year's budget: one amount for every year, ``{year: amount}``, or None.
    benefit_target : float, optional
        The total value (committed + selected, on ``value``) the portfolio should reach.

    Returns
    -------
    CommittedSelection

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> mk = lambda i, st, c, v: make_case({"case_id": i, "status": st, "first_period": "2027Q1", "horizon": 2,
    ...                                     "discount_rate": 0.0},
    ...                                    costs=[{"line_id": "C1", "name": "Build", "amounts": [c, 0]}],
    ...                                    benefits=[{"line_id": "B1", "name": "S", "amounts": [0, v]}])
    >>> cs = committed_selection([mk("D", "in delivery", 8, 9), mk("A", "proposed", 10, 30),
    ...                           mk("B", "approved", 6, 15)], "2026Q3", budget=15)
    >>> cs.committed, cs.selection.selected, cs.not_funded, cs.value
    (['D'], ['B'], ['A'], 10.0)
    """
    cases = cases_of(portfolio)
    options, costs = selection_options(cases, as_of, "proposed", value, view, register)
    c_opts, c_costs = selection_options(cases, as_of, "proposed", value, view, register, statuses=COMMITTED_STATUSES)
    cur = pd.concat([options["currency"], c_opts["currency"]])
    if cur.nunique() > 1:
        raise AnalysisError("committed and candidate cases are in more than one currency ("
                            + ", ".join(sorted(cur.unique())) + "): select within one currency, or convert them first")
    must = list(options.index[options["must_do"]]) if must_do is None else list(must_do)
    sel, table, over = select_with_commitments(options["value"], costs, c_costs, budget, must, exclusive, depends_on)
    sel.table.insert(0, "title", options["title"].reindex(sel.table.index))
    years = list(table.index)
    rows = []
    chosen = set(sel.selected)
    for opts, cst, decide in ((c_opts, c_costs, lambda i: "committed"),
                              (options, costs, lambda i: "fund" if i in chosen else "do not fund")):
        # each year's cost of every case at once (a year the case has no column for is 0.0), not a .loc per case
        # and year: the same values
        per_year = cst.reindex(index=opts.index, columns=years, fill_value=0.0).to_numpy(dtype=float).tolist()
        for i, title, status, v, cy in zip(opts.index, opts["title"].tolist(), opts["status"].tolist(),
                                           opts["value"].tolist(), per_year, strict=True):
            rows.append({"case_id": i, "title": title, "status": status, "value": float(v), "decision": decide(i),
                         **dict(zip(years, cy, strict=True))})
    decisions = pd.DataFrame(rows, columns=["case_id", "title", "status", "value", "decision", *years]).set_index("case_id")
    committed_value = float(c_opts["value"].sum()) if len(c_opts) else 0.0
    what = {"forward_npv": "forward NPV", "ob_npv": "optimism-bias-adjusted NPV"}[value]
    limit_text = ("no budget limit" if budget is None else f"a budget of {budget:,.0f} a year"
                  if not isinstance(budget, Mapping) else "the budgets per year given")
    note = (f"Committed (in delivery, live): {len(c_opts)} case(s) whose spend after {as_of} comes off {limit_text}; "
            f"the proposed and approved cases compete for the rest, maximising the {what}; must-do: "
            f"{', '.join(must) or 'none'}.")
    if over:
        note += f" Committed spend alone is above the budget in {', '.join(map(str, over))}."
    sel.note = note
    return CommittedSelection(table, sel, decisions, over, committed_value, benefit_target, note)
