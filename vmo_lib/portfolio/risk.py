"""The portfolio's chance of meeting its target: a Monte Carlo over the case outlooks with shared drivers.

Each case contributes its **expected outlook** at the review date (actuals to date fixed, then the
forecast, then the plan in force: :meth:`vmo_lib.analysis.scenarios.CaseMatrices.outlook`) with the
uncertainty model the case's own risk figures use (:func:`vmo_lib.analysis.risk.monte_carlo`): every
line's remaining flows scaled by a level drawn from its three-point range (triangular or PERT over
low / likely / high, from the plan in force), lines sharing a ``driver`` correlated (``rho`` 0.8).
All money is restated on the portfolio's one basis (:func:`vmo_lib.portfolio.basis.basis_factors`).

Model
-----
For case ``i`` let ``B_i`` be the PV (on the basis) of its benefits net of dis-benefits and ``C_i``
that of its costs. Actuals to date are fixed; the remaining part of each is summarised by its exact
mean and standard deviation under the case's line model (:func:`case_outlook_moments`: a line with
multiplier mean ``mu`` and variance ``v`` over a future PV ``w`` adds ``mu w`` to the mean and
``v w^2`` to the variance; lines of one driver add ``rho sd_j sd_k w_j w_k``; the copula's ``rho`` is
used as the lines' correlation, an approximation for skewed ranges). Across cases two **shared drivers**
move them together through a Gaussian copula, with stated, overridable correlations:

* a benefit-realisation factor ``G_b``: ``Z_b,i = sqrt(rho_b) G_b + sqrt(1 - rho_b) e_b,i``;
* a cost-overrun factor ``G_c``: ``Z_c,i = sqrt(rho_c) G_c + sqrt(1 - rho_c) e_c,i``,

``e`` independent standard normals (``e_c,i`` correlated with ``e_b,i`` as the case's own benefits and
costs are, through drivers they share), and the remaining part of ``B_i`` is ``mean + sd Z_b,i`` (a
normal with the case's mean and spread; costs alike). Each iteration adds up the cases: **total
expected benefits** ``sum B_i`` and **total NPV** ``sum (B_i - C_i)``.

Defaults: ``rho_b = rho_c = 0.3`` (:data:`DEFAULT_BENEFIT_CORRELATION`, :data:`DEFAULT_COST_CORRELATION`):
cases of one organisation share its delivery capacity, its adoption and its suppliers' prices, but most
of their uncertainty is their own. Override them in ``portfolio.toml`` (``[target]
benefit_correlation``, ``cost_correlation``) or as arguments.

Which cases drive the spread: each case's **contribution to variance**, ``Cov(X_i, T) / Var(T)`` (the
Euler allocation: the contributions add up to 1), estimated from the same iterations, for the total NPV
and for the total benefits.

Cases left out (named in :attr:`PortfolioRisk.left_out`): figures that are not finite, a case that
cannot be restated on the basis, another currency than the portfolio's main one, a three-point range
that is not valid.

Reproducibility: ``SeedSequence(seed)`` spawns one stream for the shared drivers and one for each
kind of case draw, consumed in iteration order, so any ``chunk_size`` gives the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.analysis.review import CaseReview
from vmo_lib.analysis.scenarios import CaseMatrices, three_point_factors
from vmo_lib.errors import AnalysisError
from vmo_lib.formatting import format_money
from vmo_lib.portfolio.basis import PortfolioBasis, basis_factors

__all__ = [
    "DEFAULT_BENEFIT_CORRELATION",
    "DEFAULT_COST_CORRELATION",
    "DEFAULT_ITERATIONS",
    "MOMENT_COLUMNS",
    "PortfolioRisk",
    "case_outlook_moments",
    "portfolio_risk",
    "portfolio_risk_summary",
    "simulate_portfolio",
]

#: Correlation of the shared benefit-realisation driver across cases (module notes).
DEFAULT_BENEFIT_CORRELATION = 0.3
#: Correlation of the shared cost-overrun driver across cases.
DEFAULT_COST_CORRELATION = 0.3
#: Iterations of the portfolio Monte Carlo.
DEFAULT_ITERATIONS = 100_000
#: Iterations drawn at a time (memory ~ chunk x cases x 8 bytes per temporary); results do not depend on it.
CHUNK_ITERATIONS = 1_000
#: Columns of the per-case table :func:`simulate_portfolio` reads (money on the portfolio basis).
MOMENT_COLUMNS = ("case_id", "fixed_benefits", "mean_benefits", "sd_benefits", "fixed_costs", "mean_costs",
                  "sd_costs", "corr_benefits_costs")


def _multiplier_moments(lo: np.ndarray, hi: np.ndarray, pert: np.ndarray, stoch: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of each line's level: triangular(lo, 1, hi) or PERT(lo, 1, hi); fixed lines 1 and 0."""
    tri_mean = (lo + 1.0 + hi) / 3.0
    tri_var = (lo * lo + 1.0 + hi * hi - lo - hi - lo * hi) / 18.0
    pert_mean = (lo + 4.0 + hi) / 6.0
    pert_var = (pert_mean - lo) * (hi - pert_mean) / 7.0
    mean = np.where(stoch, np.where(pert, pert_mean, tri_mean), 1.0)
    var = np.where(stoch, np.where(pert, pert_var, tri_var), 0.0)
    return mean, np.maximum(var, 0.0)


