"""Interactive what-if explorer for challenge sessions (the only module that imports ipywidgets).

At a gate review the board asks "what if benefits arrive two quarters late?", "what if the cloud
costs are 30% higher?". :class:`WhatIfExplorer` answers on the spot in JupyterLab: pick a case,
move the controls, and NPV, IRR, payback, the verdict, the switching value of every control and
the cumulative cash-flow chart follow at once.

The logic is a small pure core, usable and tested without a browser:

* :class:`WhatIfSettings` — the controls' values (a what-if description plus the base scenario).
* :class:`WhatIf` — one case, loaded once: it precomputes each base scenario's capex, opex and
  benefit profiles and caches discount factors, so evaluating a setting is a few numpy operations,
  never a re-import.
* :class:`WhatIfResult` — NPV, IRR, paybacks, verdict, cumulative flows and
  :class:`SwitchingValues` ("benefits can fall 23% before NPV < 0").

The explorer (ipywidgets, imported lazily) only wires controls to :meth:`WhatIf.evaluate`.

Conventions: the what-if view is the appraisal's (:mod:`vmo_lib.appraisal`), so with neutral
settings every figure equals ``appraise(case, scenario)``. Delays move benefits later (those
pushed past the horizon are lost to the appraisal); cost overrun multiplies every cost line;
benefit realisation multiplies every benefit line (dis-benefits included); a discount rate set here
is a flat annual rate that replaces the case's rate and schedule.

Examples
--------
>>> from vmo_lib.model import make_case
>>> case = make_case({"case_id": "X", "first_period": "2026", "period_length": "year", "horizon": 3,
...                   "discount_rate": 0.10},
...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 66, 60.5]}])
>>> w = WhatIf(case)
>>> round(w.evaluate().npv, 6)
10.0
>>> r = w.evaluate(benefit_realisation=0.8)
>>> round(r.npv, 6)                      # 0.8 * 110 - 100
-12.0
>>> round(r.switching.benefit_realisation, 6)   # NPV is 0 at 100/110 of the benefits
0.909091
"""

from __future__ import annotations

import dataclasses
import html
import io
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import appraisal, finance
from .model import BusinessCase

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "SwitchingValues",
    "WhatIf",
    "WhatIfExplorer",
    "WhatIfResult",
    "WhatIfSettings",
    "cumulative_cash_flow_chart",
    "format_money",
    "switching_labels",
]

#: Control ranges of the explorer (in the units the user sees).
BENEFIT_RANGE = (0.0, 150.0, 5.0)       # % of planned benefits realised
COST_RANGE = (-50.0, 300.0, 5.0)        # % cost overrun
DELAY_RANGE = (0, 8, 1)                 # periods
RATE_RANGE = (0.0, 20.0, 0.25)          # % a year

_CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


