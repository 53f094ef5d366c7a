"""Interactive what-if explorer for challenge sessions (the only module that imports ipywidgets).

At a gate review the board asks "what if benefits arrive two quarters late?", "what if the cloud
costs are 30% higher?". :class:`WhatIfExplorer` answers on the spot in JupyterLab: pick a case,
move the controls, and NPV, IRR, payback, the verdict, the switching value of every control and
the cumulative cash-flow chart follow at once.

The logic is a small pure core, usable and tested without a browser:

* :class:`WhatIfSettings` — a base scenario plus a :class:`vmo_lib.analysis.scenarios.WhatIf`, the what-if
  description notebooks, the risk module and the batch review share (one mechanism: the rules are
  written once, in :mod:`vmo_lib.analysis.scenarios`).
* :class:`WhatIfEngine` — one case, loaded once: each base scenario becomes
  :class:`~vmo_lib.analysis.scenarios.CaseMatrices` the first time it is used, so a control change is a few
  numpy operations on those arrays, never a re-import.
* :class:`WhatIfResult` — NPV, IRR, paybacks, the value verdict against the unchanged scenario
  (:func:`vmo_lib.analysis.realisation.verdict`), cumulative flows and :class:`SwitchingValues`
  (:func:`vmo_lib.analysis.risk.switching_values` of the current what-if: "benefits can fall 23% before
  NPV < 0").

The explorer (ipywidgets, imported lazily) only wires controls to :meth:`WhatIfEngine.evaluate`.
With neutral settings every figure equals ``appraise(case, scenario)``.

Examples
--------
>>> from vmo_lib.model import make_case
>>> case = make_case({"case_id": "X", "first_period": "2026", "period_length": "year", "horizon": 3,
...                   "discount_rate": 0.10},
...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 66, 60.5]}])
>>> w = WhatIfEngine(case)
>>> round(w.evaluate().npv, 6)
10.0
>>> r = w.evaluate(benefit_realisation=0.8)
>>> round(r.npv, 6)                      # 0.8 * 110 - 100
-12.0
>>> round(r.switching.benefit_realisation, 6)   # NPV is 0 at 100/110 of the benefits
0.909091
"""

from __future__ import annotations

import base64
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
import pandas as pd
from matplotlib.figure import Figure

from vmo_lib.analysis import appraisal, finance
from vmo_lib.analysis.realisation import EXPECTED, Verdict, known_at
from vmo_lib.analysis.realisation import verdict as value_verdict
from vmo_lib.analysis.risk import switching_values
from vmo_lib.analysis.scenarios import (
    THREE_POINT_SCENARIOS,
    CaseMatrices,
    WhatIf,
    apply_what_if,
    three_point_scenarios,
)
from vmo_lib.errors import AnalysisError
from vmo_lib.model import BusinessCase
from vmo_lib.outputs.charts import (
    PALETTE,
    currency_formatter,
    figure_and_axes,
    format_money,
    style_axes,
    thin_ticks,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "WHAT_IF_CONTROLS",
    "SwitchingValues",
    "WhatIfEngine",
    "WhatIfExplorer",
    "WhatIfResult",
    "WhatIfSettings",
    "cumulative_cash_flow_chart",
    "switching_labels",
]

#: Control ranges of the explorer (in the units the user sees).
BENEFIT_RANGE = (0.0, 150.0, 5.0)       # % of planned benefits realised
COST_RANGE = (-50.0, 300.0, 5.0)        # % cost overrun
DELAY_RANGE = (0, 8, 1)                 # periods
RATE_RANGE = (0.0, 20.0, 0.25)          # % a year



# --------------------------------------------------------------------------------------------------
# settings and results
# --------------------------------------------------------------------------------------------------
_NEUTRAL = WhatIf()
#: Fields of :class:`vmo_lib.analysis.scenarios.WhatIf` that are controls (``name`` is the saved name).
WHAT_IF_CONTROLS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(WhatIf) if f.name != "name")