def case_outlook_moments(review: CaseReview, basis: PortfolioBasis,
                         rho: float | Mapping[str, float] = 0.8) -> dict[str, Any]:
    """One case's expected outlook on the portfolio basis: fixed part, mean and spread of the rest.

    Parameters
    ----------
    review : CaseReview
        The case reviewed at the portfolio's date (its outlook, view and baseline in force).
    basis : PortfolioBasis
    rho : float or mapping, default 0.8
        Correlation of lines sharing a driver, as :func:`vmo_lib.analysis.risk.monte_carlo`.

    Returns
    -------
    dict
        :data:`MOMENT_COLUMNS` (benefits net of dis-benefits; ``fixed_*`` = actuals to date and any
        estimate up to the review, PV on the basis; ``mean_*``/``sd_*`` = the remaining flows under the
        three-point model); ``restated`` False with ``note`` when the case cannot be restated.

    Raises
    ------
    AnalysisError
        A three-point range that is not valid (naming the sheet and row).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> c = make_case({"case_id": "X", "first_period": "2026", "period_length": "year", "horizon": 2,
    ...                "discount_rate": 0.0},
    ...               benefits=[{"line_id": "B1", "name": "b", "amounts": [0, 90], "low": 60, "likely": 90,
    ...                          "high": 120}])
    >>> m = case_outlook_moments(review_case(c, "2025Q4", iterations=0), PortfolioBasis("2026", 0.0))
    >>> m["mean_benefits"], round(m["sd_benefits"] ** 2, 6)     # triangular(60, 90, 120): 90 and 30^2/6
    (90.0, 150.0)
    """
    case = review.case
    view = review.status.view
    f_pb, note = basis_factors(case, basis)
    out: dict[str, Any] = {"case_id": review.case_id, "restated": not note, "note": note}
    if note:
        return out
    m = CaseMatrices.outlook(case, review.as_of, view)
    plan = CaseMatrices.from_case(case, case.current_baseline, view)
    f = three_point_factors(case, plan).reindex(list(m.cost_ids) + list(m.benefit_ids))
    fixed_c, future_c = m.split(m.costs)
    fixed_b, future_b = m.split(m.benefits)
    n_c = len(m.cost_ids)
    w = np.concatenate([future_c @ f_pb, future_b @ f_pb])          # PV on the basis of each line's future
    stoch = f["stochastic"].fillna(False).to_numpy(dtype=bool)
    lo = f["lo"].fillna(1.0).to_numpy(dtype=float)
    hi = f["hi"].fillna(1.0).to_numpy(dtype=float)
    pert = (f["distribution"] == "pert").to_numpy(dtype=bool)
    mean, var = _multiplier_moments(lo, hi, pert, stoch)
    sdw = np.sqrt(var) * w                                           # each line's sd in money
    is_cost = np.arange(len(w)) < n_c
    var_c = float((sdw[is_cost] ** 2).sum())
    var_b = float((sdw[~is_cost] ** 2).sum())
    cov_bc = 0.0
    drivers = f["driver"].tolist()
    for d in sorted({x for x in drivers if isinstance(x, str) and x}):
        r = float(rho.get(d, 0.8)) if isinstance(rho, Mapping) else float(rho)
        g = np.array([x == d for x in drivers]) & stoch
        sc, sb = float(sdw[g & is_cost].sum()), float(sdw[g & ~is_cost].sum())
        var_c += r * (sc * sc - float((sdw[g & is_cost] ** 2).sum()))
        var_b += r * (sb * sb - float((sdw[g & ~is_cost] ** 2).sum()))
        cov_bc += r * sb * sc
    sd_b, sd_c = math.sqrt(max(var_b, 0.0)), math.sqrt(max(var_c, 0.0))
    corr = cov_bc / (sd_b * sd_c) if sd_b > 0 and sd_c > 0 else 0.0
    out.update(fixed_benefits=float(fixed_b.sum(axis=0) @ f_pb), mean_benefits=float(mean[~is_cost] @ w[~is_cost]),
               sd_benefits=sd_b, fixed_costs=float(fixed_c.sum(axis=0) @ f_pb),
               mean_costs=float(mean[is_cost] @ w[is_cost]), sd_costs=sd_c,
               corr_benefits_costs=float(min(max(corr, -1.0), 1.0)))
    return out


