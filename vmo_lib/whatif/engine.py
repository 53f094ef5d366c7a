"""The pure core of the what-if explorer: settings, one case's engine, results, switching values.

At a gate review the board asks "what if benefits arrive two quarters late?", "what if the cloud
costs are 30% higher?". This module answers without a browser, ipywidgets or matplotlib (the
explorer, :mod:`vmo_lib.whatif.widgets`, only wires its controls to :meth:`WhatIfEngine.evaluate`;
the chart is :mod:`vmo_lib.whatif.charts`):

* :class:`WhatIfSettings` — a base scenario plus a :class:`vmo_lib.analysis.scenarios.WhatIf`, the what-if
  description notebooks, the risk module and the batch review share (one mechanism: the rules are
  written once, in :mod:`vmo_lib.analysis.scenarios`).
* :class:`WhatIfEngine` — one case, loaded once: each base scenario becomes
  :class:`~vmo_lib.analysis.scenarios.CaseMatrices` the first time it is used, so a control change is a few
  numpy operations on those arrays, never a re-import.
* :class:`WhatIfResult` — NPV, IRR, paybacks, the value verdict against the unchanged scenario
  (:func:`vmo_lib.analysis.realisation.verdict`), cumulative flows and :class:`SwitchingValues`
  (:func:`vmo_lib.analysis.risk.switching_values` of the current what-if: "benefits can fall 23% before
  NPV < 0"); :func:`switching_labels` says the switching values in words.

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

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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
from vmo_lib.formatting import format_money
from vmo_lib.model import BusinessCase

__all__ = [
    "WHAT_IF_CONTROLS",
    "SwitchingValues",
    "WhatIfEngine",
    "WhatIfResult",
    "WhatIfSettings",
    "period_at",
    "switching_labels",
]


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
    def reference_label(self) -> str:
        """What the what-if is compared with, as the explorer's card and chart name it: on the expected
        outlook the plan in force (the promise the review judges against), else the base scenario
        without changes.

        Examples
        --------
        >>> from vmo_lib.model import make_case
        >>> case = make_case({"case_id": "Y", "horizon": 2, "discount_rate": 0.0},
        ...                  benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10]}])
        >>> WhatIfEngine(case).evaluate().reference_label
        'approved baseline without changes'
        """
        if self.settings.scenario == EXPECTED:
            return "approved plan in force"
        base = WhatIfEngine.scenario_label(self.settings.scenario)
        return f"{base[:1].lower() + base[1:]} without changes"

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
            f"{format_money(abs(diff), cur, compact=True)} {'above' if diff > 0 else 'below'}")
        base = WhatIfEngine.scenario_label(self.settings.scenario)
        rate = self.settings.what_if.discount_rate
        same = f"revalued at the same {round(rate * 100, 2):g}% a year" if rate is not None else ""
        against = f"the {base[:1].lower() + base[1:]} " + (same or "without changes")
        if self.settings.scenario == EXPECTED:
            against = "the NPV in force (the approved plan or its re-baseline)" + (f" {same}" if same else "")
        rule = v.rule.replace("expected NPV", "the what-if NPV")
        return (f"{v.label.capitalize()}: NPV {format_money(self.npv, cur, compact=True)} with this what-if, {cmp} "
                f"{against} ({format_money(self.reference_npv, cur, compact=True)}). "
                f"Rule, as in the review packs: {rule}.")

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
        # The promise is valued at the same discount rate as the what-if (the review compares the expected
        # and the in-force NPV on one basis): a different rate alone revalues both, never only one side.
        ref_df = df if s.what_if.discount_rate is not None and len(df) == len(ref.discount_factors) else ref.discount_factors
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


def period_at(result: WhatIfResult, p: float) -> str:
    """The period in which a payback point ``p`` (periods from period 0) falls.

    The explorer's payback cards and the chart's payback note name the period this way.

    Parameters
    ----------
    result : WhatIfResult
    p : float
        Periods from period 0, as :attr:`WhatIfResult.payback` (beyond the horizon: the last period).

    Returns
    -------
    str
        The period's label.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "P", "first_period": "2026", "period_length": "year", "horizon": 3,
    ...                   "discount_rate": 0.0},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 80, 80]}])
    >>> r = WhatIfEngine(case).evaluate()
    >>> r.payback, period_at(r, r.payback)        # −100, −20, +60: pays back a quarter into 2028
    (1.25, '2028')
    """
    return result.periods[min(int(math.ceil(p)), len(result.periods) - 1)]