@dataclass(frozen=True)
class WhatIfSettings:
    """The explorer's state: a base scenario and a what-if on top of it.

    The what-if is :class:`vmo_lib.analysis.scenarios.WhatIf`, the description notebooks, the risk module
    and the batch review share, so a setting found here means the same everywhere
    (``apply_what_if(case, settings.what_if, settings.scenario)``).

    Attributes
    ----------
    scenario : str
        ``"baseline"``, ``"rebaseline:<v>"``, ``"pessimistic"``/``"likely"``/``"optimistic"``
        (three-point estimates) or ``"expected"`` (actuals to date + forecast, when the explorer has
        an ``as_of``).
    what_if : vmo_lib.analysis.scenarios.WhatIf
        ``cost_overrun``, ``benefit_realisation``, ``delay_periods``, ``discount_rate``,
        ``optimism_bias`` (read them directly on the settings too: ``settings.delay_periods``).

    Examples
    --------
    >>> s = WhatIfSettings().replace(delay_periods=2, scenario="likely")
    >>> s.scenario, s.delay_periods, s.what_if.cost_overrun
    ('likely', 2, 0.0)
    """

    scenario: str = "baseline"
    what_if: WhatIf = _NEUTRAL

    def __post_init__(self) -> None:
        if not isinstance(self.scenario, str) or not self.scenario.strip():
            raise ValueError(f"scenario must be a scenario name, not {self.scenario!r}")
        if not isinstance(self.what_if, WhatIf):
            raise TypeError(f"what_if must be a vmo_lib.analysis.scenarios.WhatIf, not {type(self.what_if).__name__}")

    def __getattr__(self, name: str) -> Any:
        if name in WHAT_IF_CONTROLS:
            return getattr(self.what_if, name)
        raise AttributeError(name)

    def replace(self, **changes: Any) -> WhatIfSettings:
        """A copy with some settings changed (``scenario`` or any what-if control; validated)."""
        scenario = changes.pop("scenario", self.scenario)
        return WhatIfSettings(scenario, dataclasses.replace(self.what_if, **changes) if changes else self.what_if)

    def to_dict(self) -> dict[str, Any]:
        """``scenario`` then every control, as plain data."""
        return {"scenario": self.scenario, **{k: getattr(self.what_if, k) for k in WHAT_IF_CONTROLS}}

    def describe(self, period_length: str = "quarter") -> str:
        """The what-if in words, only what differs from plan (``"no changes"`` when nothing differs).

        Parameters
        ----------
        period_length : {"quarter", "year"}
            Names the delay's unit.

        Returns
        -------
        str

        Examples
        --------
        >>> WhatIfSettings().replace(benefit_realisation=0.8, cost_overrun=0.3, delay_periods=2).describe()
        'benefits 80% of plan, costs +30%, benefits 2 quarters late'
        >>> WhatIfSettings().replace(discount_rate=0.035, optimism_bias=True).describe("year")
        'discount rate 3.50% a year, optimism bias applied'
        >>> WhatIfSettings().describe()
        'no changes'
        """
        w = self.what_if
        unit = "quarter" if period_length == "quarter" else "year"
        parts = []
        if w.benefit_realisation != 1:
            parts.append(f"benefits {w.benefit_realisation * 100:.0f}% of plan")
        if w.cost_overrun:
            parts.append(f"costs {w.cost_overrun * 100:+.0f}%")
        if w.delay_periods:
            parts.append(f"benefits {w.delay_periods} {unit}{'s' if w.delay_periods != 1 else ''} late")
        if w.discount_rate is not None:
            parts.append(f"discount rate {w.discount_rate * 100:.2f}% a year")
        if w.optimism_bias:
            parts.append("optimism bias applied")
        return ", ".join(parts) or "no changes"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "") -> WhatIfSettings:
        """Build from plain data (unknown keys are an error naming them)."""
        d = dict(data)
        scenario = d.pop("scenario", "baseline")
        d.pop("name", None)
        return cls(scenario, WhatIf.from_dict({**d, "name": name}))


@dataclass(frozen=True)
class SwitchingValues:
    """How far each control can move, the others held, before NPV reaches zero, in the controls'
    own units (from :func:`vmo_lib.analysis.risk.switching_values` of the current what-if).

    Attributes
    ----------
    benefit_realisation : float
        Realisation share at which NPV = 0 (NaN when none).
    cost_overrun : float
        Cost overrun at which NPV = 0 (NaN when none).
    delay_periods : float
        Benefit delay at which NPV first reaches 0 (fractional: exact between whole periods; NaN
        when NPV is negative now or stays positive whatever the delay).
    discount_rate : float
        Annual discount rate at which NPV = 0: the IRR (NaN when none).
    npv_positive : bool
        Whether the current NPV is ≥ 0.
    table : pandas.DataFrame
        The risk module's table (``driver, value, unit, npv_at_value, note``) relative to the
        current what-if.
    """

    benefit_realisation: float
    cost_overrun: float
    delay_periods: float
    discount_rate: float
    npv_positive: bool
    table: pd.DataFrame = field(repr=False, compare=False)


@dataclass(frozen=True)
class WhatIfResult:
    """Everything the explorer shows for one setting. Amounts in the case currency.

    ``irr`` is annual; ``payback``/``discounted_payback`` are in periods from period 0 (NaN =
    never within the horizon). ``reference_*`` describe the base scenario with no what-if and the
    case's own discounting; ``verdict`` compares the two with
    :func:`vmo_lib.analysis.realisation.verdict` (value created / on track / at risk / value destroyed).
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
    verdict: Verdict

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

    @property
    def verdict_sentence(self) -> str:
        """The verdict in words with the figures, comparing the what-if with its base scenario as
        planned: "At risk: NPV £3.17m with this what-if, £1.82m below the approved baseline
        without changes (£4.99m). Rule: ..." (the rule of :func:`vmo_lib.analysis.realisation.verdict`, whose
        "expected NPV" is here the what-if's)."""
        v = self.verdict
        cur = self.currency
        diff = v.change
        cmp = "the same as" if abs(diff) < 0.5 else (
            f"{format_money(abs(diff), cur)} {'above' if diff > 0 else 'below'}")
        base = WhatIfEngine.scenario_label(self.settings.scenario)
        rule = v.rule.replace("expected NPV", "the what-if NPV")
        return (f"{v.label.capitalize()}: NPV {format_money(self.npv, cur)} with this what-if, {cmp} the "
                f"{base[:1].lower() + base[1:]} without changes ({format_money(self.reference_npv, cur)}). "
                f"Rule: {rule}.")

    def to_dict(self) -> dict[str, Any]:
        """Headline figures as plain data (for a pack or JSON)."""
        sv = self.switching
        return {
            "case_id": self.case_id, **self.settings.to_dict(), "npv": self.npv, "irr": self.irr,
            "payback": self.payback, "discounted_payback": self.discounted_payback,
            "pv_costs": self.pv_costs, "pv_benefits": self.pv_benefits, "reference_npv": self.reference_npv,
            "verdict": self.verdict.label, "switching_benefit_realisation": sv.benefit_realisation,
            "switching_cost_overrun": sv.cost_overrun, "switching_delay_periods": sv.delay_periods,
            "switching_discount_rate": sv.discount_rate,
        }


# --------------------------------------------------------------------------------------------------
# the pure core
# --------------------------------------------------------------------------------------------------
_THREE_POINT_LABELS = {"pessimistic": "Low (3-point: costs high, benefits low)", "likely": "Likely (3-point)",
                       "optimistic": "High (3-point: costs low, benefits high)"}