@dataclass(frozen=True)
class PortfolioRisk:
    """The portfolio Monte Carlo's result (module notes). Money on the portfolio basis, in ``currency``.

    Attributes
    ----------
    benefits, npv : ndarray
        Total expected benefits and total NPV of every iteration.
    cases : pandas.DataFrame
        One row per case simulated: :data:`MOMENT_COLUMNS`, ``mean_npv``, ``sd_npv`` and the
        contributions to variance ``share_npv_variance``, ``share_benefit_variance`` (each column adds up
        to 1), largest NPV share first.
    target : float or None
        The benefit target; :attr:`prob_meeting_target` is the share of iterations at or above it.
    benefit_correlation, cost_correlation : float
        The shared drivers' correlations used.
    left_out : dict
        ``case_id`` → why it is not in the simulation.
    """

    benefits: np.ndarray = field(repr=False)
    npv: np.ndarray = field(repr=False)
    cases: pd.DataFrame = field(repr=False)
    target: float | None
    iterations: int
    seed: int
    benefit_correlation: float
    cost_correlation: float
    currency: str = ""
    basis: str = ""
    left_out: dict[str, str] = field(default_factory=dict)

    def _q(self, a: np.ndarray, q: float) -> float:
        return float(np.percentile(a, q)) if a.size else math.nan

    @property
    def prob_meeting_target(self) -> float:
        """Chance the total expected benefits reach the target (NaN without one)."""
        if self.target is None or not self.benefits.size:
            return math.nan
        return float(np.mean(self.benefits >= self.target))

    def summary(self) -> dict[str, Any]:
        """Headline figures under stable keys (``portfolio_risk`` of ``vmo portfolio --json``)."""
        b, n = self.benefits, self.npv
        return {
            "iterations": self.iterations, "seed": self.seed, "currency": self.currency, "basis": self.basis,
            "benefit_correlation": self.benefit_correlation, "cost_correlation": self.cost_correlation,
            "cases": int(len(self.cases)), "benefits_mean": float(b.mean()) if b.size else math.nan,
            "benefits_p10": self._q(b, 10), "benefits_p50": self._q(b, 50), "benefits_p90": self._q(b, 90),
            "npv_mean": float(n.mean()) if n.size else math.nan,
            "npv_p10": self._q(n, 10), "npv_p50": self._q(n, 50), "npv_p90": self._q(n, 90),
            "target": self.target, "prob_meeting_target": self.prob_meeting_target,
            "prob_npv_below_zero": float(np.mean(n < 0)) if n.size else math.nan,
            "left_out": dict(self.left_out),
        }

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        """:meth:`summary` plus ``drivers``: the ``top`` cases by share of the NPV variance."""
        cols = ["case_id", "mean_benefits", "sd_benefits", "mean_npv", "sd_npv", "share_npv_variance",
                "share_benefit_variance"]
        return {**self.summary(), "drivers": self.cases[cols].head(top).to_dict(orient="records")}