# --------------------------------------------------------------------------------------------------
# settings and results
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WhatIfSettings:
    """The explorer's controls as one immutable what-if description.

    Attributes
    ----------
    scenario : str
        Base scenario the what-if starts from: ``"baseline"``, ``"rebaseline:<v>"``, or
        ``"low"``/``"likely"``/``"high"`` (three-point estimates).
    benefit_realisation : float
        Share of the planned benefits realised (1.0 = as planned, 0.8 = a 20% shortfall).
    cost_overrun : float
        Extra cost as a share of the planned cost (0.3 = +30%; -0.1 = 10% under).
    delay : int
        Whole periods by which every benefit arrives late.
    discount_rate : float or None
        Flat annual rate replacing the case's rate and schedule; None keeps the case's own.
    optimism_bias : bool
        Apply the case's optimism-bias adjustment (Green Book uplifts) before the what-if.
    """

    scenario: str = "baseline"
    benefit_realisation: float = 1.0
    cost_overrun: float = 0.0
    delay: int = 0
    discount_rate: float | None = None
    optimism_bias: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.scenario, str) or not self.scenario:
            raise ValueError(f"scenario must be a scenario name, not {self.scenario!r}")
        for name in ("benefit_realisation", "cost_overrun"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, not {v!r}")
        if self.benefit_realisation < 0:
            raise ValueError(f"benefit_realisation must be ≥ 0 (a share of the plan), not {self.benefit_realisation}")
        if self.cost_overrun <= -1:
            raise ValueError(f"cost_overrun must be > -1 (-1 would mean no cost at all), not {self.cost_overrun}")
        if isinstance(self.delay, bool) or int(self.delay) != self.delay or self.delay < 0:
            raise ValueError(f"delay must be a whole number of periods ≥ 0, not {self.delay!r}")
        object.__setattr__(self, "delay", int(self.delay))
        if self.discount_rate is not None and not (math.isfinite(self.discount_rate) and self.discount_rate > -1):
            raise ValueError(f"discount_rate must be an annual rate > -1 or None, not {self.discount_rate!r}")
        object.__setattr__(self, "optimism_bias", bool(self.optimism_bias))

    def replace(self, **changes: Any) -> WhatIfSettings:
        """A copy with some settings changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SwitchingValues:
    """How far each control can move, the others held, before the NPV changes sign.

    Attributes
    ----------
    benefit_realisation : float
        Realisation share at which NPV = 0 (NaN when the NPV does not depend on benefits).
    cost_overrun : float
        Cost overrun at which NPV = 0 (NaN when there are no costs).
    delay : float
        First whole delay (in periods, same scale as the setting) at which the NPV's sign differs
        from the current one; ``inf`` when no delay within the horizon changes it.
    discount_rate : float
        Annual discount rate at which NPV = 0: the IRR of the what-if flows (NaN when none).
    npv_positive : bool
        Whether the current NPV is ≥ 0 (the direction every switching value points to).
    """

    benefit_realisation: float
    cost_overrun: float
    delay: float
    discount_rate: float
    npv_positive: bool


@dataclass(frozen=True)
class WhatIfResult:
    """Everything the explorer shows for one setting. Amounts in the case currency.

    ``irr`` is annual; ``payback``/``discounted_payback`` are in periods from period 0 (NaN =
    never within the horizon). ``reference_npv`` is the NPV of the base scenario with no what-if
    change and the case's own discounting, for comparison.
    """

    settings: WhatIfSettings
    case_id: str
    currency: str
    periods: list[str]
    periods_per_year: int
    costs: np.ndarray = field(repr=False)
    benefits: np.ndarray = field(repr=False)
    net_flow: np.ndarray = field(repr=False)
    discount_factors: np.ndarray = field(repr=False)
    pv_costs: float
    pv_benefits: float
    npv: float
    irr: float
    payback: float
    discounted_payback: float
    reference_npv: float
    reference_cumulative: np.ndarray = field(repr=False)
    switching: SwitchingValues
    verdict: str

    @property
    def cumulative(self) -> np.ndarray:
        """Cumulative net cash flow per period (undiscounted)."""
        return np.cumsum(self.net_flow)

    @property
    def cumulative_pv(self) -> np.ndarray:
        """Cumulative discounted net cash flow per period (ends at the NPV)."""
        return np.cumsum(self.net_flow * self.discount_factors)

    @property
    def payback_years(self) -> float:
        return self.payback / self.periods_per_year

    def to_dict(self) -> dict[str, Any]:
        """Headline figures as plain data (for a pack or JSON)."""
        return {
            "case_id": self.case_id, **self.settings.to_dict(), "npv": self.npv, "irr": self.irr,
            "payback": self.payback, "discounted_payback": self.discounted_payback,
            "pv_costs": self.pv_costs, "pv_benefits": self.pv_benefits, "reference_npv": self.reference_npv,
            "verdict": self.verdict, **{f"switching_{k}": v for k, v in dataclasses.asdict(self.switching).items()},
        }


# --------------------------------------------------------------------------------------------------
# the pure core
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Base:
    """One base scenario's per-period totals (the only data a what-if needs)."""

    capex: np.ndarray
    opex: np.ndarray
    benefits: np.ndarray


# Optimism-bias starting values used until vmo_lib.risk provides the case's adjustment.
_OB_DEFAULTS = {
    "IT: equipment/development": {"ob_capex": 2.0, "ob_opex": 0.0, "ob_duration": 0.54, "ob_benefits": 0.0},
    "IT: outsourcing": {"ob_capex": 0.0, "ob_opex": 0.41, "ob_duration": 0.0, "ob_benefits": 0.0},
}


class WhatIf:
    """The what-if engine for one case: precomputed once, evaluated per setting in microseconds.

    Parameters
    ----------
    case : BusinessCase
        The loaded case (never modified).
    view : {"economic", "cash"}
        Which benefits count, as in :func:`vmo_lib.appraisal.appraise`.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "Q", "first_period": "2026Q1", "horizon": 5, "discount_rate": 0.08},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [1000]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 300, 300, 300, 300]}])
    >>> w = WhatIf(case)
    >>> round(w.evaluate().npv, 2), round(w.evaluate(delay=1).npv, 2)
    (143.91, -150.37)
    """

    def __init__(self, case: BusinessCase, view: str = "economic") -> None:
        if view not in appraisal.VIEWS:
            raise ValueError(f"view must be one of {appraisal.VIEWS}, not {view!r}")
        self.case = case
        self.view = view
        self._bases: dict[str, _Base] = {}
        self._factors: dict[float | None, np.ndarray] = {}

    # --- what can be chosen -------------------------------------------------------------------
    @property
    def scenarios(self) -> list[str]:
        """Base scenarios on offer: the approved baseline, the baseline in force if re-baselined,
        and low/likely/high when the case carries three-point estimates."""
        out = ["baseline"]
        if self.case.current_baseline != "baseline":
            out.append(self.case.current_baseline)
        lines = self.case.lines
        if len(lines) and lines[["low", "likely", "high"]].notna().any().any():
            out += ["low", "likely", "high"]
        return out

    def _base(self, scenario: str) -> _Base:
        base = self._bases.get(scenario)
        if base is None:
            base = self._bases[scenario] = self._build_base(scenario)
        return base

    def _build_base(self, scenario: str) -> _Base:
        src = self.case.current_baseline if scenario in ("low", "likely", "high") else scenario
        if src not in self.case.scenarios and src != "baseline":
            raise ValueError(f"case {self.case.case_id!r} has no scenario {scenario!r}; choose one of {self.scenarios}")
        costs, benefits = appraisal.line_matrices(self.case, src, self.view)
        c, b = costs.to_numpy(), benefits.to_numpy()
        if scenario in ("low", "likely", "high"):
            c = c * self._three_point_scale(costs, scenario, "cost")[:, None]
            b = b * self._three_point_scale(benefits, scenario, "benefit")[:, None]
        category = self.case.lines.set_index("line_id")["category"].reindex(costs.index).to_numpy()
        capex = c[category == "capex"].sum(axis=0)
        opex = c[category != "capex"].sum(axis=0)
        return _Base(capex=capex, opex=opex, benefits=b.sum(axis=0))

    def _three_point_scale(self, m, scenario: str, kind: str) -> np.ndarray:
        """Per line: the three-point total for ``scenario`` over the profile's total.

        "low" and "high" are *value* outcomes: "low" takes costs at their high estimate and
        benefits at their low one; "high" the reverse. A line with no estimate keeps its profile.
        """
        pick = {"likely": "likely", "low": "high" if kind == "cost" else "low",
                "high": "low" if kind == "cost" else "high"}[scenario]
        lines = self.case.lines.set_index("line_id").reindex(m.index)
        total = m.to_numpy().sum(axis=1)
        target = lines[pick].to_numpy(dtype=float)
        with np.errstate(all="ignore"):
            scale = np.where(np.isfinite(target) & (total != 0), target / total, 1.0)
        if kind == "benefit":  # dis-benefits are entered negative, their estimates as magnitudes
            scale = np.abs(scale)
        return scale

    def discount_factors(self, annual_rate: float | None = None) -> np.ndarray:
        """Discount factors of the case (``annual_rate`` None) or at a flat annual rate, cached."""
        key = None if annual_rate is None else round(float(annual_rate), 12)
        df = self._factors.get(key)
        if df is None:
            df = self._factors[key] = appraisal.discount_factors(self.case, key)
        return df

    # --- the what-if transformation -----------------------------------------------------------
    def _ob(self) -> dict[str, float]:
        defaults = _OB_DEFAULTS.get(str(self.case.meta.get("case_type")), {})
        out = {}
        for k in ("ob_capex", "ob_opex", "ob_duration", "ob_benefits"):
            v = self.case.meta.get(k)
            out[k] = float(v) if v is not None and v == v else float(defaults.get(k, 0.0))
        return out

    def _ob_delay(self) -> int:
        go_live = self.case.go_live_t or 0
        return int(round(self._ob()["ob_duration"] * max(go_live, 0)))

    def _profiles(self, s: WhatIfSettings) -> tuple[np.ndarray, np.ndarray, int]:
        """Cost profile (without the overrun), benefit profile (at 100% realisation, delay not
        applied) and the total delay in periods, for a setting."""
        base = self._base(s.scenario)
        capex, opex, benefits = base.capex, base.opex, base.benefits
        delay = s.delay
        if s.optimism_bias:
            ob = self._ob()
            capex = capex * (1.0 + ob["ob_capex"])
            opex = opex * (1.0 + ob["ob_opex"])
            benefits = benefits * (1.0 - ob["ob_benefits"])
            delay += self._ob_delay()
        return capex + opex, benefits, delay

    @staticmethod
    def _shift(x: np.ndarray, n: int) -> np.ndarray:
        if n <= 0:
            return x
        out = np.zeros_like(x)
        if n < x.size:
            out[n:] = x[: x.size - n]
        return out

    def evaluate(self, settings: WhatIfSettings | None = None, **changes: Any) -> WhatIfResult:
        """Evaluate one setting.

        Parameters
        ----------
        settings : WhatIfSettings, optional
            Defaults to neutral settings (the baseline as appraised).
        **changes
            Fields of :class:`WhatIfSettings` to change, e.g. ``delay=2``.

        Returns
        -------
        WhatIfResult

        Examples
        --------
        >>> from vmo_lib.model import make_case
        >>> case = make_case({"case_id": "Y", "first_period": "2026", "period_length": "year",
        ...                   "horizon": 2, "discount_rate": 0.0},
        ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
        ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 150]}])
        >>> WhatIf(case).evaluate(cost_overrun=0.5).npv
        0.0
        """
        s = settings or WhatIfSettings()
        if changes:
            s = s.replace(**changes)
        costs0, benefits1, delay = self._profiles(s)
        df = self.discount_factors(s.discount_rate)
        costs = costs0 * (1.0 + s.cost_overrun)
        benefits = self._shift(benefits1, delay) * s.benefit_realisation
        net = benefits - costs
        pv_c, pv_b = float(costs @ df), float(benefits @ df)
        npv = float(finance.npv(None, net, factors=df))
        k = self.case.periods_per_year
        irr_p = float(finance.irr(net))
        irr = (1.0 + irr_p) ** k - 1.0 if math.isfinite(irr_p) else math.nan
        ref = self._base(s.scenario)
        ref_net = ref.benefits - ref.capex - ref.opex
        reference_npv = float(ref_net @ self.discount_factors(None))
        switching = self._switching(s, costs0, benefits1, delay, df, npv, irr)
        return WhatIfResult(
            settings=s, case_id=self.case.case_id, currency=str(self.case.meta.get("currency") or ""),
            periods=self.case.periods, periods_per_year=k, costs=costs, benefits=benefits, net_flow=net,
            discount_factors=df, pv_costs=pv_c, pv_benefits=pv_b, npv=npv, irr=irr,
            payback=float(finance.payback(net)),
            discounted_payback=float(finance.discounted_payback(None, net, factors=df)),
            reference_npv=reference_npv, reference_cumulative=np.cumsum(ref_net), switching=switching,
            verdict=_verdict(npv, reference_npv, s, self.case),
        )

    def _switching(self, s: WhatIfSettings, costs0: np.ndarray, benefits1: np.ndarray, delay: int,
                   df: np.ndarray, npv: float, irr: float) -> SwitchingValues:
        """Exact switching values: NPV is linear in realisation and overrun, so each has a closed
        form; the delay is the first whole period at which the NPV changes sign (a step function);
        the discount rate is the IRR of the what-if flows."""
        pv_b1 = float(self._shift(benefits1, delay) @ df)  # benefits at 100% realisation
        pv_c0 = float(costs0 @ df)                          # costs without overrun
        c = 1.0 + s.cost_overrun
        with np.errstate(all="ignore"):
            b_star = c * pv_c0 / pv_b1 if pv_b1 != 0 else math.nan
            o_star = s.benefit_realisation * pv_b1 / pv_c0 - 1.0 if pv_c0 != 0 else math.nan
        if b_star < 0:
            b_star = math.nan  # no share of the benefits brings NPV to 0
        positive = npv >= 0
        # NPV at every delay setting d = 0..horizon at once (each row: benefits shifted d periods).
        ob_delay = delay - s.delay
        n = benefits1.size
        d = np.arange(self.case.horizon + 1)
        idx = np.arange(n)[None, :] - (d[:, None] + ob_delay)
        shifted = np.where(idx >= 0, benefits1[np.clip(idx, 0, n - 1)], 0.0)
        npvs = s.benefit_realisation * (shifted @ df) - c * pv_c0
        flips = (npvs >= 0) != positive
        later = np.flatnonzero(flips & (d > s.delay))
        sooner = np.flatnonzero(flips & (d < s.delay))
        if positive or not sooner.size:
            delay_star = float(d[later[0]]) if later.size else math.inf
        else:  # negative now: the longest delay at which NPV was still ≥ 0
            delay_star = float(d[sooner[-1]])
        return SwitchingValues(
            benefit_realisation=float(b_star), cost_overrun=float(o_star), delay=delay_star,
            discount_rate=float(irr), npv_positive=bool(positive),
        )


def _verdict(npv: float, reference_npv: float, s: WhatIfSettings, case: BusinessCase) -> str:
    cur = str(case.meta.get("currency") or "")
    diff = npv - reference_npv
    if not math.isfinite(npv):
        return "No verdict: the NPV is undefined at these settings."
    head = "Worth doing" if npv >= 0 else "Not worth doing"
    where = f"{s.scenario}" if s == WhatIfSettings(scenario=s.scenario) else f"{s.scenario} with these changes"
    cmp = ""
    if abs(diff) >= 0.5:
        word = "more" if diff > 0 else "less"
        cmp = f", {format_money(abs(diff), cur)} {word} than the unchanged {s.scenario}"
    return f"{head}: NPV {format_money(npv, cur)} on the {where}{cmp}."


def format_money(amount: float, currency: str = "GBP") -> str:
    """An amount as the board reads it: symbol, thousands separators, no pence.

    >>> format_money(-1234567.8, "GBP")
    '−£1,234,568'
    >>> format_money(950, "CHF")
    'CHF 950'
    """
    if amount is None or not math.isfinite(amount):
        return "n/a"
    sym = _CURRENCY_SYMBOLS.get(currency)
    body = f"{abs(amount):,.0f}"
    body = f"{sym}{body}" if sym else f"{currency} {body}".strip()
    return ("−" if round(amount) < 0 else "") + body


def _pct(x: float, signed: bool = False) -> str:
    return f"{x * 100:+.0f}%" if signed else f"{x * 100:.0f}%"


def switching_labels(result: WhatIfResult, period_length: str = "quarter") -> dict[str, str]:
    """One sentence per control saying how far it can move before the decision flips.

    Parameters
    ----------
    result : WhatIfResult
    period_length : {"quarter", "year"}
        Names the delay's unit.

    Returns
    -------
    dict
        Keys ``benefit_realisation``, ``cost_overrun``, ``delay``, ``discount_rate``.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "Y", "first_period": "2026", "period_length": "year",
    ...                   "horizon": 2, "discount_rate": 0.0},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 125]}])
    >>> switching_labels(WhatIf(case).evaluate(), "year")["benefit_realisation"]
    'Benefits can fall 20% (to 80% of plan) before NPV < 0'
    """
    sv, s = result.switching, result.settings
    unit = "quarter" if period_length == "quarter" else "year"
    out: dict[str, str] = {}
    pos = sv.npv_positive
    b = sv.benefit_realisation
    if not math.isfinite(b):
        out["benefit_realisation"] = "No level of benefits makes NPV ≥ 0" if not pos else "NPV does not depend on benefits"
    elif pos:
        fall = 1.0 - b / s.benefit_realisation if s.benefit_realisation else 0.0
        out["benefit_realisation"] = f"Benefits can fall {_pct(fall)} (to {_pct(b)} of plan) before NPV < 0"
    else:
        rise = b / s.benefit_realisation - 1.0 if s.benefit_realisation else math.inf
        more = f"rise {_pct(rise)}" if math.isfinite(rise) else "appear"
        out["benefit_realisation"] = f"Benefits must {more} (to {_pct(b)} of plan) for NPV ≥ 0"
    o = sv.cost_overrun
    if not math.isfinite(o):
        out["cost_overrun"] = "NPV does not depend on costs"
    elif o <= -1:
        out["cost_overrun"] = "No cost saving makes NPV ≥ 0"
    else:
        change = (1.0 + o) / (1.0 + s.cost_overrun) - 1.0
        if pos:
            out["cost_overrun"] = f"Costs can rise {_pct(change)} more (overrun {_pct(o, True)}) before NPV < 0"
        else:
            out["cost_overrun"] = f"Costs must fall {_pct(-change)} (overrun {_pct(o, True)}) for NPV ≥ 0"
    d = sv.delay
    if math.isinf(d):
        out["delay"] = ("NPV stays ≥ 0 whatever the delay of benefits within the horizon" if pos
                        else "No delay within the horizon makes NPV ≥ 0")
    else:
        more = int(d) - s.delay
        n = f"{more} more {unit}{'s' if more != 1 else ''}"
        if not pos:
            out["delay"] = (f"NPV ≥ 0 at a delay of {int(d)} or less" if more < 0
                            else f"NPV ≥ 0 after {n} (delay {int(d)})")
        elif more <= 1:
            out["delay"] = f"One more {unit} of delay makes NPV < 0"
        else:
            out["delay"] = f"Benefits can slip {more - 1} more {unit}s; at a delay of {int(d)} NPV < 0"
    r = sv.discount_rate
    if not math.isfinite(r):
        out["discount_rate"] = "No discount rate changes the sign of NPV"
    else:
        out["discount_rate"] = (f"NPV < 0 above a discount rate of {r * 100:.1f}% (the IRR)" if pos
                                else f"NPV ≥ 0 below a discount rate of {r * 100:.1f}% (the IRR)")
    return out


# --------------------------------------------------------------------------------------------------
# chart
# --------------------------------------------------------------------------------------------------
def cumulative_cash_flow_chart(result: WhatIfResult, ax: Axes | None = None) -> Figure:
    """Cumulative net cash flow of a what-if against its unchanged base scenario.

    Parameters
    ----------
    result : WhatIfResult
    ax : matplotlib Axes, optional
        Drawn into when given; otherwise a new figure (not attached to pyplot).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "Y", "first_period": "2026", "period_length": "year", "horizon": 2},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 150]}])
    >>> fig = cumulative_cash_flow_chart(WhatIf(case).evaluate(delay=1))
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['What-if (cumulative)', 'baseline unchanged', 'What-if (discounted)']
    """
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.5, 3.4), dpi=100, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    x = np.arange(len(result.periods))
    cur = result.currency
    ax.axhline(0, color="#888888", linewidth=0.8)
    ax.plot(x, result.cumulative, color="#1f5fa8", linewidth=2.2, label="What-if (cumulative)")
    ax.plot(x, result.reference_cumulative, color="#999999", linewidth=1.4, linestyle="--",
            label=f"{result.settings.scenario} unchanged")
    ax.plot(x, result.cumulative_pv, color="#1f5fa8", linewidth=1.0, linestyle=":",
            label="What-if (discounted)")
    ax.fill_between(x, result.cumulative, 0, where=result.cumulative < 0, color="#c0392b", alpha=0.08)
    ax.fill_between(x, result.cumulative, 0, where=result.cumulative >= 0, color="#27ae60", alpha=0.08)
    if math.isfinite(result.payback):
        ax.axvline(result.payback, color="#27ae60", linewidth=1, linestyle="-.")
        ax.annotate("payback", (result.payback, 0), textcoords="offset points", xytext=(4, 6),
                    fontsize=8, color="#27ae60")
    step = max(1, len(x) // 10)
    ax.set_xticks(x[::step], [result.periods[i] for i in x[::step]], fontsize=8)
    ax.yaxis.set_major_formatter(lambda v, _pos: format_money(v, cur))
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(f"{result.case_id}: cumulative net cash flow", fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def _figure_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------
# the ipywidgets explorer
# --------------------------------------------------------------------------------------------------
_CSS = """
<style>
.vmo-whatif {font-family: system-ui, -apple-system, "Segoe UI", sans-serif;}
.vmo-title {font-size: 1.25em; font-weight: 600; margin: 2px 0 0 0;}
.vmo-sub {color: #666; font-size: 0.9em;}
.vmo-cards {display: flex; gap: 10px; flex-wrap: wrap;}
.vmo-card {border: 1px solid #dde3ea; border-radius: 6px; padding: 6px 12px; min-width: 130px; background: #fafbfc;}
.vmo-card .vmo-label {color: #666; font-size: 0.8em; text-transform: uppercase; letter-spacing: .04em;}
.vmo-card .vmo-value {font-size: 1.35em; font-weight: 600;}
.vmo-pos {color: #1e7d3c;} .vmo-neg {color: #b03a2e;}
.vmo-verdict {padding: 6px 10px; border-radius: 6px; margin-top: 6px;}
.vmo-verdict.vmo-pos {background: #e8f5ec;} .vmo-verdict.vmo-neg {background: #fbeaea;}
.vmo-switch {color: #555; font-size: 0.85em; line-height: 1.25;}
.vmo-status {color: #555; font-size: 0.85em;}
</style>
"""


def _case_workbooks(folder: Path) -> list[Path]:
    """Business-case workbooks in a folder (not saved-scenario files, lock or hidden files)."""
    from .scenarios_io import SCENARIO_SUFFIX

    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in (".xlsx", ".xlsm") and not p.name.startswith(("~$", "."))
                  and not p.name.endswith(SCENARIO_SUFFIX) and p.is_file())


class WhatIfExplorer:
    """The challenge-session UI: controls on the left, figures and the chart on the right.

    Parameters
    ----------
    folder_or_case : path-like or BusinessCase
        A folder of case workbooks (a case picker lists them), one workbook, or a loaded case
        (saving scenarios then needs ``case.source``).
    case_id : str, optional
        In a folder, the case to open first (by case id or file stem); default the first.
    view : {"economic", "cash"}

    Attributes
    ----------
    whatif : WhatIf
        The engine of the current case.
    settings : WhatIfSettings
        The current controls.
    result : WhatIfResult
        The figures on display (updated on every change).
    widget : ipywidgets.Widget
        The whole UI (also what the explorer displays as in a notebook).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "Y", "first_period": "2026", "period_length": "year",
    ...                   "horizon": 2, "discount_rate": 0.0},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 150]}])
    >>> ex = WhatIfExplorer(case)
    >>> ex.controls["benefit_realisation"].value = 80     # the slider, in percent
    >>> ex.result.npv
    20.0
    """

    def __init__(self, folder_or_case: str | os.PathLike[str] | BusinessCase, case_id: str | None = None,
                 view: str = "economic") -> None:
        import ipywidgets as w

        self._w = w
        self.view = view
        self._engines: dict[str, WhatIf] = {}
        self._holding = False
        self._paths: dict[str, Path] = {}
        self.case_path: Path | None = None
        if isinstance(folder_or_case, BusinessCase):
            case = folder_or_case
            self.case_path = Path(case.source) if case.source else None
        else:
            p = Path(folder_or_case)
            if p.is_dir():
                books = _case_workbooks(p)
                if not books:
                    from .errors import WorkbookError

                    raise WorkbookError(p, "contains no case workbook (*.xlsx)")
                self._paths = {b.stem: b for b in books}
            else:
                self._paths = {p.stem: p}
            first = self._pick_first(case_id)
            case = None
        self._build_ui()
        if case is not None:
            self._set_engine(WhatIf(case, view), key=case.case_id)
        else:
            self.case_picker.value = first
            self._open(first)

    # --- construction -------------------------------------------------------------------------
    def _pick_first(self, case_id: str | None) -> str:
        if case_id is None:
            return next(iter(self._paths))
        if case_id in self._paths:
            return case_id
        for stem in self._paths:  # a case id that differs from its file name
            if stem.lower() == str(case_id).lower():
                return stem
        raise ValueError(f"no workbook for case {case_id!r} among {list(self._paths)}")

    def _build_ui(self) -> None:
        w = self._w
        slider_layout = w.Layout(width="380px")
        style = {"description_width": "150px"}
        self.case_picker = w.Dropdown(options=list(self._paths), description="Case", style=style,
                                      layout=w.Layout(width="380px", display="" if len(self._paths) > 1 else "none"))
        self.case_picker.add_class("vmo-case-picker")
        self.scenario_picker = w.Dropdown(options=["baseline"], value="baseline", description="Scenario",
                                          style=style, layout=w.Layout(width="380px"))
        self.scenario_picker.add_class("vmo-scenario")
        lo, hi, st = BENEFIT_RANGE
        self.controls: dict[str, Any] = {
            "benefit_realisation": w.FloatSlider(value=100, min=lo, max=hi, step=st, readout_format=".0f",
                                                 description="Benefits realised %", continuous_update=False,
                                                 style=style, layout=slider_layout),
            "cost_overrun": w.FloatSlider(value=0, min=COST_RANGE[0], max=COST_RANGE[1], step=COST_RANGE[2],
                                          readout_format="+.0f", description="Cost overrun %",
                                          continuous_update=False, style=style, layout=slider_layout),
            "delay": w.IntSlider(value=0, min=DELAY_RANGE[0], max=DELAY_RANGE[1], step=DELAY_RANGE[2],
                                 description="Benefit delay", continuous_update=False, style=style,
                                 layout=slider_layout),
            "discount_rate": w.FloatSlider(value=0, min=RATE_RANGE[0], max=RATE_RANGE[1], step=RATE_RANGE[2],
                                           readout_format=".2f", description="Discount rate % a year",
                                           continuous_update=False, style=style, layout=slider_layout),
            "optimism_bias": w.Checkbox(value=False, description="Apply optimism bias (Green Book uplifts)",
                                        indent=False, layout=w.Layout(width="380px")),
        }
        for name, ctl in self.controls.items():
            ctl.add_class(f"vmo-{name.replace('_', '-')}")
        self.switch_labels = {name: w.HTML(layout=w.Layout(width="330px")) for name in
                              ("benefit_realisation", "cost_overrun", "delay", "discount_rate", "optimism_bias")}
        for name, lab in self.switch_labels.items():
            lab.add_class(f"vmo-switch-{name.replace('_', '-')}")
        self.header = w.HTML()
        self.cards = w.HTML()
        self.cards.add_class("vmo-figures")
        self.verdict = w.HTML()
        self.chart = w.Image(format="png", layout=w.Layout(width="100%", max_width="760px"))
        self.chart.add_class("vmo-chart")
        self.scenario_name = w.Text(placeholder="name, e.g. Board: 2Q late", description="Save as",
                                    style={"description_width": "60px"}, layout=w.Layout(width="300px"))
        self.save_button = w.Button(description="Save scenario", icon="save", button_style="primary",
                                    layout=w.Layout(width="130px"))
        self.reset_button = w.Button(description="Reset", icon="undo", layout=w.Layout(width="90px"))
        self.status = w.HTML()
        self.status.add_class("vmo-status")

        self.case_picker.observe(self._on_case, names="value")
        self.scenario_picker.observe(self._on_scenario, names="value")
        for ctl in self.controls.values():
            ctl.observe(self._on_control, names="value")
        self.save_button.on_click(lambda _b: self.save(self.scenario_name.value))
        self.reset_button.on_click(lambda _b: self.reset())

        rows = [w.HBox([self.controls[n], self.switch_labels[n]], layout=w.Layout(align_items="center"))
                for n in self.controls]
        left = w.VBox([self.case_picker, self.scenario_picker, *rows,
                       w.HBox([self.scenario_name, self.save_button, self.reset_button]), self.status],
                      layout=w.Layout(min_width="720px"))
        right = w.VBox([self.cards, self.verdict, self.chart], layout=w.Layout(min_width="560px"))
        self.widget = w.VBox([w.HTML(_CSS), self.header, w.HBox([left, right], layout=w.Layout(flex_flow="row wrap"))])
        self.widget.add_class("vmo-whatif")

    # --- case and scenario --------------------------------------------------------------------
    def _open(self, stem: str) -> None:
        from .loader import load_case

        engine = self._engines.get(stem)
        if engine is None:
            try:
                case = load_case(self._paths[stem])
            except Exception as exc:  # noqa: BLE001 - show it in the UI, keep the explorer alive
                self.status.value = f"<span class='vmo-neg'>Cannot open {html.escape(stem)}: {html.escape(str(exc))}</span>"
                return
            engine = self._engines[stem] = WhatIf(case, self.view)
        self.case_path = self._paths[stem]
        self._set_engine(engine, key=stem)

    def _set_engine(self, engine: WhatIf, key: str) -> None:
        self._engines[key] = engine
        self.whatif = engine
        case = engine.case
        self._saved = self._load_saved()
        self._holding = True
        try:
            self.scenario_picker.options = self._scenario_options()
            self.scenario_picker.value = "baseline"
            self._apply_settings(WhatIfSettings())
        finally:
            self._holding = False
        rate = self._case_rate_text()
        self.controls["discount_rate"].description = "Discount rate % a year"
        unit = "quarters" if case.period_length == "quarter" else "years"
        self.controls["delay"].description = f"Benefit delay ({unit})"
        self.header.value = (f"<div class='vmo-title'>{html.escape(case.case_id)} — {html.escape(case.title)}</div>"
                             f"<div class='vmo-sub'>{html.escape(str(case.meta.get('status') or ''))} · "
                             f"{case.horizon} {case.period_length}s from {html.escape(str(case.meta['first_period']))}"
                             f" · discounting: {html.escape(rate)} · {html.escape(engine.view)} view</div>")
        self.save_button.disabled = self.case_path is None
        self.save_button.tooltip = "" if self.case_path else "a case built in code has no workbook to save beside"
        self.status.value = ""
        self.update()

    def _case_rate_text(self) -> str:
        meta = self.whatif.case.meta
        sched = str(meta.get("discount_schedule") or "flat")
        if sched != "flat":
            return f"{sched} schedule"
        return f"{float(meta['discount_rate']) * 100:.2f}% a year"

    def _scenario_options(self) -> list[tuple[str, str]]:
        labels = {"baseline": "Approved baseline", "low": "Low (3-point: costs high, benefits low)",
                  "likely": "Likely (3-point)", "high": "High (3-point: costs low, benefits high)"}
        opts = []
        for s in self.whatif.scenarios:
            label = labels.get(s) or f"Current baseline ({s.split(':', 1)[-1]})"
            opts.append((label, s))
        opts += [(f"★ saved: {name}", f"saved:{name}") for name in self._saved]
        return opts

    def _load_saved(self) -> dict[str, WhatIfSettings]:
        if self.case_path is None:
            return {}
        from .scenarios_io import load_scenarios

        try:
            return load_scenarios(self.case_path)
        except Exception as exc:  # noqa: BLE001 - a damaged scenarios file must not block the explorer
            self.status.value = f"<span class='vmo-neg'>{html.escape(str(exc))}</span>"
            return {}

    def _on_case(self, change: Mapping[str, Any]) -> None:
        if change["new"] and not self._holding:
            self._open(change["new"])

    def _on_scenario(self, change: Mapping[str, Any]) -> None:
        if self._holding or not change["new"]:
            return
        value = str(change["new"])
        if value.startswith("saved:"):
            saved = self._saved.get(value[len("saved:"):])
            if saved is not None:
                self._apply_settings(saved)
                self.status.value = f"Loaded saved scenario <b>{html.escape(value[6:])}</b>."
        self.update()

    def _on_control(self, _change: Mapping[str, Any]) -> None:
        if not self._holding:
            self.update()

    # --- settings <-> controls ----------------------------------------------------------------
    def _apply_settings(self, s: WhatIfSettings) -> None:
        """Move every control to ``s`` without recomputing on each move."""
        held, self._holding = self._holding, True
        try:
            c = self.controls
            c["benefit_realisation"].value = s.benefit_realisation * 100
            c["cost_overrun"].value = s.cost_overrun * 100
            c["delay"].value = s.delay
            self._rate_override = s.discount_rate
            c["discount_rate"].value = (s.discount_rate if s.discount_rate is not None
                                        else appraisal.annual_rate_of(self.whatif.case)) * 100
            c["optimism_bias"].value = s.optimism_bias
            self._base_scenario = s.scenario
        finally:
            self._holding = held

    @property
    def settings(self) -> WhatIfSettings:
        c = self.controls
        pick = str(self.scenario_picker.value or "baseline")
        scenario = self._base_scenario if pick.startswith("saved:") else pick
        rate = c["discount_rate"].value / 100
        case_rate = appraisal.annual_rate_of(self.whatif.case)
        # The slider starts at the case's own rate; until it is moved the case's discounting
        # (which may be a Green Book schedule) applies.
        same_as_start = self._rate_override is None and math.isclose(rate, case_rate, abs_tol=1e-12)
        return WhatIfSettings(
            scenario=scenario,
            benefit_realisation=c["benefit_realisation"].value / 100,
            cost_overrun=c["cost_overrun"].value / 100,
            delay=int(c["delay"].value),
            discount_rate=None if same_as_start else rate,
            optimism_bias=bool(c["optimism_bias"].value),
        )

    # --- actions ------------------------------------------------------------------------------
    def update(self) -> WhatIfResult:
        """Recompute from the controls and refresh every output (what a control change calls)."""
        s = self.settings
        if s.discount_rate is not None:
            self._rate_override = s.discount_rate
        self.result = r = self.whatif.evaluate(s)
        self._render(r)
        return r

    def set(self, **settings: Any) -> WhatIfResult:
        """Move controls programmatically in setting units (``set(benefit_realisation=0.8, delay=2)``)."""
        s = self.settings.replace(**settings)
        self._apply_settings(s)
        if "scenario" in settings:
            held, self._holding = self._holding, True
            self.scenario_picker.value = s.scenario
            self._holding = held
        return self.update()

    def reset(self) -> WhatIfResult:
        """Back to the unchanged base scenario and the case's own discounting."""
        self._holding = True
        try:
            self.scenario_picker.value = "baseline"
            self._apply_settings(WhatIfSettings())
        finally:
            self._holding = False
        self.status.value = ""
        return self.update()

    def save(self, name: str) -> Path | None:
        """Save the current settings as a named scenario beside the case workbook."""
        from .scenarios_io import save_scenario

        if self.case_path is None:
            self.status.value = "<span class='vmo-neg'>This case was built in code: there is no workbook to save beside.</span>"
            return None
        try:
            path = save_scenario(self.case_path, name, self.settings)
        except (ValueError, OSError) as exc:
            self.status.value = f"<span class='vmo-neg'>Not saved: {html.escape(str(exc))}</span>"
            return None
        self._saved = self._load_saved()
        held, self._holding = self._holding, True
        try:
            current = self.scenario_picker.value
            self.scenario_picker.options = self._scenario_options()
            self.scenario_picker.value = f"saved:{name.strip()}" if current.startswith("saved:") else current
        finally:
            self._holding = held
        self.status.value = f"Saved <b>{html.escape(name.strip())}</b> to {html.escape(path.name)}."
        return path

    # --- rendering ----------------------------------------------------------------------------
    def _render(self, r: WhatIfResult) -> None:
        cur = r.currency
        k = r.periods_per_year
        sign = "vmo-pos" if r.npv >= 0 else "vmo-neg"
        irr = f"{r.irr * 100:.1f}%" if math.isfinite(r.irr) else "none"

        def when(p: float) -> str:
            if not math.isfinite(p):
                return "never"
            label = r.periods[min(int(math.ceil(p)), len(r.periods) - 1)]
            return f"{p / k:.1f} years <span class='vmo-sub'>({label})</span>"

        def card(label: str, css: str, value: str, data: float, extra: str = "") -> str:
            data_attr = f"{data!r}" if math.isfinite(data) else "nan"
            return (f"<div class='vmo-card'><div class='vmo-label'>{label}</div>"
                    f"<div class='vmo-value {extra}'><span class='{css}' data-value='{data_attr}'>{value}</span>"
                    f"</div></div>")

        self.cards.value = (
            "<div class='vmo-cards'>"
            + card("NPV", "vmo-npv", format_money(r.npv, cur), r.npv, sign)
            + card("IRR (annual)", "vmo-irr", irr, r.irr)
            + card("Payback", "vmo-payback", when(r.payback), r.payback)
            + card("Discounted payback", "vmo-dpayback", when(r.discounted_payback), r.discounted_payback)
            + card(f"vs unchanged {html.escape(r.settings.scenario)}", "vmo-delta",
                   format_money(r.npv - r.reference_npv, cur), r.npv - r.reference_npv)
            + "</div>"
        )
        self.verdict.value = f"<div class='vmo-verdict {sign}'>{html.escape(r.verdict)}</div>"
        labels = switching_labels(r, self.whatif.case.period_length)
        for name, text in labels.items():
            self.switch_labels[name].value = f"<div class='vmo-switch'>{html.escape(text)}</div>"
        if r.settings.optimism_bias:
            ob = self.whatif._ob()
            self.switch_labels["optimism_bias"].value = (
                f"<div class='vmo-switch'>capex +{ob['ob_capex'] * 100:.0f}%, opex +{ob['ob_opex'] * 100:.0f}%, "
                f"benefits −{ob['ob_benefits'] * 100:.0f}%, benefits {self.whatif._ob_delay()} period(s) later</div>")
        else:
            self.switch_labels["optimism_bias"].value = ""
        fig = cumulative_cash_flow_chart(r)
        self.chart.value = _figure_png(fig)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:  # a notebook displays the explorer as its UI
        return self.widget._repr_mimebundle_(**kwargs)