class WhatIfEngine:
    """The what-if engine of one case: precomputed once, evaluated per setting in well under a
    millisecond of numpy.

    Each base scenario becomes :class:`vmo_lib.analysis.scenarios.CaseMatrices` the first time it is asked
    for (the only step that reads the case's tables); a setting is then
    :func:`vmo_lib.analysis.scenarios.apply_what_if` on those arrays, the shared what-if rules.

    Parameters
    ----------
    case : BusinessCase
        The loaded case (never modified).
    view : {"economic", "cash"}
        Which benefits count, as in :func:`vmo_lib.analysis.appraisal.appraise`.
    as_of : period label, optional
        Review date; adds the base scenario ``"expected"`` (actuals to date + forecast).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "Q", "first_period": "2026Q1", "horizon": 5, "discount_rate": 0.08},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [1000]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 300, 300, 300, 300]}])
    >>> w = WhatIfEngine(case)
    >>> round(w.evaluate().npv, 2), round(w.evaluate(delay_periods=1).npv, 2)
    (143.91, -150.37)
    """

    def __init__(self, case: BusinessCase, view: str = "economic", as_of: object = None) -> None:
        if view not in appraisal.VIEWS:
            raise ValueError(f"view must be one of {appraisal.VIEWS}, not {view!r}")
        self.case = case
        self.view = view
        self.as_of = as_of
        self._matrices: dict[str, CaseMatrices] = {}
        self._derived: dict[str, BusinessCase] = {}

    # --- what can be chosen -------------------------------------------------------------------
    @property
    def scenarios(self) -> list[str]:
        """Base scenarios on offer: the approved baseline, the baseline in force when re-baselined,
        the three-point scenarios when the case has ranges, and ``expected`` when ``as_of`` is set."""
        out = ["baseline"]
        if self.case.current_baseline != "baseline":
            out.append(self.case.current_baseline)
        lines = self.case.lines
        if len(lines) and lines[["low", "high"]].notna().any().any() and self._three_point() is not None:
            out += list(THREE_POINT_SCENARIOS)
        if self.as_of is not None:
            out.append(EXPECTED)
        return out

    @staticmethod
    def scenario_label(scenario: str) -> str:
        """How the scenario picker names a base scenario."""
        if scenario == "baseline":
            return "Approved baseline"
        if scenario.startswith("rebaseline:"):
            return f"Current baseline ({scenario.split(':', 1)[1]})"
        if scenario == EXPECTED:
            return "Expected (actuals + forecast)"
        return _THREE_POINT_LABELS.get(scenario, scenario)

    def _three_point(self) -> BusinessCase | None:
        if "three-point" not in self._derived:
            try:
                self._derived["three-point"] = three_point_scenarios(self.case, self.case.current_baseline)
            except AnalysisError:
                self._derived["three-point"] = None  # a broken range: those scenarios are not offered
        return self._derived["three-point"]

    def matrices(self, scenario: str = "baseline") -> CaseMatrices:
        """The precomputed arrays of a base scenario (built once, then cached)."""
        m = self._matrices.get(scenario)
        if m is None:
            if scenario in THREE_POINT_SCENARIOS:
                source = self._three_point()
            elif scenario == EXPECTED and self.as_of is not None:
                # the review's outlook: actuals to date fixed, what-ifs move only what is still to come
                m = self._matrices[scenario] = CaseMatrices.outlook(self.case, self.as_of, self.view)
                return m
            elif scenario == "baseline" or scenario in self.case.scenarios:
                source = self.case
            else:
                source = None
            if source is None:
                raise ValueError(f"case {self.case.case_id!r} has no scenario {scenario!r}; "
                                 f"choose one of {self.scenarios}")
            m = self._matrices[scenario] = CaseMatrices.from_case(source, scenario, self.view)
        return m

    # --- evaluation ---------------------------------------------------------------------------
    def evaluate(self, settings: WhatIfSettings | None = None, **changes: Any) -> WhatIfResult:
        """Evaluate one setting.

        Parameters
        ----------
        settings : WhatIfSettings, optional
            Defaults to neutral settings (the baseline as appraised).
        **changes
            Settings to change, e.g. ``delay_periods=2`` or ``scenario="likely"``.

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
        >>> WhatIfEngine(case).evaluate(cost_overrun=0.5).npv
        0.0
        """
        s = settings or WhatIfSettings()
        if changes:
            s = s.replace(**changes)
        base = self.matrices(s.scenario)
        adj = apply_what_if(base, s.what_if)
        df = adj.discount_factors
        costs = adj.costs.sum(axis=0)
        benefits = adj.benefits.sum(axis=0)
        net = benefits - costs
        npv = float(finance.npv(None, net, factors=df))
        k = base.periods_per_year
        switching = _switching(s, adj, npv)
        ref = base
        if s.scenario == EXPECTED:  # judged as the packs judge it: against the baseline in force at the review
            ref = self.matrices(known_at(self.case, self.as_of).current_baseline)
        ref_df = ref.discount_factors
        ref_costs = ref.costs.sum(axis=0)
        ref_net = ref.benefits.sum(axis=0) - ref_costs
        reference_npv = float(finance.npv(None, ref_net, factors=ref_df))
        return WhatIfResult(
            settings=s, case_id=self.case.case_id, currency=str(self.case.meta.get("currency") or ""),
            periods=self.case.periods, periods_per_year=k, costs=costs, benefits=benefits, net_flow=net,
            # the IRR is the discount rate's switching value: one solve (finance.irr_report) for both
            discount_factors=df, pv_costs=float(costs @ df), pv_benefits=float(benefits @ df), npv=npv,
            irr=switching.discount_rate,
            payback=float(finance.payback(net)),
            discounted_payback=float(finance.discounted_payback(None, net, factors=df)),
            reference_npv=reference_npv, reference_cumulative=np.cumsum(ref_net),
            switching=switching,
            verdict=value_verdict(reference_npv, npv, float(ref_costs @ ref_df)),
        )