def simulate_portfolio(moments: pd.DataFrame, iterations: int = DEFAULT_ITERATIONS, seed: int = 0, *,
                       benefit_correlation: float = DEFAULT_BENEFIT_CORRELATION,
                       cost_correlation: float = DEFAULT_COST_CORRELATION, target: float | None = None,
                       chunk_size: int = CHUNK_ITERATIONS) -> PortfolioRisk:
    """The portfolio Monte Carlo on per-case moments (module notes).

    Parameters
    ----------
    moments : pandas.DataFrame
        :data:`MOMENT_COLUMNS`, one row per case (:func:`case_outlook_moments`, or any normal lines).
    iterations : int, default 100,000
    seed : int, default 0
    benefit_correlation, cost_correlation : float
        Correlation of the shared benefit-realisation and cost-overrun drivers across cases (0 to 1).
    target : float, optional
        Total expected benefits to reach.
    chunk_size : int
        Iterations drawn at a time (the numbers do not depend on it).

    Returns
    -------
    PortfolioRisk

    Examples
    --------
    Two independent normal benefit lines, means 100 and 50, sd 30 and 40: the total is normal with mean 150
    and sd 50, so it reaches 150 half the time.

    >>> m = pd.DataFrame({"case_id": ["A", "B"], "fixed_benefits": 0.0, "mean_benefits": [100.0, 50.0],
    ...                   "sd_benefits": [30.0, 40.0], "fixed_costs": 0.0, "mean_costs": 0.0, "sd_costs": 0.0,
    ...                   "corr_benefits_costs": 0.0})
    >>> r = simulate_portfolio(m, 200_000, seed=1, benefit_correlation=0.0, target=150.0)
    >>> round(float(r.benefits.std()), 0), round(r.prob_meeting_target, 2)
    (50.0, 0.5)
    """
    for name, r in (("benefit_correlation", benefit_correlation), ("cost_correlation", cost_correlation)):
        if not 0.0 <= float(r) <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {r!r}")
    if int(iterations) != iterations or iterations < 1:
        raise ValueError(f"iterations must be a whole number ≥ 1, not {iterations!r}")
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a whole number ≥ 1, not {chunk_size!r}")
    iterations, chunk_size = int(iterations), int(chunk_size)
    cols = {c: moments[c].to_numpy(dtype=float) for c in MOMENT_COLUMNS if c != "case_id"}
    fb, mb, sb = cols["fixed_benefits"], cols["mean_benefits"], cols["sd_benefits"]
    fc, mc, sc = cols["fixed_costs"], cols["mean_costs"], cols["sd_costs"]
    r_bc = np.clip(cols["corr_benefits_costs"], -1.0, 1.0)
    q_bc = np.sqrt(1.0 - r_bc * r_bc)
    n_cases = len(mb)
    mean_b_total = float(fb.sum() + mb.sum())
    mean_n_total = float(fb.sum() + mb.sum() - fc.sum() - mc.sum())
    a_b, s_b = math.sqrt(benefit_correlation), math.sqrt(1.0 - benefit_correlation)
    a_c, s_c = math.sqrt(cost_correlation), math.sqrt(1.0 - cost_correlation)
    rng_g, rng_b, rng_c = (np.random.Generator(np.random.PCG64(c)) for c in np.random.SeedSequence(seed).spawn(3))
    tot_b = np.empty(iterations)
    tot_n = np.empty(iterations)
    acc_b = np.zeros(n_cases)   # sum over iterations of (B_i - mean) (T_b - mean)
    acc_n = np.zeros(n_cases)   # the same for each case's NPV and the total NPV
    const_b = float(fb.sum())
    const_n = float(fb.sum() - fc.sum())
    for start in range(0, iterations, chunk_size):
        n = min(chunk_size, iterations - start)
        g = rng_g.standard_normal((n, 2))
        eb = rng_b.standard_normal((n, n_cases))
        ec = rng_c.standard_normal((n, n_cases))
        ec *= q_bc
        ec += r_bc * eb                                 # e_c correlated with e_b as the case's own lines are
        eb *= s_b
        eb += a_b * g[:, :1]                            # Z_b
        eb *= sb                                        # the benefits' deviation from their mean, per case
        ec *= s_c
        ec += a_c * g[:, 1:]                            # Z_c
        ec *= sc                                        # the costs' deviation
        dev_b_total = eb.sum(axis=1)
        tb = dev_b_total + (const_b + mb.sum())
        ec -= eb
        ec *= -1.0                                      # each case's NPV deviation: dB - dC
        dev_n_total = ec.sum(axis=1)
        tn = dev_n_total + (const_n + mb.sum() - mc.sum())
        tot_b[start:start + n] = tb
        tot_n[start:start + n] = tn
        acc_b += (tb - mean_b_total) @ eb
        acc_n += (tn - mean_n_total) @ ec
    with np.errstate(all="ignore"):
        share_b = acc_b / acc_b.sum() if acc_b.sum() else np.zeros(n_cases)
        share_n = acc_n / acc_n.sum() if acc_n.sum() else np.zeros(n_cases)
    table = moments.reset_index(drop=True).copy()
    table["mean_npv"] = fb + mb - fc - mc
    var_n = sb ** 2 + sc ** 2 - 2.0 * r_bc * sb * sc
    table["sd_npv"] = np.sqrt(np.maximum(var_n, 0.0))
    table["share_npv_variance"] = share_n
    table["share_benefit_variance"] = share_b
    table = table.sort_values(["share_npv_variance", "case_id"], ascending=[False, True], kind="stable")
    return PortfolioRisk(benefits=tot_b, npv=tot_n, cases=table.reset_index(drop=True),
                         target=None if target is None else float(target), iterations=iterations, seed=int(seed),
                         benefit_correlation=float(benefit_correlation), cost_correlation=float(cost_correlation))


