"""Portfolio money on one basis: every case's NPV and PVs restated to one date, rate and price base.

Each case is appraised on its own basis: discounted to the start of its own first period, at its own
rate (or Green Book schedule), in its own price base (``real`` prices of its ``base_year``, or
``nominal`` cash). Adding those NPVs adds money valued at different dates, rates and prices. A
:class:`PortfolioBasis` names one basis, and :func:`restate_portfolio` restates every case onto it.

Conventions
-----------
* **Discounting.** A flow of period ``t`` is valued at the start of its period (the case's own
  convention: ``DF[t] = (1 + r)^-(t / k)`` with ``k`` periods a year). On the portfolio basis it is
  discounted at the portfolio's annual rate ``R`` over the years from the start of the base period to
  the start of its period: ``(1 + R)^-Δ``, with ``Δ`` in quarters / 4 (negative ``Δ`` — flows before
  the base date — are compounded forward). A case whose first period is the base period, at the same
  flat rate and price base, keeps its NPV; one starting two years later at the same rate has its NPV
  times ``1 / (1 + R)^2``.
* **Prices.** Inflation is one annual rate ``i`` and prices are constant within a calendar year
  (an annual deflator, index ``(1 + i)^(year - price_year)``). On a ``real`` basis in prices of
  ``price_year`` ``P``: a nominal flow of calendar year ``y`` is divided by ``(1 + i)^(y - P)``; a real
  case in prices of its ``base_year`` ``B`` is multiplied by ``(1 + i)^(P - B)``. On a ``nominal``
  basis a real flow is multiplied by ``(1 + i)^(y - B)``. A case that needs inflation when none is
  stated is **not restated**: its figures are NaN, ``restated`` is False and ``note`` says why; the
  totals (:func:`basis_totals`) keep such cases on a separate row, never mixed in.
* Money is never added across currencies: the totals are per currency.

Examples
--------
>>> from vmo_lib.model import make_case
>>> c = make_case({"case_id": "X", "first_period": "2028Q1", "horizon": 1, "discount_rate": 0.05},
...               benefits=[{"line_id": "B1", "name": "S", "amounts": [110.25]}])
>>> r = restate_portfolio([c], PortfolioBasis("2026Q1", 0.05, price_year=2026)).loc["X"]
>>> float(r["own_npv"]), round(float(r["npv"]), 9)
(110.25, 100.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vmo_lib.analysis import appraisal
from vmo_lib.errors import AnalysisError
from vmo_lib.model import BusinessCase, Portfolio
from vmo_lib.periods import parse_period
from vmo_lib.portfolio.common import cases_of

__all__ = ["PRICE_BASES", "RESTATED_COLUMNS", "PortfolioBasis", "basis_factors", "basis_totals", "restate_portfolio"]

PRICE_BASES = ("real", "nominal")
#: Columns of :func:`restate_portfolio` (index ``case_id``).
RESTATED_COLUMNS = ("currency", "first_period", "own_rate", "own_price_base", "own_base_year", "own_npv",
                    "npv", "pv_costs", "pv_capex", "pv_benefits", "restated", "note")


def _quarter_ordinal(period: object) -> tuple[int, str]:
    """(quarter ordinal of the period's start, its length) for ``"2026Q3"`` or ``"2026"``."""
    s = str(period).strip().upper()
    length = "quarter" if "Q" in s else "year"
    y, i = parse_period(s, length)
    return y * 4 + (i if length == "quarter" else 0), length


@dataclass(frozen=True)
class PortfolioBasis:
    """One basis for the portfolio's money.

    Parameters
    ----------
    base_period : str
        Everything is valued at the start of this period (``"2026Q1"`` or ``"2026"``).
    discount_rate : float
        Annual rate, e.g. ``0.035`` (real for a real basis, nominal for a nominal one).
    price_base : {"real", "nominal"}, default "real"
    price_year : int, optional
        A real basis's price year; default the base period's year.
    inflation : float, optional
        Annual inflation for moving between nominal and real prices; None = not stated (cases that
        need it are not restated).

    Examples
    --------
    >>> PortfolioBasis("2026Q1", 0.035).describe()
    'valued at the start of 2026Q1 at 3.5% a year, real prices of 2026 (no inflation stated)'
    """

    base_period: str
    discount_rate: float
    price_base: str = "real"
    price_year: int | None = None
    inflation: float | None = None

    def __post_init__(self) -> None:
        problems = []
        try:
            _quarter_ordinal(self.base_period)
        except (ValueError, TypeError):
            problems.append(f"base_period {self.base_period!r}: expected a period such as 2026Q1 or 2026")
        if not isinstance(self.discount_rate, (int, float)) or not -1 < float(self.discount_rate) < 1:
            problems.append(f"discount_rate {self.discount_rate!r}: expected an annual rate such as 0.035")
        if self.price_base not in PRICE_BASES:
            problems.append(f"price_base {self.price_base!r}: expected one of {', '.join(PRICE_BASES)}")
        if self.price_year is not None and not (isinstance(self.price_year, int) and 1900 <= self.price_year <= 2200):
            problems.append(f"price_year {self.price_year!r}: expected a year such as 2026")
        if self.inflation is not None and (not isinstance(self.inflation, (int, float))
                                           or not -0.5 < float(self.inflation) < 1):
            problems.append(f"inflation {self.inflation!r}: expected an annual rate such as 0.02")
        if problems:
            raise AnalysisError("portfolio basis: " + "; ".join(problems))

    @property
    def year(self) -> int:
        """The price year of a real basis (the base period's year unless given)."""
        return int(self.price_year) if self.price_year is not None else _quarter_ordinal(self.base_period)[0] // 4

    def describe(self) -> str:
        """The basis in words."""
        prices = f"real prices of {self.year}" if self.price_base == "real" else "nominal prices"
        infl = "no inflation stated" if self.inflation is None else f"inflation {100 * self.inflation:g}% a year"
        return (f"valued at the start of {self.base_period} at {100 * self.discount_rate:g}% a year, {prices} "
                f"({infl})")


def basis_factors(case: BusinessCase, basis: PortfolioBasis) -> tuple[np.ndarray, str]:
    """Per period of the case: the factor that turns an amount of that period into money on ``basis``.

    Returns
    -------
    (factors, note) : tuple
        ``factors`` (length ``case.horizon``) = discount to the base date × price conversion; all
        NaN when the case cannot be restated (``note`` says why; ``""`` otherwise).

    Examples
    --------
    A nominal case on a real basis, deflated at 2 %: 102 paid in 2027 is 100 of 2026 prices.

    >>> from vmo_lib.model import make_case
    >>> c = make_case({"first_period": "2027", "period_length": "year", "horizon": 1, "price_base": "nominal",
    ...                "discount_rate": 0.0})
    >>> f, note = basis_factors(c, PortfolioBasis("2026", 0.0, inflation=0.02))
    >>> round(float(f[0] * 102), 9), note
    (100.0, '')
    """
    k = case.periods_per_year
    start, _ = _quarter_ordinal(case.meta["first_period"])
    q = start + np.arange(case.horizon) * (4 // k)            # quarter ordinal of each period's start
    base, _ = _quarter_ordinal(basis.base_period)
    years = (q - base) / 4.0
    factors = (1.0 + float(basis.discount_rate)) ** (-years)
    own = str(case.meta.get("price_base") or "real")
    cal_year = q // 4
    infl = basis.inflation
    if basis.price_base == "real":
        if own == "nominal":
            if infl is None:
                return np.full(case.horizon, math.nan), "nominal case and no inflation stated to deflate it"
            factors = factors / (1.0 + infl) ** (cal_year - basis.year)
        else:
            b = int(case.meta.get("base_year") or basis.year)
            if b != basis.year:
                if infl is None:
                    return (np.full(case.horizon, math.nan),
                            f"real prices of {b}, not {basis.year}, and no inflation stated to convert them")
                factors = factors * (1.0 + infl) ** (basis.year - b)
    elif own == "real":
        if infl is None:
            return np.full(case.horizon, math.nan), "real case and no inflation stated to inflate it"
        b = int(case.meta.get("base_year") or cal_year[0])
        factors = factors * (1.0 + infl) ** (cal_year - b)
    return factors, ""


def restate_portfolio(portfolio: Portfolio | Iterable[BusinessCase], basis: PortfolioBasis,
                      scenario: str = "current", view: str = "economic") -> pd.DataFrame:
    """Every case's NPV and PVs on its own basis and restated on ``basis``.

    Parameters
    ----------
    portfolio : Portfolio or iterable of BusinessCase
    basis : PortfolioBasis
    scenario : str, default "current"
        ``"current"`` = each case's baseline in force.
    view : {"economic", "cash"}

    Returns
    -------
    pandas.DataFrame
        Index ``case_id``, columns :data:`RESTATED_COLUMNS`: ``own_npv`` on the case's basis (as
        :func:`vmo_lib.portfolio.register.batch_appraisal`), ``npv``, ``pv_costs``, ``pv_capex``,
        ``pv_benefits`` on the portfolio basis (NaN when ``restated`` is False; ``note`` says why).
    """
    rows = []
    for c in cases_of(portfolio):
        scen = c.current_baseline if scenario == "current" else scenario
        costs, bens = appraisal.line_matrices(c, scen, view)
        cost = costs.to_numpy(dtype=float).sum(axis=0)
        ben = bens.to_numpy(dtype=float).sum(axis=0)
        cat = c.lines.set_index("line_id")["category"].reindex(costs.index).to_numpy()
        capex = costs.to_numpy(dtype=float)[cat == "capex"].sum(axis=0)
        own_df = appraisal.discount_factors(c)
        f, note = basis_factors(c, basis)
        sched = str(c.meta.get("discount_schedule") or "flat")
        rows.append({
            "case_id": c.case_id, "currency": str(c.meta.get("currency") or ""),
            "first_period": str(c.meta["first_period"]),
            "own_rate": appraisal.annual_rate_of(c) if sched == "flat" else math.nan,
            "own_price_base": str(c.meta.get("price_base") or "real"), "own_base_year": c.meta.get("base_year"),
            "own_npv": float(((ben - cost) * own_df).sum()), "npv": float(((ben - cost) * f).sum()),
            "pv_costs": float((cost * f).sum()), "pv_capex": float((capex * f).sum()),
            "pv_benefits": float((ben * f).sum()), "restated": not note,
            "note": note if sched == "flat" or note else f"own basis: Green Book {sched} schedule",
        })
    out = pd.DataFrame(rows, columns=["case_id", *RESTATED_COLUMNS]).set_index("case_id")
    return out


def basis_totals(restated: pd.DataFrame, columns: Iterable[str] = ("npv", "pv_costs", "pv_capex",
                                                                    "pv_benefits")) -> pd.DataFrame:
    """Totals on the portfolio basis per currency; cases not restated on a row of their own.

    Returns
    -------
    pandas.DataFrame
        ``currency, restated, cases`` and the money columns. Rows with ``restated`` False count the
        cases left out and carry their *own-basis* NPVs in ``own_npv`` only (never added to the
        restated totals); their other money columns are NaN.

    Examples
    --------
    >>> t = pd.DataFrame({"currency": ["GBP"] * 3, "restated": [True, True, False], "npv": [1.0, 2.0, float("nan")],
    ...                   "own_npv": [1.0, 2.5, 7.0]})
    >>> basis_totals(t, ["npv"]).values.tolist()
    [['GBP', True, 2, 3.0, 3.5], ['GBP', False, 1, nan, 7.0]]
    """
    cols = list(columns)
    g = restated.groupby(["currency", "restated"], sort=True)
    out = g[cols].sum(min_count=1)
    out["own_npv"] = g["own_npv"].sum(min_count=1)
    out.insert(0, "cases", g.size())
    out = out.reset_index().sort_values(["currency", "restated"], ascending=[True, False], kind="stable")
    return out.reset_index(drop=True)