def _switching(s: WhatIfSettings, adjusted: CaseMatrices, npv: float) -> SwitchingValues:
    """The risk module's switching values of the current what-if, in the controls' units.

    Its cost uplift ``x`` and benefit shortfall ``u`` are relative to the what-if's costs and
    benefits, which are linear in the controls: overrun ``(1 + o)(1 + x) - 1`` and realisation
    ``b (1 - u)``; its delay is on top of the what-if's delay.
    """
    table = switching_values(adjusted)
    v = table.set_index("driver")["value"]
    w = s.what_if
    return SwitchingValues(
        benefit_realisation=float(w.benefit_realisation * (1.0 - v["benefit shortfall"])),
        cost_overrun=float((1.0 + w.cost_overrun) * (1.0 + v["cost uplift"]) - 1.0),
        delay_periods=float(w.delay_periods + v["delay"]),
        discount_rate=float(v["discount rate"]),
        npv_positive=bool(npv >= 0),
        table=table,
    )


def _pct(x: float, signed: bool = False) -> str:
    return f"{x * 100:+.0f}%" if signed else f"{x * 100:.0f}%"


def _points(a: float, b: float) -> str:
    """How far the switching value ``a`` is from the slider's ``b`` (shares), in percentage points."""
    gap = (a - b) * 100
    return f"{abs(gap):.0f} points {'above' if gap > 0 else 'below'} the slider"


def switching_labels(result: WhatIfResult, period_length: str = "quarter") -> dict[str, str]:
    """One sentence per control saying where NPV changes sign, in the control's own units.

    Each sentence names the value the control would have to reach (what its slider would show)
    and, once the control has been moved, how far that is from where it stands now; the others
    are held where they are.

    Parameters
    ----------
    result : WhatIfResult
    period_length : {"quarter", "year"}
        Names the delay's unit.

    Returns
    -------
    dict
        Keys ``benefit_realisation``, ``cost_overrun``, ``delay_periods``, ``discount_rate``.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "Y", "first_period": "2026", "period_length": "year",
    ...                   "horizon": 2, "discount_rate": 0.0},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 125]}])
    >>> w = WhatIfEngine(case)
    >>> switching_labels(w.evaluate(), "year")["benefit_realisation"]
    'Benefits can fall 20% (to 80% of plan) before NPV < 0'
    >>> switching_labels(w.evaluate(benefit_realisation=0.9), "year")["benefit_realisation"]
    'Benefits can fall to 80% of plan (10 points below the slider) before NPV < 0'
    >>> switching_labels(w.evaluate(cost_overrun=0.1), "year")["cost_overrun"]
    'Costs can overrun by up to +25% (15 points above the slider) before NPV < 0'
    """
    sv, s = result.switching, result.settings
    notes = sv.table.set_index("driver")["note"]

    def none(driver: str) -> str:
        why = str(notes[driver]).removeprefix("None: ").rstrip(".")
        return why[:1].upper() + why[1:]

    unit = "quarter" if period_length == "quarter" else "year"
    pos = sv.npv_positive
    out: dict[str, str] = {}
    b, b0 = sv.benefit_realisation, s.benefit_realisation
    if not math.isfinite(b):
        out["benefit_realisation"] = none("benefit shortfall")
    elif b0 == 1:
        out["benefit_realisation"] = (f"Benefits can fall {_pct(1 - b)} (to {_pct(b)} of plan) before NPV < 0" if pos
                                      else f"Benefits must rise {_pct(b - 1)} (to {_pct(b)} of plan) for NPV ≥ 0")
    else:
        out["benefit_realisation"] = (f"Benefits can fall to {_pct(b)} of plan ({_points(b, b0)}) before NPV < 0"
                                      if pos else f"Benefits must reach {_pct(b)} of plan ({_points(b, b0)}) "
                                                  "for NPV ≥ 0")
    o, o0 = sv.cost_overrun, s.cost_overrun
    if not math.isfinite(o):
        out["cost_overrun"] = none("cost uplift")
    elif o <= -1:
        out["cost_overrun"] = "NPV stays < 0 even with no costs at all"
    else:
        gap = "" if o0 == 0 else f" ({_points(o, o0)})"
        out["cost_overrun"] = (f"Costs can overrun by up to {_pct(o, True)}{gap} before NPV < 0" if pos
                               else f"The cost overrun must come down to {_pct(o, True)}{gap} for NPV ≥ 0")
    d = sv.delay_periods
    if not math.isfinite(d):
        out["delay_periods"] = none("delay")
    else:
        years = f" ({d / 4:.1f} years)" if unit == "quarter" else ""
        out["delay_periods"] = (f"Benefits can slip {d:.1f} {unit}s{years} before NPV < 0" if not s.delay_periods
                                else f"Benefits can be {d:.1f} {unit}s late ({d - s.delay_periods:.1f} more than "
                                     f"the slider) before NPV < 0")
    r = sv.discount_rate
    if not math.isfinite(r):
        out["discount_rate"] = none("discount rate")
    else:
        out["discount_rate"] = (f"NPV < 0 above a discount rate of {r * 100:.1f}% a year (the IRR)" if pos
                                else f"NPV ≥ 0 below a discount rate of {r * 100:.1f}% a year (the IRR)")
    return out