def portfolio_risk(reviews: Iterable[CaseReview], basis: PortfolioBasis, *, iterations: int = DEFAULT_ITERATIONS,
                   seed: int = 0, target: float | None = None, benefit_correlation: float | None = None,
                   cost_correlation: float | None = None, exclude: Mapping[str, str] | None = None,
                   chunk_size: int = CHUNK_ITERATIONS) -> PortfolioRisk:
    """The portfolio Monte Carlo over the case reviews' outlooks (module notes).

    Parameters
    ----------
    reviews : iterable of CaseReview
        One per case, at the portfolio's review date.
    basis : PortfolioBasis
        The portfolio's one basis (every amount is restated on it).
    iterations, seed : int
    target : float, optional
        Total expected benefits to reach (``[target] benefits`` of ``portfolio.toml``).
    benefit_correlation, cost_correlation : float, optional
        The shared drivers' correlations (None: :data:`DEFAULT_BENEFIT_CORRELATION`,
        :data:`DEFAULT_COST_CORRELATION`).
    exclude : mapping, optional
        ``case_id`` → reason, cases to leave out (e.g. :attr:`PortfolioReview.nonfinite`).
    chunk_size : int

    Returns
    -------
    PortfolioRisk
        ``left_out`` names every case not simulated and why.
    """
    rb = DEFAULT_BENEFIT_CORRELATION if benefit_correlation is None else float(benefit_correlation)
    rc = DEFAULT_COST_CORRELATION if cost_correlation is None else float(cost_correlation)
    reviews = list(reviews)
    left: dict[str, str] = dict(exclude or {})
    currencies = pd.Series([r.currency for r in reviews if r.case_id not in left], dtype=object)
    currency = str(currencies.mode().sort_values().iloc[0]) if len(currencies) else ""
    rows = []
    for r in reviews:
        if r.case_id in left:
            continue
        if r.currency != currency:
            left[r.case_id] = f"in {r.currency}, not {currency}: money is never added across currencies"
            continue
        try:
            m = case_outlook_moments(r, basis)
        except AnalysisError as exc:
            left[r.case_id] = str(exc)
            continue
        if not m["restated"]:
            left[r.case_id] = m["note"]
            continue
        values = [m[c] for c in MOMENT_COLUMNS[1:]]
        if not all(math.isfinite(v) for v in values):
            left[r.case_id] = "figures not finite"
            continue
        rows.append({c: m[c] for c in MOMENT_COLUMNS})
    moments = pd.DataFrame(rows, columns=list(MOMENT_COLUMNS))
    out = simulate_portfolio(moments, iterations, seed, benefit_correlation=rb, cost_correlation=rc, target=target,
                             chunk_size=chunk_size)
    return PortfolioRisk(benefits=out.benefits, npv=out.npv, cases=out.cases, target=out.target,
                         iterations=out.iterations, seed=out.seed, benefit_correlation=rb, cost_correlation=rc,
                         currency=currency, basis=basis.describe(), left_out=left)


