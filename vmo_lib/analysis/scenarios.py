"""Scenarios of a case: optimism bias, three-point (pessimistic / likely / optimistic) and what-ifs.

One mechanism serves notebooks, the what-if widget and the batch packs:

* :class:`WhatIf` is a small, frozen, dict-able description ("costs +30 %, benefits at 80 %,
  2 periods late, 6 % discount rate, with optimism bias").
* :func:`apply_what_if` applies it to a :class:`~vmo_lib.model.BusinessCase` (a copy with a new
  scenario, to appraise like any other) or to precomputed :class:`CaseMatrices`.
* :func:`what_if_npv` is the fast path: ``CaseMatrices.from_case(case)`` once, then each what-if NPV
  is a few dot products on per-period totals (microseconds), never a re-import.

Rules (the same on every path)
------------------------------
* ``cost_overrun`` multiplies every cost line by ``1 + cost_overrun``.
* ``benefit_realisation`` multiplies every benefit line **except dis-benefits**: a shortfall of the
  benefits does not make the accepted negative outcomes smaller.
* ``delay_periods`` moves every benefit line (dis-benefits too: they come with the change) that many
  periods later; amounts pushed past the horizon are lost to the appraisal (the appraisal period is
  fixed). Costs do not move: the cost of a delay is what ``cost_overrun`` / the optimism-bias capex
  uplift measure.
* ``discount_rate`` is a flat annual rate replacing the case's rate and schedule
  (:func:`vmo_lib.analysis.appraisal.discount_factors` with ``annual_rate``).
* ``optimism_bias=True`` first applies the case's :class:`OptimismBias` (below), then the rest.
* On an **outlook** (:meth:`CaseMatrices.outlook`: actuals to date, then forecast, then plan) the
  periods up to the review are actuals: sunk, never scaled or moved. Every rule above applies to the
  later periods only, and a delay moves those later flows further out (never into the past).

Optimism bias (HM Treasury Green Book, supplementary guidance)
--------------------------------------------------------------
Starting values from Mott MacDonald, *Review of Large Public Procurement in the UK* (2002), as
tabulated in HM Treasury's *Supplementary Green Book Guidance: Optimism Bias*, Table 2 (upper / lower
bound, % of the estimate):

=================================  ==============  ================  ==============
project type                       works duration  capital expend.   operating exp.
=================================  ==============  ================  ==============
Standard buildings                 4 / 1           24 / 2            –
Non-standard buildings             39 / 2          51 / 4            –
Standard civil engineering         20 / 1          44 / 3            –
Non-standard civil engineering     25 / 3          66 / 6            –
Equipment/development              54 / 10         200 / 10          –
Outsourcing                        –               –                 41 / 0
=================================  ==============  ================  ==============

Each case type (:data:`vmo_lib.schema.CASE_TYPES`) takes the closest class
(:data:`CASE_TYPE_CLASS`): IT equipment/development, business change and regulatory/mandatory
cases are "Equipment/development" (systems development and innovative change); IT outsourcing is
"Outsourcing" (opex only); infrastructure is "Non-standard civil engineering". The default is the
**upper bound**, the guidance's starting value at the outline-case stage; a case lowers it with
evidence through its ``ob_capex``, ``ob_opex``, ``ob_duration``, ``ob_benefits`` fields (blank =
default). Where the table has no value (opex outside outsourcing) the default is 0.

**By stage.** The guidance starts at the upper bound and expects the uplift to come down as the case
matures and its risks are managed, towards the lower bound once they are. A blank field therefore
takes a value between the two bounds that depends on the case's status (its stage),
``uplift = upper − m × (upper − lower)``, with the share ``m`` of the way to the lower bound
(:data:`STAGE_MITIGATION`, overridable per call):

===========  ====  ===========================================  ========================
status       m     stage                                        IT capex (200 % / 10 %)
===========  ====  ===========================================  ========================
proposed     0     outline case (SOC / OBC): the upper bound    +200 %
approved     0.5   full business case approved                  +105 %
in delivery  0.8   being built, estimates firmed up by spend    +48 %
live         1     delivered: the lower bound                   +10 %
closed       1     (and cancelled)                              +10 %
===========  ====  ===========================================  ========================

The shares are this workbench's reading of the guidance (it publishes no per-stage figure); an
organisation with its own evidence passes ``stage_mitigation`` (or sets the case's ``ob_*`` fields,
which always win). ``bound="upper"`` / ``"lower"`` still give the plain starting values.

**Benefits.** The guidance asks for benefits to be adjusted too but publishes no starting value.
The default haircut is :data:`DEFAULT_BENEFIT_HAIRCUT` = 25 %: well under the 56 % value shortfall
McKinsey & Oxford (2012) found for large IT projects, because the capex uplift already carries most of
the bias; replace it with the organisation's own realisation history when there is one.

**Duration.** The uplift lengthens the build: benefits start ``delay = floor(ob_duration x g + 0.5)``
periods later (rounded half up), ``g`` = periods from period 0 to the go-live period
(``case.go_live_t``). Running costs are not moved (see the rules above).

Examples
--------
>>> from vmo_lib.model import make_case
>>> case = make_case({"case_id": "X", "first_period": "2026", "period_length": "year", "horizon": 3,
...                   "discount_rate": 0.0},
...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 80, 80]}])
>>> m = CaseMatrices.from_case(case)
>>> what_if_npv(m, WhatIf()), what_if_npv(m, WhatIf(cost_overrun=0.3, benefit_realisation=0.5))
(60.0, -50.0)
>>> what_if_npv(m, WhatIf(delay_periods=1))          # the second 80 falls off the horizon
-20.0
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
from vmo_lib.analysis.outlook import EXPECTED, expected_case, known_at, memo, review_period
from vmo_lib.errors import AnalysisError
from vmo_lib.model import BusinessCase, normalise_flows
from vmo_lib.periods import review_quarter

__all__ = [
    "CASE_TYPE_CLASS",
    "DEFAULT_BENEFIT_HAIRCUT",
    "MOTT_MACDONALD_2002",
    "STAGE_MITIGATION",
    "THREE_POINT_SCENARIOS",
    "CaseMatrices",
    "OptimismBias",
    "WhatIf",
    "apply_what_if",
    "optimism_bias",
    "optimism_bias_adjusted",
    "three_point_factors",
    "three_point_scenarios",
    "what_if_appraisal",
    "what_if_npv",
]

#: Mott MacDonald (2002) starting values: class -> {"duration"|"capex"|"opex": (upper, lower)}.
MOTT_MACDONALD_2002: dict[str, dict[str, tuple[float, float]]] = {
    "Standard buildings": {"duration": (0.04, 0.01), "capex": (0.24, 0.02)},
    "Non-standard buildings": {"duration": (0.39, 0.02), "capex": (0.51, 0.04)},
    "Standard civil engineering": {"duration": (0.20, 0.01), "capex": (0.44, 0.03)},
    "Non-standard civil engineering": {"duration": (0.25, 0.03), "capex": (0.66, 0.06)},
    "Equipment/development": {"duration": (0.54, 0.10), "capex": (2.00, 0.10)},
    "Outsourcing": {"opex": (0.41, 0.0)},
}
#: Case type -> Mott MacDonald class used for its default optimism bias.
CASE_TYPE_CLASS: dict[str, str] = {
    "IT: equipment/development": "Equipment/development",
    "IT: outsourcing": "Outsourcing",
    "Business change": "Equipment/development",
    "Regulatory/mandatory": "Equipment/development",
    "Infrastructure": "Non-standard civil engineering",
}
#: Case status -> share of the way from the upper to the lower bound of the optimism-bias starting
#: values (module notes, "By stage"); a status not listed (blank) takes the upper bound.
STAGE_MITIGATION: dict[str, float] = {
    "proposed": 0.0, "approved": 0.5, "in delivery": 0.8, "live": 1.0, "closed": 1.0, "cancelled": 1.0,
}
#: Default benefit haircut of the optimism-bias adjustment (house default, see the module notes).
DEFAULT_BENEFIT_HAIRCUT = 0.25
#: Names of the three-point scenarios, from the worst NPV to the best.
THREE_POINT_SCENARIOS = ("pessimistic", "likely", "optimistic")
_DIS = "dis-benefit"


# --------------------------------------------------------------------------------------------------
# optimism bias
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimismBias:
    """The optimism-bias adjustment of one case.

    Attributes
    ----------
    capex, opex : float
        Uplifts (2.0 = +200 %).
    duration : float
        Uplift of the time to go-live (0.54 = +54 %).
    benefits : float
        Haircut of the benefits (0.25 = 25 % less; dis-benefits unchanged).
    delay_periods : int
        Benefit delay the duration uplift implies, ``floor(duration x go_live_t + 0.5)``.
    reference_class : str
        Mott MacDonald class the defaults come from.
    from_case : tuple of str
        Fields the case set itself (the others are defaults).
    stage : str
        The case's status the defaults were taken for ("" when unknown).
    stage_mitigation : float
        Share of the way from the upper to the lower bound the defaults went (0 = upper bound).
    """

    capex: float
    opex: float
    duration: float
    benefits: float
    delay_periods: int
    reference_class: str
    from_case: tuple[str, ...] = ()
    stage: str = ""
    stage_mitigation: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _blank(v: Any) -> bool:
    # Not vmo_lib.formatting.is_missing, whose semantics differ twice: blank text ("" or spaces) is
    # blank here while is_missing counts any string as a value; and pd.NA / NaT are not blank here while
    # is_missing calls them missing (a distribution or driver cell holding pd.NA reads as "<NA>" here).
    # Switching would change behaviour, so it stays as it was.
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def optimism_bias(case: BusinessCase, bound: str = "stage",
                  stage_mitigation: Mapping[str, float] | None = None) -> OptimismBias:
    """The case's optimism-bias uplifts: its own ``ob_*`` fields, else the defaults of its type at its stage.

    Parameters
    ----------
    case : BusinessCase
    bound : {"stage", "upper", "lower"}, default "stage"
        What fills blank fields: the value for the case's stage (module notes, "By stage"), or one
        Mott MacDonald starting value (upper: outline-case stage; lower: risks fully managed).
    stage_mitigation : mapping, optional
        Status -> share of the way from the upper to the lower bound (0 to 1), replacing those of
        :data:`STAGE_MITIGATION` it names (``bound="stage"`` only).

    Returns
    -------
    OptimismBias

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> ob = optimism_bias(make_case({"case_type": "IT: equipment/development", "go_live_period": "2026Q4",
    ...                              "status": "proposed"}))
    >>> ob.capex, ob.duration, ob.benefits, ob.delay_periods, ob.stage        # go-live 3 quarters in: 0.54*3
    (2.0, 0.54, 0.25, 2, 'proposed')
    >>> ob = optimism_bias(make_case({"case_type": "IT: equipment/development", "status": "in delivery"}))
    >>> round(ob.capex, 4), round(ob.duration, 4), round(ob.benefits, 4)     # 80% of the way to the lower bound
    (0.48, 0.188, 0.05)
    >>> optimism_bias(make_case({"case_type": "IT: outsourcing", "ob_benefits": 0.1, "status": "proposed"})).opex
    0.41
    """
    if bound not in ("stage", "upper", "lower"):
        raise ValueError(f"bound must be 'stage', 'upper' or 'lower', not {bound!r}")
    case_type = str(case.meta.get("case_type") or "")
    cls = CASE_TYPE_CLASS.get(case_type)
    if cls is None:
        raise AnalysisError(f"{case.case_id}: case type {case_type!r} has no optimism-bias defaults; "
                            f"expected one of {sorted(CASE_TYPE_CLASS)}")
    stage = str(case.meta.get("status") or "").strip().lower()
    if bound == "stage":
        shares = {**STAGE_MITIGATION, **{str(k).strip().lower(): float(v) for k, v in (stage_mitigation or {}).items()}}
        m = shares.get(stage, 0.0)
        if not 0.0 <= m <= 1.0:
            raise ValueError(f"stage_mitigation for {stage!r} must be between 0 and 1, got {m}")
    else:
        m = 0.0 if bound == "upper" else 1.0
    table = {**MOTT_MACDONALD_2002[cls], "benefits": (DEFAULT_BENEFIT_HAIRCUT, 0.0)}

    def between(key: str) -> float:
        upper, lower = table.get(key, (0.0, 0.0))
        return upper if m == 0 else lower if m == 1 else upper - m * (upper - lower)

    defaults = {k: between(k) for k in ("capex", "opex", "duration", "benefits")}
    values, own = {}, []
    for k, d in defaults.items():
        v = case.meta.get(f"ob_{k}")
        if _blank(v):
            values[k] = d
        else:
            try:
                values[k] = float(v)
            except (TypeError, ValueError):
                raise AnalysisError(f"{case.case_id}: Case field ob_{k} must be a rate such as 0.4, got {v!r}") from None
            own.append(f"ob_{k}")
    if not 0.0 <= values["benefits"] <= 1.0:
        raise AnalysisError(f"{case.case_id}: Case field ob_benefits must be between 0 and 1, got {values['benefits']}")
    for k in ("capex", "opex", "duration"):
        if values[k] < 0:
            raise AnalysisError(f"{case.case_id}: Case field ob_{k} must be ≥ 0, got {values[k]}")
    go_live = max(case.go_live_t or 0, 0)
    delay = int(math.floor(values["duration"] * go_live + 0.5))
    return OptimismBias(delay_periods=delay, reference_class=cls, from_case=tuple(own), stage=stage,
                        stage_mitigation=m, **values)


# --------------------------------------------------------------------------------------------------
# what-if description
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WhatIf:
    """A named what-if: changes applied on top of a scenario (see the module rules).

    Attributes
    ----------
    cost_overrun : float, default 0
        Extra cost as a share of plan (0.3 = +30 %); > -1.
    benefit_realisation : float, default 1
        Share of the planned benefits realised (dis-benefits excluded); ≥ 0.
    delay_periods : int, default 0
        Whole periods by which benefits arrive late; ≥ 0.
    discount_rate : float or None
        Flat annual rate replacing the case's discounting; None keeps the case's own.
    optimism_bias : bool, default False
        Apply the case's :class:`OptimismBias` first.
    name : str
        Label; the new scenario is called ``"<base>+<name>"`` (``"what-if"`` when blank).

    Examples
    --------
    >>> w = WhatIf.from_dict({"name": "board", "cost_overrun": 0.3, "delay_periods": 2})
    >>> w.scenario_name("baseline"), w.to_dict()["delay_periods"]
    ('baseline+board', 2)
    """

    cost_overrun: float = 0.0
    benefit_realisation: float = 1.0
    delay_periods: int = 0
    discount_rate: float | None = None
    optimism_bias: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        for k in ("cost_overrun", "benefit_realisation"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"WhatIf.{k} must be a finite number, not {v!r}")
        if self.cost_overrun <= -1:
            raise ValueError(f"WhatIf.cost_overrun must be > -1, not {self.cost_overrun}")
        if self.benefit_realisation < 0:
            raise ValueError(f"WhatIf.benefit_realisation must be ≥ 0, not {self.benefit_realisation}")
        d = self.delay_periods
        if isinstance(d, bool) or not isinstance(d, (int, np.integer, float)) or d != int(d) or d < 0:
            raise ValueError(f"WhatIf.delay_periods must be a whole number of periods ≥ 0, not {d!r}")
        object.__setattr__(self, "delay_periods", int(d))
        r = self.discount_rate
        if r is not None:
            if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r) or r <= -1:
                raise ValueError(f"WhatIf.discount_rate must be an annual rate > -1 or None, not {r!r}")
            object.__setattr__(self, "discount_rate", float(r))
        object.__setattr__(self, "optimism_bias", bool(self.optimism_bias))
        object.__setattr__(self, "cost_overrun", float(self.cost_overrun))
        object.__setattr__(self, "benefit_realisation", float(self.benefit_realisation))
        object.__setattr__(self, "name", str(self.name or ""))

    def scenario_name(self, base: str = "baseline") -> str:
        """Name of the scenario this what-if creates from ``base``."""
        return f"{base}+{self.name or 'what-if'}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON/YAML-able); :meth:`from_dict` reads it back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WhatIf:
        """Build from plain data; unknown keys are an error that names them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown what-if field(s) {unknown}; expected some of {sorted(known)}")
        return cls(**dict(data))