# --------------------------------------------------------------------------------------------------
# chart
# --------------------------------------------------------------------------------------------------
def cumulative_cash_flow_chart(result: WhatIfResult, ax: Axes | None = None) -> Figure:
    """Cumulative net cash flow of a what-if against its base scenario without changes.

    Draws the what-if's cumulative net flow (solid), its discounted twin (dotted, ending at the NPV,
    which its legend entry states), the base scenario without changes (dashed) and the payback point, in the
    house style of :mod:`vmo_lib.outputs.charts`; the subtitle states the what-if
    (:meth:`WhatIfSettings.describe`).

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
    >>> fig = cumulative_cash_flow_chart(WhatIfEngine(case).evaluate(delay_periods=1))  # 150 slips out: NPV −100
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['this what-if', 'this what-if, discounted (ends at the NPV, −£100)', 'approved baseline without changes']
    >>> fig.axes[0].get_title().splitlines()
    ['Y: cumulative net cash flow', 'benefits 1 year late']
    """
    fig, ax = figure_and_axes(ax, (5.8, 3.4))
    x = np.arange(len(result.periods))
    cum = result.cumulative
    cur = result.currency
    gain, loss = PALETTE["gain"], PALETTE["loss"]
    ax.axhline(0, color=PALETTE["muted"], linewidth=0.8)
    ax.fill_between(x, cum, 0, where=cum < 0, color=loss, alpha=0.12, linewidth=0, interpolate=True)
    ax.fill_between(x, cum, 0, where=cum >= 0, color=gain, alpha=0.12, linewidth=0, interpolate=True)
    ax.plot(x, cum, color=PALETTE["plan"], linewidth=2.2, label="this what-if")
    pv = result.cumulative_pv
    ax.plot(x, pv, color=PALETTE["plan"], linewidth=1.2, linestyle=":",
            label=f"this what-if, discounted (ends at the NPV, {format_money(result.npv, cur)})")
    ax.plot([x[-1]], [pv[-1]], marker="o", color=PALETTE["plan"], markersize=4, zorder=5)
    base = WhatIfEngine.scenario_label(result.settings.scenario)
    ax.plot(x, result.reference_cumulative, color=PALETTE["baseline"], linewidth=1.4, linestyle="--",
            label=f"{base[:1].lower() + base[1:]} without changes")
    if math.isfinite(result.payback):
        at = _period_at(result, result.payback)
        ax.plot([result.payback], [0], marker="o", color=PALETTE["actual"], markersize=6, zorder=5)
        ax.annotate(f"payback {at} ({result.payback_years:.1f} yrs)", (result.payback, 0),
                    textcoords="offset points", xytext=(6, -14), fontsize=8, color=PALETTE["actual"])
    thin_ticks(ax, list(result.periods), max_labels=8)
    ax.yaxis.set_major_formatter(currency_formatter(cur))
    ax.set_ylabel(f"cumulative net cash flow{f' ({cur})' if cur else ''}", fontsize=9, color=PALETTE["ink"])
    ax.set_title(f"{result.case_id}: cumulative net cash flow\n"
                 f"{result.settings.describe('quarter' if result.periods_per_year == 4 else 'year')}")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    style_axes(ax)
    ax.title.set_fontsize(11)
    return fig


def _period_at(result: WhatIfResult, p: float) -> str:
    """The period in which a payback point ``p`` (periods from period 0) falls."""
    return result.periods[min(int(math.ceil(p)), len(result.periods) - 1)]


def _figure_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------
# the ipywidgets explorer
# --------------------------------------------------------------------------------------------------
_CSS = """
<style>
.vmo-whatif {font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1400px;}
.vmo-title {font-size: 1.3em; font-weight: 600; margin: 2px 0 0 0;}
.vmo-sub {color: #666; font-size: 0.9em;}
.vmo-cards {display: flex; gap: 10px; flex-wrap: wrap; margin: 4px 0;}
.vmo-card {border: 1px solid #dde3ea; border-radius: 6px; padding: 6px 12px; min-width: 120px; background: #fafbfc;}
.vmo-card .vmo-label {color: #666; font-size: 0.75em; text-transform: uppercase; letter-spacing: .04em;}
.vmo-card .vmo-value {font-size: 1.35em; font-weight: 600; white-space: nowrap;}
.vmo-card .vmo-value .vmo-sub {font-size: 0.6em; font-weight: 400;}
.vmo-pos {color: #1e7d3c;} .vmo-neg {color: #b03a2e;}
.vmo-verdict {padding: 6px 10px; border-radius: 6px; margin: 4px 0; line-height: 1.3;}
.vmo-verdict.vmo-pos {background: #e8f5ec;} .vmo-verdict.vmo-neg {background: #fbeaea;}
.vmo-switch {color: #555; font-size: 0.82em; line-height: 1.2;}
.vmo-status {color: #555; font-size: 0.85em;}
</style>
"""
_CONTROL_ORDER = ("benefit_realisation", "cost_overrun", "delay_periods", "discount_rate", "optimism_bias")