def portfolio_risk_summary(risk: PortfolioRisk, top: int = 10) -> dict[str, pd.DataFrame | str]:
    """The portfolio Monte Carlo for display (pure: a pack renders it as it likes).

    Returns
    -------
    dict
        ``"headline"``: a table with rows ``Total expected benefits`` and ``Total NPV`` and columns
        ``P10, P50, P90, mean`` (money on the basis); ``"drivers"``: the ``top`` cases by share of the NPV
        variance (``case_id, mean NPV (simulated), spread (sd), share of NPV variance, share of benefit
        variance``; the mean is over the three-point ranges, not the likely values of the expected NPV); ``"sentence"``: the chance of meeting the target in words, with the correlations
        and what was left out.
    """
    s = risk.summary()
    headline = pd.DataFrame(
        {"P10": [s["benefits_p10"], s["npv_p10"]], "P50": [s["benefits_p50"], s["npv_p50"]],
         "P90": [s["benefits_p90"], s["npv_p90"]], "mean": [s["benefits_mean"], s["npv_mean"]]},
        index=pd.Index(["Total expected benefits", "Total NPV"], name=f"{risk.currency} on the portfolio basis"))
    d = risk.cases.head(top)
    drivers = pd.DataFrame({"case_id": d["case_id"], "mean NPV (simulated)": d["mean_npv"], "spread (sd)": d["sd_npv"],
                            "share of NPV variance": d["share_npv_variance"],
                            "share of benefit variance": d["share_benefit_variance"]}).reset_index(drop=True)
    if risk.target is None:
        sentence = "No benefit target was stated ([target] benefits in portfolio.toml, or --target)."
    else:
        sentence = (f"Chance the portfolio's total expected benefits reach {format_money(risk.target, risk.currency, compact=True)}: "
                    f"{risk.prob_meeting_target:.0%}")
    sentence += (f" ({risk.iterations:,} iterations, seed {risk.seed}; shared benefit-realisation driver "
                 f"correlated {risk.benefit_correlation:g} and cost-overrun driver {risk.cost_correlation:g} "
                 f"across cases; {len(risk.cases)} case(s)"
                 + (f", {len(risk.left_out)} left out: {', '.join(sorted(risk.left_out))}" if risk.left_out else "")
                 + ").")
    return {"headline": headline, "drivers": drivers, "sentence": sentence}