# --------------------------------------------------------------------------------------------------
# precomputed matrices
# --------------------------------------------------------------------------------------------------
def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class CaseMatrices:
    """One scenario of a case as arrays, ready for fast what-if, sensitivity and Monte Carlo.

    Attributes
    ----------
    case_id, scenario, view : str
    periods_per_year : int
    cost_ids, benefit_ids : tuple of str
        Line ids of the rows of ``costs`` / ``benefits`` (benefits in the view only).
    costs, benefits : ndarray
        ``(lines, horizon)``; costs positive, dis-benefits negative (as
        :func:`vmo_lib.analysis.appraisal.line_matrices`).
    is_capex : ndarray of bool
        Per cost line.
    is_disbenefit : ndarray of bool
        Per benefit line.
    discount_factors : ndarray
        The case's own factors (``DF[0] = 1``).
    optimism : OptimismBias
    fixed_through : int, default -1
        Last period of actuals to date: periods ``t <= fixed_through`` are sunk and every what-if,
        range and delay leaves them as they are (:meth:`outlook`). ``-1`` = nothing is fixed (a plan).
    as_of : str or None
        Review quarter of an outlook (:meth:`outlook`); None for a plan.
    """

    case_id: str
    scenario: str
    view: str
    periods_per_year: int
    cost_ids: tuple[str, ...]
    benefit_ids: tuple[str, ...]
    costs: np.ndarray = field(repr=False)
    benefits: np.ndarray = field(repr=False)
    is_capex: np.ndarray = field(repr=False)
    is_disbenefit: np.ndarray = field(repr=False)
    discount_factors: np.ndarray = field(repr=False)
    optimism: OptimismBias
    fixed_through: int = -1
    as_of: str | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_case(cls, case: BusinessCase, scenario: str = "baseline", view: str = "economic") -> CaseMatrices:
        """Precompute a scenario of a case (the only step that touches the tables).

        Examples
        --------
        >>> from vmo_lib.model import make_case
        >>> m = CaseMatrices.from_case(make_case({"horizon": 2},
        ...     costs=[{"line_id": "C1", "name": "x", "amounts": [5, 1], "category": "opex"}]))
        >>> m.costs.tolist(), m.is_capex.tolist()
        ([[5.0, 1.0]], [False])
        """
        # within a review (vmo_lib.analysis.outlook.shared_work) once per case, scenario and view
        return memo(f"case_matrices:{scenario}:{view}", case, "", lambda: cls._build(case, scenario, view))

    @classmethod
    def _build(cls, case: BusinessCase, scenario: str, view: str) -> CaseMatrices:
        fast = appraisal.line_arrays(case, scenario, view) if view in appraisal.VIEWS else None
        if fast is not None:  # the same arrays as the tables below, without the lookups
            arr, index, is_cost, in_view, category, btype = fast
            cost_index, ben_index = index[is_cost], index[in_view]
            c, b, category, btype = arr[is_cost], arr[in_view], category[is_cost], btype[in_view]
        else:
            costs, benefits = appraisal.line_matrices(case, scenario, view)
            lines = case.lines.set_index("line_id")
            category = lines["category"].reindex(costs.index).to_numpy()
            btype = lines["benefit_type"].reindex(benefits.index).to_numpy()
            cost_index, ben_index, c, b = costs.index, benefits.index, costs.to_numpy(), benefits.to_numpy()
        return cls(
            case_id=case.case_id, scenario=scenario, view=view, periods_per_year=case.periods_per_year,
            cost_ids=tuple(str(i) for i in cost_index), benefit_ids=tuple(str(i) for i in ben_index),
            costs=_frozen(c), benefits=_frozen(b),
            is_capex=_frozen_bool(category == "capex"), is_disbenefit=_frozen_bool(btype == _DIS),
            discount_factors=_frozen(appraisal.discount_factors(case)), optimism=optimism_bias(case),
        )

    @classmethod
    def outlook(cls, case: BusinessCase, as_of: object, view: str = "economic") -> CaseMatrices:
        """The expected outlook at a review: actuals to date (fixed), then the forecast, then the plan.

        The scenario ``"expected"`` of :func:`vmo_lib.analysis.outlook.expected_case`, with
        ``fixed_through`` = the review period's offset (:func:`vmo_lib.analysis.outlook.review_period`
        and :meth:`~vmo_lib.model.BusinessCase.t_of`; ``-1`` when the review precedes period 0): what-ifs
        (:func:`what_if_npv`, :func:`apply_what_if`) then move only the flows after the review.

        Parameters
        ----------
        case : BusinessCase
        as_of : str or date
            Review quarter (:func:`vmo_lib.periods.review_quarter`: ``"2026Q3"``, a year, a date).
        view : {"economic", "cash"}

        Examples
        --------
        >>> from vmo_lib.model import make_case
        >>> case = make_case({"first_period": "2026", "period_length": "year", "horizon": 3, "discount_rate": 0},
        ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
        ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 80, 80]}],
        ...                  actuals=[{"period": "2026", "line_id": "C1", "amount": 130}])
        >>> m = CaseMatrices.outlook(case, "2026Q4")
        >>> m.scenario, m.fixed_through, m.npv(), what_if_npv(m, WhatIf(cost_overrun=0.5))  # 130 is sunk
        ('expected', 0, 30.0, 30.0)
        """
        quarter = review_quarter(as_of)
        case = known_at(case, quarter)  # a re-baseline approved later is not yet in force

        def build() -> CaseMatrices:
            tau = case.t_of(review_period(case, quarter))
            m = cls.from_case(expected_case(case, quarter), EXPECTED, view)
            return dataclasses.replace(m, fixed_through=max(int(tau), -1), as_of=quarter, _cache={})
        return memo(f"case_matrices_outlook:{view}", case, quarter, build)

    @property
    def horizon(self) -> int:
        return int(self.discount_factors.shape[0])

    @property
    def future(self) -> np.ndarray:
        """Per period: True after the last fixed period (every period of a plan)."""
        return np.arange(self.horizon) > self.fixed_through

    def split(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(fixed, future)``: ``a`` (``(..., horizon)``) with the future, then the fixed periods zeroed."""
        fut = self.future
        return np.where(fut, 0.0, a), np.where(fut, a, 0.0)

    def factors(self, annual_rate: float | None = None) -> np.ndarray:
        """The case's discount factors, or flat ones at ``annual_rate`` (cached per rate)."""
        if annual_rate is None:
            return self.discount_factors
        key = ("df", float(annual_rate))
        df = self._cache.get(key)
        if df is None:
            # the same formula as appraisal.discount_factors(case, annual_rate)
            df = self._cache[key] = _frozen(
                finance.discount_factors(finance.per_period_rate(float(annual_rate), self.periods_per_year), self.horizon))
        return df

    def profiles(self) -> np.ndarray:
        """Per-period totals ``(4, horizon)``: capex, opex, benefits (no dis-benefits), dis-benefits."""
        p = self._cache.get("profiles")
        if p is None:
            p = self._cache["profiles"] = _frozen(np.stack([
                self.costs[self.is_capex].sum(axis=0), self.costs[~self.is_capex].sum(axis=0),
                self.benefits[~self.is_disbenefit].sum(axis=0), self.benefits[self.is_disbenefit].sum(axis=0),
            ]) if self.horizon else np.zeros((4, 0)))
        return p

    def line_pv(self, annual_rate: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """PV of each cost line and each benefit line (unsigned as stored: costs positive)."""
        df = self.factors(annual_rate)
        return self.costs @ df, self.benefits @ df

    def npv(self, annual_rate: float | None = None) -> float:
        """NPV of the scenario as precomputed (equals :func:`vmo_lib.analysis.appraisal.npv_of`)."""
        return what_if_npv(self, _NEUTRAL if annual_rate is None else WhatIf(discount_rate=annual_rate))


def _frozen_bool(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=bool).copy()
    a.setflags(write=False)
    return a


_NEUTRAL = WhatIf()


def shift_right(x: np.ndarray, n: int) -> np.ndarray:
    """Move every row ``n`` periods later; what passes the last period is dropped."""
    if n <= 0:
        return x
    out = np.zeros_like(x)
    if n < x.shape[-1]:
        out[..., n:] = x[..., : x.shape[-1] - n]
    return out


def _adjust(costs: np.ndarray, is_capex: np.ndarray, benefits: np.ndarray, is_dis: np.ndarray,
            what_if: WhatIf, ob: OptimismBias, fixed_through: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """The what-if rules on (lines, t) arrays: the only place they are written down in code.

    Periods ``t <= fixed_through`` (actuals to date) are left as they are: only the later flows are
    scaled, and a delay moves them later (never into the fixed periods).
    """
    if fixed_through >= 0:
        k = min(fixed_through + 1, costs.shape[-1])
        c_f, b_f = costs.copy(), benefits.copy()
        c_f[..., :k] = 0.0
        b_f[..., :k] = 0.0
        c, b = _adjust(c_f, is_capex, b_f, is_dis, what_if, ob)
        c[..., :k] = costs[..., :k]
        b[..., :k] = benefits[..., :k]
        return c, b
    capex_mult = opex_mult = 1.0 + what_if.cost_overrun
    ben_mult = what_if.benefit_realisation
    delay = what_if.delay_periods
    if what_if.optimism_bias:
        capex_mult *= 1.0 + ob.capex
        opex_mult *= 1.0 + ob.opex
        ben_mult *= 1.0 - ob.benefits
        delay += ob.delay_periods
    c = costs * np.where(is_capex, capex_mult, opex_mult)[:, None]
    b = benefits * np.where(is_dis, 1.0, ben_mult)[:, None]
    return c, shift_right(b, delay)


def what_if_npv(matrices: CaseMatrices, what_if: WhatIf) -> float:
    """NPV of a what-if on precomputed matrices (microseconds: four per-period totals).

    Parameters
    ----------
    matrices : CaseMatrices
    what_if : WhatIf

    Returns
    -------
    float
        Equals ``npv_of(apply_what_if(case, what_if), what_if.scenario_name())`` (tested).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"period_length": "year", "first_period": "2026", "horizon": 2, "discount_rate": 0.1},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 121]}])
    >>> round(what_if_npv(CaseMatrices.from_case(case), WhatIf(discount_rate=0.21)), 9)
    0.0
    """
    p = matrices.profiles()
    c, b = _adjust(p[:2], _CAPEX_OPEX, p[2:], _BEN_DIS, what_if, matrices.optimism, matrices.fixed_through)
    df = matrices.factors(what_if.discount_rate)
    return float((b[0] + b[1] - c[0] - c[1]) @ df)


_CAPEX_OPEX = np.array([True, False])
_BEN_DIS = np.array([False, True])


def apply_what_if(target: BusinessCase | CaseMatrices, what_if: WhatIf, scenario: str = "baseline"):
    """Apply a what-if to a case (new scenario in a copy) or to precomputed matrices.

    Parameters
    ----------
    target : BusinessCase or CaseMatrices
        Never modified.
    what_if : WhatIf
    scenario : str
        Base scenario (cases only; matrices carry their own).

    Returns
    -------
    BusinessCase or CaseMatrices
        For a case: a copy whose flows gain the scenario ``what_if.scenario_name(scenario)`` (every
        line, every period) and, when ``discount_rate`` is set, whose discounting is that flat rate.
        For matrices: adjusted matrices named the same way.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.appraisal import npv_of
    >>> case = make_case({"period_length": "year", "first_period": "2026", "horizon": 3, "discount_rate": 0},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 80, 80]}])
    >>> w = WhatIf(cost_overrun=0.5, name="late", delay_periods=1)
    >>> npv_of(apply_what_if(case, w), "baseline+late")
    -70.0
    """
    if isinstance(target, CaseMatrices):
        c, b = _adjust(target.costs, target.is_capex, target.benefits, target.is_disbenefit, what_if, target.optimism,
                       target.fixed_through)
        df = target.factors(what_if.discount_rate)
        return dataclasses.replace(target, scenario=what_if.scenario_name(target.scenario), costs=_frozen(c),
                                   benefits=_frozen(b), discount_factors=df, _cache={})
    if not isinstance(target, BusinessCase):
        raise TypeError(f"apply_what_if takes a BusinessCase or CaseMatrices, not {type(target).__name__}")
    case = target
    m = case.matrix(scenario)
    lines = case.lines.set_index("line_id").reindex(m.index)
    is_cost = (lines["kind"] == "cost").to_numpy()
    a = m.to_numpy()
    c, b = _adjust(a[is_cost], (lines["category"] == "capex").to_numpy()[is_cost], a[~is_cost],
                   (lines["benefit_type"] == _DIS).to_numpy()[~is_cost], what_if, optimism_bias(case))
    out = np.empty_like(a)
    out[is_cost], out[~is_cost] = c, b
    new = _scenario_flows(case, m.index, lines["kind"].to_numpy(), out, what_if.scenario_name(scenario))
    meta = dict(case.meta)
    if what_if.discount_rate is not None:
        meta.update(discount_rate=what_if.discount_rate, discount_schedule="flat")
    return dataclasses.replace(case, meta=meta, flows=_replace_scenario(case.flows, new))


def _scenario_flows(case: BusinessCase, line_ids, kinds, amounts: np.ndarray, name: str) -> pd.DataFrame:
    """Tidy flow rows of one scenario from a (lines, t) array."""
    n, h = amounts.shape
    periods = np.array(case.periods, dtype=object)
    return pd.DataFrame({
        "case_id": case.case_id, "line_id": np.repeat(np.asarray(line_ids, dtype=object), h),
        "kind": np.repeat(np.asarray(kinds, dtype=object), h), "period": np.tile(periods, n),
        "t": np.tile(np.arange(h), n), "scenario": name, "amount": amounts.ravel(),
        "kpi_value": np.nan, "comment": None,
    })


def _replace_scenario(flows: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    name = new["scenario"].iloc[0] if len(new) else None
    keep = flows[flows["scenario"] != name]
    return normalise_flows(pd.concat([keep, new.reindex(columns=flows.columns)], ignore_index=True))


def what_if_appraisal(case: BusinessCase, what_if: WhatIf, scenario: str = "baseline",
                      view: str = "economic") -> appraisal.Appraisal:
    """The appraisal of a what-if: ``appraise(apply_what_if(case, what_if, scenario), what_if.scenario_name(scenario),
    view)``, the same numbers computed on the line arrays without building the new scenario's flows.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"period_length": "year", "first_period": "2026", "horizon": 3, "discount_rate": 0},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 80, 80]}])
    >>> a = what_if_appraisal(case, WhatIf(cost_overrun=0.5, name="late", delay_periods=1))
    >>> a.scenario, a.npv
    ('baseline+late', -70.0)
    """
    fast = appraisal.line_arrays(case, scenario, view) if view in appraisal.VIEWS else None
    if fast is None or what_if.discount_rate is not None:
        return appraisal.appraise(apply_what_if(case, what_if, scenario), what_if.scenario_name(scenario), view)
    a, _, is_cost, in_view, category, btype = fast
    ob = optimism_bias(case)
    # apply_what_if's rule on the same rows: costs are the cost lines, benefits every other line
    c, b = _adjust(a[is_cost], (category == "capex")[is_cost], a[~is_cost], (btype == _DIS)[~is_cost], what_if, ob)
    out = np.empty_like(a)
    out[is_cost], out[~is_cost] = c, b
    out += 0.0  # as the flows read back into a matrix hold them (a -0.0 becomes 0.0)
    return appraisal.appraise_lines(case, what_if.scenario_name(scenario), view, out[is_cost], out[in_view],
                                    category[is_cost], btype[in_view])


def optimism_bias_adjusted(case: BusinessCase, scenario: str = "baseline") -> BusinessCase:
    """A copy of the case with the optimism-bias-adjusted scenario ``"<scenario>+ob"``.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.appraisal import npv_of
    >>> case = make_case({"case_type": "IT: outsourcing", "horizon": 2, "discount_rate": 0,
    ...                   "ob_benefits": 0.5, "status": "proposed"},
    ...                  costs=[{"line_id": "C1", "name": "Service", "category": "opex", "amounts": [100, 100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [150, 150]}])
    >>> round(npv_of(optimism_bias_adjusted(case), "baseline+ob"), 6)     # 150 - 282
    -132.0
    """
    return apply_what_if(case, WhatIf(optimism_bias=True, name="ob"), scenario)


# --------------------------------------------------------------------------------------------------
# three-point estimates
# --------------------------------------------------------------------------------------------------
def three_point_factors(case: BusinessCase, matrices: CaseMatrices | None = None, scenario: str = "baseline",
                        view: str = "economic") -> pd.DataFrame:
    """Each line's three-point range as multipliers of its period profile.

    Parameters
    ----------
    case : BusinessCase
    matrices : CaseMatrices, optional
        Lines to cover, in this order (costs then benefits); built from ``scenario``/``view`` if
        omitted.

    Returns
    -------
    pandas.DataFrame
        Index ``line_id``; columns ``kind``, ``low``, ``high`` (multipliers: the ``low``/``high``
        estimate over ``likely``), ``lo``/``hi`` (their min and max), ``pessimistic``,
        ``optimistic`` (the multiplier giving the lower / higher NPV), ``distribution``
        (``triangular`` or ``pert``), ``driver`` (None when blank) and ``stochastic`` (lo < hi).

    Notes
    -----
    ``likely`` is the line's ``likely`` total, or the sum of its periods when blank. A blank ``low``
    or ``high`` means no range on that side (multiplier 1); a line with no estimate is fixed. The
    likely estimate must lie between low and high, and a range needs a non-zero likely: both are
    errors naming the sheet and row.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"horizon": 2}, costs=[{"line_id": "C1", "name": "x", "amounts": [50, 50],
    ...                   "low": 80, "likely": 100, "high": 150}])
    >>> three_point_factors(case)[["low", "high", "pessimistic", "optimistic"]].to_dict("records")
    [{'low': 0.8, 'high': 1.5, 'pessimistic': 1.5, 'optimistic': 0.8}]
    """
    m = matrices or CaseMatrices.from_case(case, scenario, view)
    # within a review (vmo_lib.analysis.outlook.shared_work) once per case and matrices
    hit = memo(f"three_point_factors:{id(m)}", case, "", lambda: (m, _three_point_factors(case, m)))
    return hit[1] if hit[0] is m else _three_point_factors(case, m)


_TP_COLUMNS = ("low", "likely", "high", "distribution", "driver", "row")


def _line_columns(case: BusinessCase, ids: list) -> dict[str, list]:
    """The attribute columns of lines ``ids`` (in that order) as lists: what
    ``case.lines.drop_duplicates("line_id").set_index("line_id").reindex(ids)[c].tolist()`` holds, read by
    position when every id is a unique line id (no reindexing, so no NaN fill and no dtype change)."""
    lines = case.lines
    lid = lines["line_id"].tolist()
    pos = {v: i for i, v in enumerate(lid)}
    if len(pos) == len(lid) and all(i in pos for i in ids):
        take = [pos[i] for i in ids]
        out = {}
        for c in _TP_COLUMNS:
            if c in lines:
                col = lines[c].tolist()
                out[c] = [col[j] for j in take]
        return out
    frame = lines.drop_duplicates("line_id").set_index("line_id").reindex(ids)
    return {c: frame[c].tolist() for c in _TP_COLUMNS if c in frame}


def _three_point_factors(case: BusinessCase, m: CaseMatrices) -> pd.DataFrame:
    ids = list(m.cost_ids) + list(m.benefit_ids)
    kinds = ["cost"] * len(m.cost_ids) + ["benefit"] * len(m.benefit_ids)
    totals = np.concatenate([m.costs.sum(axis=1), m.benefits.sum(axis=1)]).tolist()
    # each line's attributes as a dict (what lines.iloc[i] holds), a column at a time
    columns = _line_columns(case, ids)
    cols = ["kind", "low", "high", "lo", "hi", "pessimistic", "optimistic", "distribution", "driver", "stochastic"]
    data: dict[str, list] = {c: [] for c in cols}
    for i, lid in enumerate(ids):
        ln = {c: v[i] for c, v in columns.items()}
        low, likely, high = (_num(ln.get(k)) for k in ("low", "likely", "high"))
        if likely is None:
            likely = float(totals[i]) if (low is not None or high is not None) else None
        f_low = f_high = 1.0
        if likely is not None and (low is not None or high is not None):
            if likely == 0:
                if (low or 0) != 0 or (high or 0) != 0:
                    raise AnalysisError(f"{_where(case, ln, lid, kinds[i])}: a three-point range needs a non-zero "
                                        f"likely total (low={low}, likely={likely}, high={high})")
            else:
                f_low = 1.0 if low is None else low / likely
                f_high = 1.0 if high is None else high / likely
                if not min(f_low, f_high) <= 1.0 <= max(f_low, f_high) or f_low < 0 or f_high < 0:
                    raise AnalysisError(f"{_where(case, ln, lid, kinds[i])}: expected low ≤ likely ≤ high of the "
                                        f"same sign, got low={low}, likely={likely}, high={high}")
        lo, hi = min(f_low, f_high), max(f_low, f_high)
        # direction of the line's effect on NPV: costs and dis-benefits lower it as they grow
        worse_when_larger = kinds[i] == "cost" or totals[i] < 0 or (likely is not None and likely < 0)
        dist = "triangular" if _blank(ln.get("distribution")) else str(ln.get("distribution")).strip().lower()
        if dist not in ("triangular", "pert"):
            raise AnalysisError(f"{_where(case, ln, lid, kinds[i])}: distribution must be 'triangular' or 'pert', "
                                f"got {ln.get('distribution')!r}")
        driver = ln.get("driver")
        for c, v in zip(cols, (kinds[i], f_low, f_high, lo, hi, hi if worse_when_larger else lo,
                               lo if worse_when_larger else hi, dist, None if _blank(driver) else str(driver).strip(),
                               hi > lo), strict=True):
            data[c].append(v)
    if not ids:
        out = pd.DataFrame([], columns=["line_id", *cols])
        out["driver"] = pd.Series([], dtype=object, index=out.index)
        return out.set_index("line_id")
    index = pd.Index(ids, name="line_id")
    # object dtype keeps "no driver" as None (a string column would turn it into NaN)
    data["driver"] = pd.Series(data["driver"], dtype=object, index=index)  # type: ignore[assignment]
    return pd.DataFrame(data, index=index, columns=cols)


def _num(v: Any) -> float | None:
    if _blank(v):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _where(case: BusinessCase, ln: pd.Series, lid: str, kind: str) -> str:
    sheet = "Costs" if kind == "cost" else "Benefits"
    row = ln.get("row")
    src = case.source or f"case {case.case_id}"
    at = f"{sheet}!row {int(row)}" if not _blank(row) else sheet
    return f"{src}: {at} (line {lid})"


def three_point_scenarios(case: BusinessCase, scenario: str = "baseline") -> BusinessCase:
    """A copy of the case with the scenarios ``pessimistic``, ``likely`` and ``optimistic``.

    Each line's period profile of ``scenario`` is scaled to its estimate: *pessimistic* takes the
    estimate with the lower NPV for every line (costs and dis-benefits high, benefits low),
    *optimistic* the reverse, *likely* the profile as planned.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.appraisal import npv_of
    >>> case = make_case({"horizon": 2, "discount_rate": 0},
    ...     costs=[{"line_id": "C1", "name": "x", "amounts": [100], "low": 90, "likely": 100, "high": 130}],
    ...     benefits=[{"line_id": "B1", "name": "y", "amounts": [0, 150], "low": 100, "likely": 150, "high": 160}])
    >>> c = three_point_scenarios(case)
    >>> [npv_of(c, s) for s in ("pessimistic", "likely", "optimistic")]
    [-30.0, 50.0, 70.0]
    """
    m = case.matrix(scenario)
    lines = case.lines.set_index("line_id").reindex(m.index)
    cm = CaseMatrices.from_case(case, scenario)
    f = three_point_factors(case, cm).reindex(m.index)
    flows = case.flows
    for name in THREE_POINT_SCENARIOS:
        mult = np.ones(len(m)) if name == "likely" else f[name].fillna(1.0).to_numpy()
        new = _scenario_flows(case, m.index, lines["kind"].to_numpy(), m.to_numpy() * mult[:, None], name)
        flows = _replace_scenario(flows, new)
    return case.with_flows(flows)