class WhatIfExplorer:
    """The challenge-session UI: figures on top, controls with their switching values, the chart.

    Parameters
    ----------
    folder_or_case : path-like or BusinessCase
        A folder of case workbooks (a case picker lists them), one workbook, or a loaded case
        (saving scenarios then needs ``case.source``).
    case_id : str, optional
        In a folder, the case to open first (its file stem or case id); default the first.
    view : {"economic", "cash"}
    as_of : period label, optional
        Review date; offers the base scenario "Expected (actuals + forecast)".

    Attributes
    ----------
    engine : WhatIfEngine
        The engine of the current case (loaded once, kept while the explorer lives).
    settings : WhatIfSettings
        The current controls.
    result : WhatIfResult
        The figures on display (recomputed on every change).
    controls : dict
        The input widgets by setting name (sliders in the percent / period units shown).
    widget : ipywidgets.VBox
        The whole UI; a notebook displays the explorer as this.

    Notes
    -----
    Sliders only report when released or moved with the keyboard (``continuous_update=False``):
    one recomputation per decision, not one per pixel dragged. Amounts shown in the NPV card carry
    the unrounded value in ``data-value`` of ``span.vmo-npv`` (what the browser test reads).

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
                 view: str = "economic", as_of: object = None) -> None:
        import ipywidgets

        self._w = ipywidgets
        self.view = view
        self.as_of = as_of
        self._engines: dict[str, WhatIfEngine] = {}
        self._holding = False
        self._rate_moved = False
        self._base_scenario = EXPECTED if as_of is not None else "baseline"
        self._saved: dict[str, WhatIfSettings] = {}
        self._paths: dict[str, Path] = {}
        self.case_path: Path | None = None
        case: BusinessCase | None = None
        if isinstance(folder_or_case, BusinessCase):
            case = folder_or_case
            self.case_path = Path(case.source) if case.source else None
        else:
            from vmo_lib.intake.loader import workbook_files  # lists no saved-scenario files

            p = Path(folder_or_case)
            books = workbook_files(p) if p.is_dir() else [p]
            if not books:
                from vmo_lib.errors import WorkbookError

                raise WorkbookError(p, "contains no case workbook (*.xlsx)")
            self._paths = {b.stem: b for b in books}
        self._build_ui()
        if case is not None:
            self._set_engine(WhatIfEngine(case, view, as_of), key=case.case_id)
        else:
            first = self._pick_first(case_id)
            self._holding = True
            self.case_picker.value = first
            self._holding = False
            self._open(first, raise_errors=True)

    # --- construction -------------------------------------------------------------------------
    def _pick_first(self, case_id: str | None) -> str:
        if case_id is None:
            return next(iter(self._paths))
        for stem in self._paths:  # file stem, case-insensitively (case ids name the sample files)
            if stem.lower() == str(case_id).lower():
                return stem
        raise ValueError(f"no workbook for case {case_id!r}; found {list(self._paths)}")

    def _build_ui(self) -> None:
        w = self._w
        style = {"description_width": "135px"}
        wide = w.Layout(width="360px")
        self.case_picker = w.Dropdown(options=list(self._paths), description="Case", style=style,
                                      layout=w.Layout(width="360px", display="" if len(self._paths) > 1 else "none"))
        self.scenario_picker = w.Dropdown(options=[("Approved baseline", "baseline")], value="baseline",
                                          description="Scenario", style=style, layout=wide)
        slider = {"continuous_update": False, "style": style, "layout": wide}
        self.controls: dict[str, Any] = {
            "benefit_realisation": w.FloatSlider(value=100, min=BENEFIT_RANGE[0], max=BENEFIT_RANGE[1],
                                                 step=BENEFIT_RANGE[2], readout_format=".0f",
                                                 description="Benefits realised %", **slider),
            "cost_overrun": w.FloatSlider(value=0, min=COST_RANGE[0], max=COST_RANGE[1], step=COST_RANGE[2],
                                          readout_format="+.0f", description="Cost overrun %", **slider),
            "delay_periods": w.IntSlider(value=0, min=DELAY_RANGE[0], max=DELAY_RANGE[1], step=DELAY_RANGE[2],
                                         description="Benefit delay", **slider),
            "discount_rate": w.FloatSlider(value=0, min=RATE_RANGE[0], max=RATE_RANGE[1], step=RATE_RANGE[2],
                                           readout_format=".2f", description="Discount rate %/yr", **slider),
            "optimism_bias": w.Checkbox(value=False, description="Optimism bias (Green Book)",
                                        indent=False, layout=w.Layout(width="360px", padding="0 0 0 24px")),
        }
        self.switch_labels = {n: w.HTML(layout=w.Layout(width="225px")) for n in _CONTROL_ORDER}
        self.header = w.HTML()
        self.cards = w.HTML()
        self.verdict = w.HTML()
        # An <img> in HTML rather than an Image widget: the picture, its description (alt text) and
        # the NPV it shows arrive in one update, so a page never pairs new figures with an old chart.
        self.chart = w.HTML(layout=w.Layout(width="560px", max_width="100%"))
        self.scenario_name = w.Text(placeholder="e.g. Board: 2Q late, cloud +30%", description="Save as",
                                    style={"description_width": "60px"}, layout=w.Layout(width="340px"))
        self.save_button = w.Button(description="Save scenario", icon="save", button_style="primary",
                                    layout=w.Layout(width="135px"))
        self.reset_button = w.Button(description="Reset", icon="undo", layout=w.Layout(width="85px"))
        self.status = w.HTML()
        # Stable CSS classes: the browser test and any custom styling find the parts by them.
        for widget, css in [(self.case_picker, "vmo-case-picker"), (self.scenario_picker, "vmo-scenario"),
                            (self.cards, "vmo-figures"), (self.verdict, "vmo-verdict-box"), (self.chart, "vmo-chart"),
                            (self.save_button, "vmo-save"), (self.reset_button, "vmo-reset"),
                            (self.scenario_name, "vmo-scenario-name"), (self.status, "vmo-status")]:
            widget.add_class(css)
        for name in _CONTROL_ORDER:
            self.controls[name].add_class(f"vmo-{name.replace('_', '-')}")
            self.switch_labels[name].add_class(f"vmo-switch-{name.replace('_', '-')}")

        self.case_picker.observe(self._on_case, names="value")
        self.scenario_picker.observe(self._on_scenario, names="value")
        for ctl in self.controls.values():
            ctl.observe(self._on_control, names="value")
        self.save_button.on_click(lambda _b: self.save(self.scenario_name.value))
        self.reset_button.on_click(lambda _b: self.reset())

        rows = [w.HBox([self.controls[n], self.switch_labels[n]], layout=w.Layout(align_items="center"))
                for n in _CONTROL_ORDER]
        controls = w.VBox([self.case_picker, self.scenario_picker, *rows,
                           w.HBox([self.scenario_name, self.save_button, self.reset_button]), self.status],
                          layout=w.Layout(width="590px", margin="0 8px 0 0"))
        self.widget = w.VBox([
            w.HTML(_CSS), self.header, self.cards, self.verdict,
            w.HBox([controls, self.chart], layout=w.Layout(flex_flow="row wrap", align_items="flex-start")),
        ])
        self.widget.add_class("vmo-whatif")

    # --- case and scenario --------------------------------------------------------------------
    def _open(self, stem: str, raise_errors: bool = False) -> None:
        """Show a case of the folder, loading it the first time only. A workbook that cannot be
        loaded is reported in the status line and the case on display stays."""
        from vmo_lib.intake.loader import load_case

        engine = self._engines.get(stem)
        if engine is None:
            try:
                case = load_case(self._paths[stem], as_of=self.as_of)
            except Exception as exc:  # noqa: BLE001 - say why in the UI; the explorer stays usable
                if raise_errors:
                    raise
                self.status.value = (f"<span class='vmo-neg'>Cannot open {html.escape(self._paths[stem].name)}: "
                                     f"{html.escape(str(exc))}</span>")
                held, self._holding = self._holding, True
                self.case_picker.value = next(k for k, e in self._engines.items() if e is self.engine)
                self._holding = held
                return
            engine = WhatIfEngine(case, self.view, self.as_of)
        self.case_path = self._paths[stem]
        self._set_engine(engine, key=stem)

    def _set_engine(self, engine: WhatIfEngine, key: str) -> None:
        self._engines[key] = engine
        self.engine = engine
        case = engine.case
        self._saved = self._load_saved()
        unit = "quarters" if case.period_length == "quarter" else "years"
        self.controls["delay_periods"].description = f"Delay ({unit})"
        self._holding = True
        try:
            self.scenario_picker.options = self._scenario_options()
            self.scenario_picker.value = self._start_scenario
            self._apply_settings(WhatIfSettings(scenario=self._start_scenario))
        finally:
            self._holding = False
        meta = case.meta
        sched = str(meta.get("discount_schedule") or "flat")
        rate = f"{sched} schedule" if sched != "flat" else f"{float(meta['discount_rate']) * 100:.2f}% a year"
        self.header.value = (
            f"<div class='vmo-title'>{html.escape(case.case_id)} — {html.escape(case.title)}</div>"
            f"<div class='vmo-sub'>{html.escape(str(meta.get('status') or ''))} · {case.horizon} "
            f"{html.escape(case.period_length)}s from {html.escape(str(meta['first_period']))} · "
            f"{html.escape(str(meta.get('price_base') or ''))} {html.escape(str(meta.get('currency') or ''))} · "
            f"discounting: {html.escape(rate)} · {html.escape(engine.view)} view</div>")
        self.save_button.disabled = self.case_path is None
        self.save_button.tooltip = "" if self.case_path else "a case built in code has no workbook to save beside"
        self.update()

    def _scenario_options(self) -> list[tuple[str, str]]:
        opts = [(self.engine.scenario_label(s), s) for s in self.engine.scenarios]
        return opts + [(f"★ saved: {name}", f"saved:{name}") for name in self._saved]

    def _load_saved(self) -> dict[str, WhatIfSettings]:
        if self.case_path is None:
            return {}
        from vmo_lib.whatif.saved import load_scenarios

        try:
            return load_scenarios(self.case_path)
        except Exception as exc:  # noqa: BLE001 - a damaged scenarios file must not block the explorer
            self.status.value = f"<span class='vmo-neg'>{html.escape(str(exc))}</span>"
            return {}

    def _on_case(self, change: Mapping[str, Any]) -> None:
        if change["new"] and not self._holding:
            self.status.value = ""
            self._open(change["new"])

    def _on_scenario(self, change: Mapping[str, Any]) -> None:
        if self._holding or not change["new"]:
            return
        value = str(change["new"])
        if value.startswith("saved:"):
            saved = self._saved.get(value[len("saved:"):])
            if saved is not None:
                self._apply_settings(saved)
                self.status.value = f"Loaded saved scenario <b>{html.escape(value[len('saved:'):])}</b>."
        self.update()

    def _on_control(self, _change: Mapping[str, Any]) -> None:
        if not self._holding:
            if _change.get("owner") is self.controls["discount_rate"]:
                self._rate_moved = True
            self.update()

    # --- settings <-> controls ----------------------------------------------------------------
    def _apply_settings(self, s: WhatIfSettings) -> None:
        """Move every control to ``s`` without recomputing on each move."""
        held, self._holding = self._holding, True
        try:
            c = self.controls
            c["benefit_realisation"].value = s.benefit_realisation * 100
            c["cost_overrun"].value = s.cost_overrun * 100
            c["delay_periods"].value = s.delay_periods
            self._rate_moved = s.discount_rate is not None
            rate = s.discount_rate if s.discount_rate is not None else appraisal.annual_rate_of(self.engine.case)
            c["discount_rate"].value = rate * 100
            c["optimism_bias"].value = s.optimism_bias
            self._base_scenario = s.scenario
        finally:
            self._holding = held

    @property
    def settings(self) -> WhatIfSettings:
        """The settings the controls show. Until the discount-rate slider is moved the case's own
        discounting applies (which may be a Green Book schedule the slider's start only names)."""
        c = self.controls
        pick = str(self.scenario_picker.value or "baseline")
        return WhatIfSettings(
            scenario=self._base_scenario if pick.startswith("saved:") else pick,
            what_if=WhatIf(
                benefit_realisation=c["benefit_realisation"].value / 100,
                cost_overrun=c["cost_overrun"].value / 100,
                delay_periods=int(c["delay_periods"].value),
                discount_rate=c["discount_rate"].value / 100 if self._rate_moved else None,
                optimism_bias=bool(c["optimism_bias"].value),
            ),
        )

    # --- actions ------------------------------------------------------------------------------
    def update(self) -> WhatIfResult:
        """Recompute from the controls and refresh every output (what a control change calls)."""
        try:
            self.result = r = self.engine.evaluate(self.settings)
        except (ValueError, AnalysisError) as exc:
            self.status.value = f"<span class='vmo-neg'>{html.escape(str(exc))}</span>"
            raise
        self._render(r)
        return r

    def set(self, **settings: Any) -> WhatIfResult:
        """Move controls in setting units, e.g. ``set(benefit_realisation=0.8, delay_periods=2)``."""
        s = self.settings.replace(**settings)
        self._apply_settings(s)
        if "scenario" in settings:
            held, self._holding = self._holding, True
            self.scenario_picker.value = s.scenario
            self._holding = held
        return self.update()

    @property
    def _start_scenario(self) -> str:
        """Where the explorer opens and resets: the review's expected outlook when reviewing at a date
        (the packs' starting point), else the approved baseline."""
        return EXPECTED if self.as_of is not None else "baseline"

    def reset(self) -> WhatIfResult:
        """Back to the starting point (the expected outlook at the review date, else the approved
        baseline) with no change and the case's own discounting."""
        held, self._holding = self._holding, True
        try:
            self.scenario_picker.value = self._start_scenario
            self._apply_settings(WhatIfSettings(scenario=self._start_scenario))
        finally:
            self._holding = held
        self.status.value = ""
        return self.update()

    def save(self, name: str) -> Path | None:
        """Save the current settings as a named scenario beside the case workbook
        (:func:`vmo_lib.whatif.saved.save_scenario`); returns the file, or None with the reason
        shown in the status line."""
        from vmo_lib.whatif.saved import save_scenario

        if self.case_path is None:
            self.status.value = ("<span class='vmo-neg'>This case was built in code: there is no workbook "
                                 "to save beside.</span>")
            return None
        try:
            path = save_scenario(self.case_path, name, self.settings)
        except (ValueError, OSError) as exc:
            self.status.value = f"<span class='vmo-neg'>Not saved: {html.escape(str(exc))}</span>"
            return None
        name = name.strip()
        self._saved = self._load_saved()
        held, self._holding = self._holding, True
        try:
            self.scenario_picker.options = self._scenario_options()
            self.scenario_picker.value = f"saved:{name}"
            self._base_scenario = self._saved[name].scenario
        finally:
            self._holding = held
        self.status.value = f"Saved <b>{html.escape(name)}</b> in {html.escape(path.name)}."
        return path

    # --- rendering ----------------------------------------------------------------------------
    def _render(self, r: WhatIfResult) -> None:
        cur = r.currency
        unit = self.engine.case.period_length
        # The chart first: a page showing the new figures then already shows the matching chart.
        alt = html.escape(f"Cumulative net cash flow of {r.case_id}, {r.settings.describe(unit)}: "
                          f"NPV {format_money(r.npv, cur)}", quote=True)
        png = base64.b64encode(_figure_png(cumulative_cash_flow_chart(r))).decode("ascii")
        self.chart.value = (f"<img src='data:image/png;base64,{png}' alt='{alt}' title='{alt}' "
                            f"data-npv='{float(r.npv)!r}' style='max-width: 100%'>")
        sign = "vmo-pos" if r.npv >= 0 else "vmo-neg"
        irr = f"{r.irr * 100:.1f}%" if math.isfinite(r.irr) else "none"

        def when(p: float) -> str:
            if not math.isfinite(p):
                return "never"
            return f"{p / r.periods_per_year:.1f} yrs <span class='vmo-sub'>{html.escape(_period_at(r, p))}</span>"

        def card(label: str, css: str, value: str, data: float, extra: str = "") -> str:
            data_attr = repr(float(data)) if math.isfinite(data) else "nan"
            return (f"<div class='vmo-card'><div class='vmo-label'>{label}</div>"
                    f"<div class='vmo-value {extra}'><span class='{css}' data-value='{data_attr}'>{value}</span>"
                    f"</div></div>")

        delta = r.npv - r.reference_npv
        base = self.engine.scenario_label(r.settings.scenario)
        self.cards.value = (
            "<div class='vmo-cards'>"
            + card("NPV", "vmo-npv", format_money(r.npv, cur), r.npv, sign)
            + card("IRR (annual)", "vmo-irr", irr, r.irr)
            + card("Payback", "vmo-payback", when(r.payback), r.payback)
            + card("Discounted payback", "vmo-dpayback", when(r.discounted_payback), r.discounted_payback)
            + card(f"NPV change vs {html.escape(base[:1].lower() + base[1:])}", "vmo-delta",
                   ("+" if delta > 0.5 else "") + format_money(delta, cur), delta,
                   "vmo-pos" if delta > 0.5 else "vmo-neg" if delta < -0.5 else "")
            + "</div>"
        )
        bad = r.verdict.label in ("at risk", "value destroyed")
        self.verdict.value = (f"<div class='vmo-verdict {'vmo-neg' if bad else 'vmo-pos'}' "
                              f"data-verdict='{html.escape(r.verdict.label)}'>{html.escape(r.verdict_sentence)}</div>")
        for name, text in switching_labels(r, unit).items():
            self.switch_labels[name].value = f"<div class='vmo-switch'>{html.escape(text)}</div>"
        ob = self.engine.matrices(r.settings.scenario).optimism
        self.switch_labels["optimism_bias"].value = (
            f"<div class='vmo-switch'>{'Applied' if r.settings.optimism_bias else 'When ticked'}: capex "
            f"+{ob.capex:.0%}, opex +{ob.opex:.0%}, benefits −{ob.benefits:.0%} and {ob.delay_periods} "
            f"{unit}{'s' if ob.delay_periods != 1 else ''} later (Green Book class: "
            f"{html.escape(ob.reference_class.lower())})</div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:  # a notebook displays the explorer as its UI
        return self.widget._repr_mimebundle_(**kwargs)
