"""Build the sample portfolio in ``data/sample/``: sixteen IT business cases reviewed as of 2026Q3.

Each case is written with :func:`vmo_lib.intake.template.write_case_workbook` from a
:func:`vmo_lib.model.make_case` case, and ``data/sample/README.md`` lists them with the story each
one tells. The script is deterministic (fixed seed, no dates from the clock) and re-runnable::

    .venv/bin/python scripts/make_sample_portfolio.py [OUT_DIR]

How the numbers are made
------------------------
* Every benefit is a KPI moving from its baseline value toward its target; the money in a period is
  the improvement in KPI units times the value per unit (a dis-benefit's is negated). The measured
  KPI values in the Actuals sheet are therefore consistent with the amounts.
* A :class:`Story` says how reality departed from the approved baseline for one line: a level
  (actual ÷ plan), a slip in periods (benefits shift, build costs stretch), the owner's new estimate
  for the rest of the horizon, noise, and measurement gaps. Actuals run from period 0 to the period
  the 2026Q3 review covers (:func:`vmo_lib.periods.review_period`: 2026Q3, or 2025 for a yearly case);
  forecast rows are written only for lines whose estimate changed (every line with ``forecast_all``).
* A cancelled case's lines have ``outlook=0``: a zero forecast for every period after the cancellation.
* Three-point estimates are whole-life totals with ``likely`` equal to the sum of the periods.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable without installing the package
    sys.path.insert(0, str(ROOT))

from vmo_lib.model import BusinessCase, make_case  # noqa: E402
from vmo_lib.periods import period_end_date, period_offset, period_range, review_period  # noqa: E402

AS_OF = "2026Q3"
SEED = 20260930
OUT_DIR = ROOT / "data" / "sample"

OBJ_REVENUE = "Grow recurring revenue"
OBJ_LEAN = "Run a lean, resilient operation"
OBJ_DIGITAL = "Delight customers digitally"
OBJ_SAFE = "Stay safe and compliant"
#: The KPI two cases both claim for Customer Service (double counting for the portfolio view);
#: spelled differently on purpose so a detector has to normalise names.
CALLS_KPI = "Inbound calls to the contact centre"


# --- specification ------------------------------------------------------------------------------
@dataclass
class Story:
    """How reality departed from the baseline for one line.

    ``level`` is actual ÷ plan up to the review date, ``delay`` the slip in periods (benefits and
    running costs shift; build costs stretch over the longer delivery), ``outlook`` the owner's
    estimate (÷ plan) for the periods after the review date (default: the same as ``level``),
    ``noise`` the relative spread of quarterly actuals, ``gap_from`` the first period with no
    actual reported (a measurement gap). ``kpi_factor`` (benefits) is the measured KPI improvement
    over the improvement the claimed money implies: 1 = the KPI backs the claim, 0.6 = the owner
    claims two-thirds more than the KPI supports, below 0 = the KPI moved the wrong way.
    """

    level: float = 1.0
    delay: int = 0
    outlook: float | None = None
    noise: float = 0.04
    gap_from: str | None = None
    kpi_factor: float = 1.0  # measured KPI improvement ÷ the improvement the money claims (a benefit's)


@dataclass
class Cost:
    line_id: str
    name: str
    category: str
    spend: dict[tuple[str, str], float]  # (first, last period) -> amount per period
    driver: str | None = None
    distribution: str | None = None
    range_: tuple[float, float] | None = (0.9, 1.4)  # low, high as multiples of likely
    story: Story = field(default_factory=Story)


@dataclass
class Benefit:
    line_id: str
    name: str
    benefit_type: str
    owner: str
    kpi: str
    unit: str
    baseline_value: float
    target_value: float
    value_per_unit: float | None  # None: not monetised (quantifiable non-financial)
    start: str  # first period with an improvement
    ramp: int  # periods from start to full improvement
    frequency: str
    data_source: str
    enabler: str
    confidence: str
    baseline_date: dt.date
    end: str | None = None  # last period with an improvement (default: the horizon)
    profile: dict[str, float] | None = None  # improvement per period, overrides start/ramp
    kpi_rollup: str | None = None
    org_unit: str | None = None
    driver: str | None = None
    distribution: str | None = None
    range_: tuple[float, float] | None = (0.6, 1.15)
    story: Story = field(default_factory=Story)
    evidence: tuple[str, str] | None = None  # (status, source) written on every actual of the line


@dataclass
class Spec:
    meta: dict[str, Any]
    story: str  # one line for the README
    costs: list[Cost]
    benefits: list[Benefit]
    comments: dict[tuple[str, str], str] = field(default_factory=dict)  # (period, line) -> comment
    rebaseline: dict[str, Any] | None = None  # version, approved, reason, stories {line_id: Story}
    seed: int = 0
    exercises: str = ""  # what the case exercises in a review, for the README
    verdict: str = ""  # the verdict as of 2026Q3 under today's code, for the README (the tests check it)
    note: str = ""  # what else the reader should know about the verdict or decision
    decision: str = ""  # the decision as of 2026Q3 (vmo_lib.analysis.review.decide), for the README
    forecast_all: bool = False  # a Forecast row for every monetised line after the review period
    #: the period whose actuals and revised forecast come in a filled return (``<case>.returns/<period>.xlsx``)
    #: instead of the workbook: the workbook keeps the actuals before it and no Forecast rows
    return_period: str | None = None


# --- building -----------------------------------------------------------------------------------
def _t(case_meta: dict[str, Any], period: str) -> int:
    return period_offset(period, case_meta["first_period"], case_meta["period_length"])


def _review_t(case_meta: dict[str, Any]) -> int:
    """Offset of the period the 2026Q3 review covers: the quarter itself, or a yearly case's last
    completed year (2025), :func:`vmo_lib.periods.review_period`."""
    return _t(case_meta, review_period(AS_OF, case_meta["period_length"]))


def _cost_plan(meta: dict[str, Any], c: Cost) -> np.ndarray:
    out = np.zeros(meta["horizon"])
    for (first, last), amount in c.spend.items():
        out[_t(meta, first):_t(meta, last) + 1] += amount
    return out


def _improvement_plan(meta: dict[str, Any], b: Benefit) -> np.ndarray:
    """Improvement over the KPI baseline, in KPI units, per period."""
    n = meta["horizon"]
    out = np.zeros(n)
    if b.profile is not None:
        for p, v in b.profile.items():
            out[_t(meta, p)] = v
        return out
    full = abs(b.target_value - b.baseline_value)
    s = _t(meta, b.start)
    e = n - 1 if b.end is None else _t(meta, b.end)
    for t in range(s, e + 1):
        out[t] = full * min(1.0, (t - s + 1) / b.ramp)
    return out


def _money(b: Benefit, improvement: np.ndarray) -> np.ndarray | None:
    if b.value_per_unit is None:
        return None
    sign = -1.0 if b.benefit_type == "dis-benefit" else 1.0
    return np.round(sign * improvement * b.value_per_unit, -2)


def _kpi(b: Benefit, improvement: float) -> float:
    direction = 1.0 if b.target_value >= b.baseline_value else -1.0
    if b.benefit_type == "dis-benefit":
        direction = 1.0  # the KPI measures the harm (extra cost, hours lost)
    return round(b.baseline_value + direction * improvement, 2)


def _apply(plan: np.ndarray, level: float, delay: int, stretch: bool) -> np.ndarray:
    """The plan moved by a story: shifted (or stretched, for build costs) by ``delay`` periods and
    scaled by ``level``."""
    n = len(plan)
    if delay == 0:
        return plan * level
    if not stretch:
        out = np.zeros(n)
        out[delay:] = plan[: n - delay]
        return out * level
    nz = np.flatnonzero(plan)
    if not len(nz):
        return plan.copy()
    s, e = nz[0], nz[-1]
    span = e - s + 1
    cum = np.concatenate([[0.0], np.cumsum(plan[s:e + 1])])
    x_new = np.arange(span + delay + 1) * span / (span + delay)
    new_cum = np.interp(x_new, np.arange(span + 1), cum)
    out = np.zeros(n)
    seg = np.diff(new_cum)[: n - s]
    out[s:s + len(seg)] = seg
    return out * level


def _three_point(likely: float, range_: tuple[float, float] | None) -> dict[str, Any]:
    if range_ is None or likely == 0:
        return {}
    a, b = (likely * range_[0], likely * range_[1])
    low, high = sorted((round(a, -3), round(b, -3)))
    return {"low": low, "likely": likely, "high": high}


def build_case(spec: Spec) -> BusinessCase:
    """The :class:`BusinessCase` of one spec: baseline, actuals to the review date, forecast."""
    meta = spec.meta
    rng = np.random.default_rng([SEED, spec.seed])
    periods = period_range(meta["first_period"], meta["horizon"], meta["period_length"])
    as_of_t = min(_review_t(meta), meta["horizon"] - 1)
    reported = meta["status"] != "proposed" and as_of_t >= 0
    costs, benefits, actuals, forecast = [], [], [], []
    rb_amounts: dict[str, list[float]] = {}

    def realise(line_id: str, plan: np.ndarray, story: Story, stretch: bool, money: bool) -> tuple[np.ndarray, np.ndarray]:
        """(actual, outlook) in the plan's units; the reference is the re-baseline if there is one."""
        ref = plan
        if spec.rebaseline is not None:
            rs = spec.rebaseline["stories"].get(line_id, Story())
            ref = _apply(plan, rs.level, rs.delay, stretch)
            if money:
                rb_amounts[line_id] = ref
        actual = _apply(ref, story.level, story.delay, stretch)
        noise = 1 + rng.normal(0.0, story.noise, len(plan))
        outlook = _apply(ref, story.outlook if story.outlook is not None else story.level, story.delay, stretch)
        return actual * noise, outlook

    def write_rows(line_id: str, plan: np.ndarray, actual: np.ndarray, outlook: np.ndarray, story: Story,
                   kpi_of=None, money: bool = True, evidence: tuple[str, str] | None = None) -> None:
        if not reported:
            return
        gap_t = _t(meta, story.gap_from) if story.gap_from else None
        for t in range(as_of_t + 1):
            if gap_t is not None and t >= gap_t:
                break
            if abs(plan[t]) < 1 and abs(actual[t]) < 1:
                continue
            row: dict[str, Any] = {"period": periods[t], "line_id": line_id,
                                   "comment": spec.comments.get((periods[t], line_id))}
            if money:
                row["amount"] = float(np.round(actual[t], -2))
            if kpi_of is not None:
                row["kpi_value"] = kpi_of(actual[t])
            if evidence is not None:
                row["evidence"], row["evidence_source"] = evidence
            actuals.append(row)
        base_ref = rb_amounts.get(line_id, plan) if money else plan
        rest = range(as_of_t + 1, meta["horizon"])
        if money and (spec.forecast_all or any(abs(outlook[t] - base_ref[t]) >= 1 for t in rest)):
            for t in rest:
                # a zero is stated where the original plan had a flow, so the expected profile never
                # falls back to the original plan whichever baseline is in force
                if abs(outlook[t]) >= 1 or abs(base_ref[t]) >= 1 or abs(plan[t]) >= 1:
                    forecast.append({"period": periods[t], "line_id": line_id,
                                     "amount": float(np.round(outlook[t], -2)),
                                     "comment": spec.comments.get((periods[t], line_id))})

    for c in spec.costs:
        plan = np.round(_cost_plan(meta, c), -2)
        stretch = c.category == "capex"
        actual, outlook = realise(c.line_id, plan, c.story, stretch, True)
        write_rows(c.line_id, plan, actual, outlook, c.story)
        costs.append({"line_id": c.line_id, "name": c.name, "category": c.category, "driver": c.driver,
                      "distribution": c.distribution, **_three_point(float(plan.sum()), c.range_),
                      "amounts": _blank_zeros(plan)})
    for b in spec.benefits:
        imp = _improvement_plan(meta, b)
        amounts = _money(b, imp)
        money = amounts is not None
        plan = amounts if money else imp
        actual, outlook = realise(b.line_id, plan, b.story, False, money)
        if money:
            def kpi_of(a: float, b: Benefit = b) -> float:
                return _kpi(b, b.story.kpi_factor * abs(a) / b.value_per_unit)
        else:
            def kpi_of(a: float, b: Benefit = b) -> float:
                return _kpi(b, a)
        write_rows(b.line_id, plan, actual, outlook, b.story, kpi_of=kpi_of, money=money, evidence=b.evidence)
        target_t = (_t(meta, b.start) + b.ramp - 1) if b.profile is None else _t(meta, max(b.profile, key=lambda p: _t(meta, p)))
        benefits.append({
            "line_id": b.line_id, "name": b.name, "benefit_type": b.benefit_type, "owner": b.owner,
            "kpi": b.kpi, "unit": b.unit, "baseline_value": b.baseline_value, "baseline_date": b.baseline_date,
            "target_value": b.target_value, "target_date": period_end_date(periods[min(target_t, len(periods) - 1)], meta["period_length"]),
            "value_per_unit": b.value_per_unit,
            # money = KPI change from baseline x value per unit (how every monetised line is made, above)
            "kpi_basis": "change" if money and b.benefit_type != "dis-benefit" else None,
            "frequency": b.frequency, "data_source": b.data_source,
            "enabler": b.enabler, "confidence": b.confidence, "kpi_rollup": b.kpi_rollup, "org_unit": b.org_unit,
            "driver": b.driver, "distribution": b.distribution,
            **(_three_point(float(amounts.sum()), b.range_) if money else {}),
            "amounts": _blank_zeros(amounts) if money else [],
        })
    rebaselines = []
    if spec.rebaseline is not None:
        rb = spec.rebaseline
        rebaselines.append({"version": rb["version"], "approved": rb["approved"], "reason": rb["reason"],
                            "amounts": {k: np.round(v, -2).tolist() for k, v in rb_amounts.items()}})
    case = make_case(meta, costs=costs, benefits=benefits, actuals=actuals, forecast=forecast, rebaselines=rebaselines)
    f = case.flows
    empty_rb = f["scenario"].str.startswith("rebaseline:") & (f["amount"] == 0)
    return case.with_flows(f[~empty_rb])  # a re-baseline lists only the periods with a flow


def _meta(case_id: str, title: str, **kw: Any) -> dict[str, Any]:
    base = {"case_id": case_id, "title": title, "period_length": "quarter", "currency": "GBP",
            "price_base": "nominal", "discount_rate": 0.08, "discount_schedule": "flat"}
    base.update(kw)
    base.setdefault("base_year", int(str(base["first_period"])[:4]))
    return base


# --- the cases ---------------------------------------------------------------------------------
def sample_specs() -> list[Spec]:
    """The sample portfolio's cases, in README order."""
    d = dt.date
    specs: list[Spec] = []

    # 1. ERP: large, slipped two quarters, cost overrun, benefits delayed (timing effect).
    slip = Story(level=1.0, delay=2)
    specs.append(Spec(
        _meta("ERP-2024", "Finance ERP replacement", sponsor="Chief Financial Officer", portfolio="Corporate systems",
              strategic_objective=OBJ_LEAN, org_unit="Finance", case_type="IT: equipment/development",
              status="live", approval_date=d(2023, 12, 12), first_period="2024Q1", horizon=40,
              go_live_period="2025Q4", base_year=2024),
        "Slipped two quarters (go-live 2025Q4 → 2026Q2); implementation partner +20%; benefits delayed two quarters: "
        "mostly a timing effect",
        costs=[
            Cost("C1", "ERP SaaS subscription", "opex", {("2024Q1", "2025Q4"): 120_000, ("2026Q1", "2033Q4"): 260_000},
                 driver="vendor", range_=(0.95, 1.15)),
            Cost("C2", "Implementation partner", "capex", {("2024Q1", "2025Q4"): 1_100_000}, driver="delivery",
                 distribution="pert", range_=(0.9, 1.6), story=Story(level=1.2, delay=2, noise=0.05)),
            Cost("C3", "Internal project team and backfill", "capex", {("2024Q1", "2026Q1"): 350_000}, driver="delivery",
                 story=Story(level=1.1, delay=2)),
            Cost("C4", "Data migration", "capex", {("2025Q1", "2025Q4"): 300_000}, driver="delivery",
                 story=Story(level=1.2, delay=2)),
            Cost("C5", "Training and change management", "capex", {("2025Q2", "2026Q1"): 150_000}, driver="adoption",
                 story=Story(delay=2)),
            Cost("C6", "Legacy ERP decommissioning", "capex", {("2026Q1", "2026Q2"): 200_000}, story=slip),
            Cost("C7", "Application support (run)", "opex", {("2026Q1", "2033Q4"): 90_000}, range_=(0.9, 1.25),
                 story=Story(delay=2)),
        ],
        benefits=[
            Benefit("B1", "Legacy ERP licences and support retired", "cash-releasing", "Head of IT Finance",
                    "Legacy ERP licence and support spend", "GBP per quarter", 420_000, 0, 1.0, "2026Q3", 1,
                    "quarterly", "Accounts payable ledger", "Legacy ERP decommissioned", "high", d(2023, 9, 30),
                    driver="vendor", range_=(0.9, 1.05), story=slip),
            Benefit("B2", "Finance staff time released", "non-cash-releasing", "Financial Controller",
                    "Finance hours released per quarter", "hours", 0, 9_000, 42.0, "2026Q1", 4, "quarterly",
                    "Time-recording sample", "Automated reconciliations and workflow", "medium", d(2023, 10, 31),
                    driver="adoption", distribution="pert", story=Story(delay=2)),
            Benefit("B3", "Lower debtor days (cash released from working capital)", "cash-releasing", "Head of Credit Control",
                    "Debtor days (DSO)", "days", 52, 45, 30_000.0, "2026Q1", 6, "monthly", "ERP aged-debt report",
                    "Automated dunning and e-invoicing", "medium", d(2023, 10, 31), kpi_rollup="mean",
                    driver="adoption", story=Story(level=0.9, delay=2)),
            Benefit("B4", "Faster month-end close", "quantifiable non-financial", "Financial Controller",
                    "Working days to close the month", "days", 9, 4, None, "2026Q1", 4, "monthly",
                    "Close calendar", "Automated reconciliations and workflow", "high", d(2023, 10, 31),
                    kpi_rollup="mean", story=Story(level=0.8, delay=2, noise=0.0)),
            Benefit("B5", "Less off-contract purchasing", "cash-releasing", "Chief Procurement Officer",
                    "Off-contract share of third-party spend", "%", 22.0, 12.0, 60_000.0, "2026Q1", 6, "quarterly",
                    "Spend analytics cube", "Purchase-to-pay controls and catalogues", "medium", d(2023, 10, 31),
                    kpi_rollup="mean", driver="adoption", distribution="pert", range_=(0.5, 1.1),
                    story=Story(delay=2)),
        ],
        comments={("2025Q4", "C2"): "Go-live moved to 2026Q2 after failed payroll-interface testing (change request CR-14)",
                  ("2026Q2", "C2"): "Hypercare extended by one quarter",
                  ("2026Q3", "B1"): "Legacy contract ended 30 June; first full quarter without licence fees",
                  ("2026Q3", "B2"): "Reconciliation workflow live in two of five teams"},
        exercises='a slip and an overrun: benefits two quarters late (mostly a timing effect); a quantifiable non-financial KPI',
        verdict='at risk',
        decision='recover',
        seed=1,
    ))

    # 2. CRM: over-delivering.
    specs.append(Spec(
        _meta("CRM-2025", "Sales CRM replacement", sponsor="Chief Commercial Officer", portfolio="Commercial",
              strategic_objective=OBJ_REVENUE, org_unit="Sales", case_type="IT: equipment/development",
              status="live", approval_date=d(2024, 11, 20), first_period="2025Q1", horizon=24,
              go_live_period="2025Q3", discount_rate=0.09),
        "Over-delivering: conversion uplift 25% above plan, costs close to plan: value created",
        costs=[
            Cost("C1", "CRM SaaS licences (400 seats)", "opex", {("2025Q1", "2030Q4"): 96_000}, driver="vendor",
                 range_=(0.95, 1.2), story=Story(level=1.0, noise=0.0)),
            Cost("C2", "Implementation partner", "capex", {("2025Q1", "2025Q3"): 380_000}, driver="delivery",
                 distribution="pert", story=Story(level=1.06)),
            Cost("C3", "Data migration and de-duplication", "capex", {("2025Q2", "2025Q3"): 120_000}, driver="delivery",
                 story=Story(level=0.95)),
            Cost("C4", "Sales training", "capex", {("2025Q3", "2025Q4"): 60_000}, driver="adoption"),
            Cost("C5", "CRM administration (2 FTE)", "opex", {("2025Q3", "2030Q4"): 38_000}, range_=(0.9, 1.2)),
        ],
        benefits=[
            Benefit("B1", "Higher lead-to-order conversion (gross margin)", "cash-releasing", "Sales Director",
                    "Lead-to-order conversion rate", "%", 18.0, 21.0, 150_000.0, "2025Q4", 4, "monthly",
                    "CRM pipeline report", "Guided selling and lead scoring", "medium", d(2024, 9, 30),
                    kpi_rollup="mean", driver="adoption", distribution="pert", story=Story(level=1.25, outlook=1.2),
                    evidence=("measured", "CRM pipeline report")),
            Benefit("B2", "Legacy CRM licences retired", "cash-releasing", "Head of Sales Operations",
                    "Legacy CRM licence spend", "GBP per quarter", 55_000, 0, 1.0, "2025Q4", 1, "quarterly",
                    "Accounts payable ledger", "Legacy CRM switched off", "high", d(2024, 9, 30),
                    range_=(0.95, 1.0), story=Story(noise=0.0), evidence=("measured", "Accounts payable ledger")),
            Benefit("B3", "Sales admin time released", "non-cash-releasing", "Head of Sales Operations",
                    "Sales admin hours released per quarter", "hours", 0, 3_000, 38.0, "2025Q4", 3, "quarterly",
                    "Time-recording sample", "Automated quotes and activity capture", "medium", d(2024, 9, 30),
                    driver="adoption", story=Story(level=1.1), evidence=("estimated", "Time-recording sample")),
        ],
        comments={("2026Q1", "B1"): "Lead scoring model retrained; conversion above target in three regions"},
        exercises='value created: benefits above plan and a raised forecast',
        verdict='value created',
        decision='continue',
        seed=2,
    ))

    # 3. Cloud migration: on track.
    specs.append(Spec(
        _meta("CLOUD-2025", "Data-centre exit: migration to public cloud", sponsor="Chief Technology Officer",
              portfolio="Technology", strategic_objective=OBJ_LEAN, org_unit="Technology",
              case_type="Infrastructure", status="in delivery", approval_date=d(2024, 12, 10),
              first_period="2025Q1", horizon=28, go_live_period="2026Q1"),
        "On track: spend within 3% of plan, first hosting savings as planned after wave 1",
        costs=[
            Cost("C1", "Migration partner (3 waves)", "capex", {("2025Q1", "2026Q4"): 520_000}, driver="delivery",
                 distribution="pert", story=Story(level=1.02)),
            Cost("C2", "Internal cloud platform team", "capex", {("2025Q1", "2026Q4"): 210_000}, driver="delivery"),
            Cost("C3", "Cloud hosting and reserved instances", "opex",
                 {("2025Q3", "2025Q4"): 150_000, ("2026Q1", "2031Q4"): 330_000}, driver="volume", range_=(0.85, 1.3)),
            Cost("C4", "Dual running of data centre and cloud", "opex", {("2025Q3", "2026Q4"): 180_000}, driver="delivery",
                 story=Story(level=0.97)),
        ],
        benefits=[
            Benefit("B1", "Data-centre lease and power exited", "cash-releasing", "Head of Infrastructure",
                    "Data-centre lease, power and cooling spend", "GBP per quarter", 610_000, 0, 1.0, "2026Q1", 5,
                    "quarterly", "Facilities ledger", "Data centre exited after wave 3", "high", d(2024, 9, 30),
                    driver="delivery", range_=(0.85, 1.05), story=Story(level=1.0, noise=0.02),
                    evidence=("measured", "Facilities ledger")),
            Benefit("B2", "Hardware refresh avoided", "cost avoidance", "Head of Infrastructure",
                    "Server and storage refresh spend avoided", "GBP per quarter", 0, 260_000, 1.0, "2026Q2", 2,
                    "annually", "Capital plan", "Workloads moved before end of hardware support", "medium",
                    d(2024, 9, 30), story=Story(noise=0.0), evidence=("estimated", "Capital plan")),
            Benefit("B3", "Fewer infrastructure outages", "cost avoidance", "Head of Service Management",
                    "Unplanned outage hours per quarter", "hours", 40, 12, 9_000.0, "2026Q1", 6, "monthly",
                    "Service management tool", "Resilient cloud landing zone", "medium", d(2024, 10, 31),
                    driver="delivery", story=Story(level=1.02), evidence=("measured", "Service management tool")),
        ],
        exercises='on track in delivery: spend and first savings as planned; cost avoidance',
        verdict='on track',
        decision='continue',
        seed=3,
    ))

    # 4. Data platform: at risk, benefits behind, still positive NPV; measurement gap.
    specs.append(Spec(
        _meta("DATA-2025", "Enterprise data and analytics platform", sponsor="Chief Data Officer", portfolio="Commercial",
              strategic_objective=OBJ_REVENUE, org_unit="Marketing", case_type="IT: equipment/development",
              status="live", approval_date=d(2024, 10, 15), first_period="2025Q1", horizon=28,
              go_live_period="2025Q4"),
        "At risk: benefits ~85% of plan and forecast cut by 8% in the 2026Q3 return, costs +10%, NPV still positive; "
        "adoption KPI not measured since 2026Q2",
        costs=[
            Cost("C1", "Data platform subscription", "opex", {("2025Q1", "2031Q4"): 70_000}, driver="vendor",
                 range_=(0.95, 1.3), story=Story(level=1.1, noise=0.0)),
            Cost("C2", "Implementation partner", "capex", {("2025Q1", "2025Q4"): 300_000}, driver="delivery",
                 story=Story(level=1.12)),
            Cost("C3", "Data engineering team", "capex", {("2025Q1", "2026Q2"): 140_000}, driver="delivery",
                 story=Story(level=1.12)),
            Cost("C4", "Data quality remediation", "capex", {("2025Q3", "2026Q1"): 90_000}, driver="delivery",
                 story=Story(level=1.25)),
            Cost("C5", "Platform run and support", "opex", {("2025Q4", "2031Q4"): 45_000}),
        ],
        benefits=[
            Benefit("B1", "Cross-sell uplift from next-best-offer models", "cash-releasing", "Marketing Director",
                    "Cross-sell revenue per quarter (margin)", "GBP per quarter", 0, 420_000, 1.0, "2026Q1", 6,
                    "quarterly", "Campaign attribution report", "Next-best-offer models in the CRM", "low",
                    d(2024, 9, 30), driver="adoption", distribution="pert", range_=(0.4, 1.2),
                    story=Story(level=0.85, outlook=0.92, noise=0.08),
                    evidence=("estimated", "Campaign attribution model")),
            Benefit("B2", "Analyst time released from manual reporting", "non-cash-releasing", "Head of Analytics",
                    "Analyst hours released per quarter", "hours", 0, 4_000, 40.0, "2025Q4", 4, "quarterly",
                    "Time-recording sample", "Automated management reporting", "medium", d(2024, 9, 30),
                    driver="adoption", story=Story(level=0.85, outlook=0.92),
                    evidence=("owner's claim", "Head of Analytics")),
            Benefit("B3", "Self-service reporting adoption", "quantifiable non-financial", "Head of Analytics",
                    "Monthly active users of self-service reports", "users", 150, 900, None, "2025Q4", 6, "quarterly",
                    "Platform usage logs", "Self-service semantic layer", "medium", d(2024, 9, 30),
                    kpi_rollup="latest", story=Story(level=0.55, gap_from="2026Q2", noise=0.05)),
        ],
        comments={("2026Q1", "B1"): "Model uplift lower than pilot; only two of five product lines live",
                  ("2026Q3", "C4"): "Further customer-data remediation needed"},
        exercises='at risk with a positive NPV; a measurement gap (B3 not measured since 2026Q2); the 2026Q3 '
                  'actuals and the forecast cut come in a filled return (DATA-2025.returns/2026Q3.xlsx)',
        return_period="2026Q3",
        verdict='at risk',
        decision='recover',
        seed=4,
    ))

    # 5. RPA: live, mostly non-cash-releasing.
    specs.append(Spec(
        _meta("RPA-2025", "Robotic process automation in finance operations", sponsor="Chief Operating Officer",
              portfolio="Operations", strategic_objective=OBJ_LEAN, org_unit="Operations",
              case_type="Business change", status="live", approval_date=d(2025, 1, 28),
              first_period="2025Q2", horizon=16, go_live_period="2025Q4", discount_rate=0.10),
        "Live; 85% of the value is staff time released (non-cash-releasing), a small agency-staff saving is cash",
        costs=[
            Cost("C1", "RPA platform licences (10 bots)", "opex", {("2025Q2", "2029Q1"): 22_000}, driver="vendor",
                 range_=(0.95, 1.2), story=Story(noise=0.0)),
            Cost("C2", "Automation build (CoE partner)", "capex", {("2025Q2", "2025Q4"): 95_000}, driver="delivery",
                 story=Story(level=0.93)),
            Cost("C3", "Bot support and maintenance", "opex", {("2025Q4", "2029Q1"): 15_000}),
        ],
        benefits=[
            Benefit("B1", "Processing time released in finance operations", "non-cash-releasing",
                    "Head of Finance Operations", "Processing hours released per quarter", "hours", 0, 5_200, 32.0,
                    "2025Q4", 3, "monthly", "Bot run logs", "Ten automated processes in production", "high",
                    d(2025, 3, 31), driver="adoption", story=Story(level=1.02, kpi_factor=0.6),
                    evidence=("owner's claim", "Team leaders' weekly estimate")),
            Benefit("B2", "Agency staff no longer needed at quarter-end", "cash-releasing",
                    "Head of Finance Operations", "Agency staff spend", "GBP per quarter", 30_000, 0, 1.0, "2026Q1", 1,
                    "quarterly", "Purchase ledger", "Quarter-end bots", "high", d(2025, 3, 31),
                    range_=(0.8, 1.0), story=Story(level=0.9), evidence=("measured", "Purchase ledger")),
            Benefit("B3", "Invoice processing accuracy", "quantifiable non-financial", "Head of Finance Operations",
                    "First-time-right invoices", "%", 91.0, 98.5, None, "2025Q4", 4, "monthly", "Bot run logs",
                    "Validation rules in the bots", "medium", d(2025, 3, 31), kpi_rollup="mean",
                    story=Story(level=1.0, noise=0.002)),
        ],
        exercises='the economic and cash views diverge: 85% of the value is non-cash-releasing',
        verdict='on track',
        decision='continue',
        seed=5,
    ))

    # 6. Cyber-security: cost avoidance.
    specs.append(Spec(
        _meta("CYBER-2026", "Security operations and identity uplift", sponsor="Chief Information Security Officer",
              portfolio="Technology", strategic_objective=OBJ_SAFE, org_unit="Technology",
              case_type="IT: equipment/development", status="in delivery", approval_date=d(2025, 11, 18),
              first_period="2026Q1", horizon=24, go_live_period="2026Q3"),
        "In delivery; value is expected loss avoided (cost avoidance) plus faster detection, no cash saving",
        costs=[
            Cost("C1", "Managed detection and response service", "opex", {("2026Q2", "2031Q4"): 140_000},
                 driver="vendor", range_=(0.95, 1.25)),
            Cost("C2", "Identity and access management build", "capex", {("2026Q1", "2026Q4"): 410_000}, driver="delivery",
                 distribution="pert", range_=(0.9, 1.7), story=Story(level=1.08, outlook=1.15)),
            Cost("C3", "Privileged access management licences", "opex", {("2026Q2", "2031Q4"): 35_000}, driver="vendor"),
            Cost("C4", "Security awareness training", "opex", {("2026Q2", "2031Q4"): 12_000}),
        ],
        benefits=[
            Benefit("B1", "Expected breach losses avoided", "cost avoidance", "Chief Information Security Officer",
                    "Annualised loss expectancy from cyber incidents", "GBP per quarter", 780_000, 250_000, 1.0,
                    "2026Q4", 4, "half-yearly", "Cyber risk quantification (FAIR) model", "MDR service and IAM live",
                    "low", d(2025, 9, 30), driver="threat", range_=(0.3, 1.5)),
            Benefit("B2", "Faster detection of intrusions", "quantifiable non-financial", "Head of Security Operations",
                    "Mean time to detect", "hours", 72, 4, None, "2026Q3", 3, "monthly", "SIEM reports",
                    "24x7 managed detection and response", "high", d(2025, 9, 30), kpi_rollup="mean",
                    story=Story(level=0.9, noise=0.0)),
            Benefit("B3", "Cyber insurance premium reduction", "cash-releasing", "Group Insurance Manager",
                    "Cyber insurance premium", "GBP per quarter", 95_000, 70_000, 1.0, "2027Q1", 1, "annually",
                    "Insurance schedule", "Evidence of controls to the insurer", "medium", d(2025, 9, 30)),
        ],
        exercises='in delivery with no benefit due yet (nothing due to date); cost-avoidance value',
        verdict='on track',
        decision='continue',
        seed=6,
    ))

    # 7. Self-service portal: a dis-benefit (call-centre transition costs), double counting with the chatbot.
    specs.append(Spec(
        _meta("PORTAL-2025", "Customer self-service portal", sponsor="Customer Director", portfolio="Customer",
              strategic_objective=OBJ_DIGITAL, org_unit="Customer Service", case_type="IT: equipment/development",
              status="live", approval_date=d(2024, 12, 3), first_period="2025Q1", horizon=24,
              go_live_period="2025Q4"),
        "Live with a dis-benefit (call-centre dual running and retraining, entered negative, 30% above plan); "
        "claims the same call-volume KPI as CHATBOT-2025",
        costs=[
            Cost("C1", "Portal build (digital agency)", "capex", {("2025Q1", "2025Q4"): 240_000}, driver="delivery",
                 distribution="pert", story=Story(level=1.12)),
            Cost("C2", "Identity verification service", "opex", {("2025Q4", "2030Q4"): 18_000}, driver="volume"),
            Cost("C3", "Portal hosting and support", "opex", {("2025Q4", "2030Q4"): 30_000}),
            Cost("C4", "Content and UX team", "opex", {("2025Q4", "2030Q4"): 25_000}, driver="adoption"),
        ],
        benefits=[
            Benefit("B1", "Calls deflected to self-service", "cash-releasing", "Head of Contact Centre",
                    CALLS_KPI, "calls per quarter", 420_000, 330_000, 3.2, "2025Q4", 6, "monthly",
                    "Telephony platform statistics", "Self-service for address change, billing and payments", "medium",
                    d(2024, 9, 30), kpi_rollup="sum", org_unit="Customer Service", driver="adoption",
                    story=Story(level=0.9), evidence=("measured", "Telephony platform statistics")),
            Benefit("B2", "Paper statements and postage saved", "cash-releasing", "Head of Customer Operations",
                    "Printed statements per quarter", "statements", 600_000, 350_000, 0.55, "2026Q1", 4, "quarterly",
                    "Print supplier invoices", "Paperless switch in the portal", "high", d(2024, 9, 30),
                    story=Story(level=1.05), evidence=("measured", "Print supplier invoices")),
            Benefit("B3", "Customer satisfaction with servicing", "quantifiable non-financial", "Customer Director",
                    "Customer satisfaction (CSAT)", "score", 72, 80, None, "2025Q4", 6, "quarterly",
                    "Post-contact survey", "Portal journeys and proactive notifications", "medium", d(2024, 9, 30),
                    kpi_rollup="mean", story=Story(level=0.8, noise=0.0)),
            Benefit("D1", "Contact-centre transition costs (dual running, retraining)", "dis-benefit",
                    "Head of Contact Centre", "Extra contact-centre cost from the transition", "GBP per quarter", 0, 0,
                    1.0, "2025Q4", 1, "quarterly", "Contact-centre cost centre",
                    "Agents retrained; temporary dip in productivity during switchover", "medium", d(2024, 9, 30),
                    profile={"2025Q4": 90_000, "2026Q1": 110_000, "2026Q2": 70_000, "2026Q3": 30_000},
                    range_=(1.5, 0.8), story=Story(level=1.3, noise=0.05)),
        ],
        comments={("2026Q1", "D1"): "Retraining ran four weeks longer than planned",
                  ("2026Q3", "B1"): "Billing journey outage in August pushed customers back to phone"},
        exercises='a dis-benefit (entered negative) 30% above plan; the double-counted KPI with CHATBOT-2025 B1',
        verdict='at risk',
        decision='recover',
        seed=7,
    ))

    # 8. Regulatory change: mandatory, no cash benefit, Green Book at 3.5% real.
    specs.append(Spec(
        _meta("REG-2026", "Operational resilience regulation: impact tolerances and testing", sponsor="Chief Risk Officer",
              portfolio="Risk and compliance", strategic_objective=OBJ_SAFE, org_unit="Risk and Compliance",
              case_type="Regulatory/mandatory", status="approved", approval_date=d(2026, 6, 24),
              first_period="2026Q3", horizon=40, go_live_period="2027Q1", price_base="real", base_year=2026,
              discount_rate=0.035, discount_schedule="green book"),
        "Mandatory: no cash benefit, negative NPV by design (Green Book 3.5% real); first quarter of spend reported",
        costs=[
            Cost("C1", "Resilience mapping and testing tool", "opex", {("2026Q3", "2036Q2"): 28_000}, driver="vendor"),
            Cost("C2", "Delivery team (mapping, scenario testing)", "capex", {("2026Q3", "2027Q2"): 260_000},
                 driver="delivery", distribution="pert", story=Story(level=0.95)),
            Cost("C3", "Annual scenario testing and self-assessment", "opex", {("2027Q1", "2036Q2"): 40_000}),
        ],
        benefits=[
            Benefit("B1", "Important business services within impact tolerance", "quantifiable non-financial",
                    "Chief Risk Officer", "Important business services tested within tolerance", "%", 40, 100, None,
                    "2027Q1", 4, "annually", "Operational resilience self-assessment",
                    "Mapped services and scenario testing", "high", d(2026, 3, 31), kpi_rollup="mean"),
            Benefit("B2", "Expected regulatory penalties avoided", "cost avoidance", "Chief Risk Officer",
                    "Expected regulatory penalty exposure", "GBP per quarter", 60_000, 0, 1.0, "2027Q2", 2,
                    "annually", "Compliance risk register", "Self-assessment accepted by the regulator", "low",
                    d(2026, 3, 31), range_=(0.0, 2.0)),
        ],
        exercises='negative NPV by design (mandatory); Green Book declining schedule, real prices; approved with one quarter of spend',
        verdict='on track',
        decision='continue',
        note="regulatory/mandatory: it continues although what remains costs more than it returns",
        seed=8,
    ))

    # 9. AI chatbot: destroying value (baseline NPV > 0, actual + forecast NPV < 0); double counting.
    specs.append(Spec(
        _meta("CHATBOT-2025", "AI customer-service chatbot", sponsor="Customer Director", portfolio="Customer",
              strategic_objective=OBJ_DIGITAL, org_unit="Customer Service", case_type="IT: equipment/development",
              status="live", approval_date=d(2025, 2, 11), first_period="2025Q2", horizon=20,
              go_live_period="2025Q4", discount_rate=0.12),
        "Destroying value: containment a fifth of plan, forecast cut to 22%, costs +35%: expected NPV below zero "
        "(baseline NPV positive); claims the same call-volume KPI as PORTAL-2025",
        costs=[
            Cost("C1", "Conversational AI platform (usage-based)", "opex", {("2025Q3", "2030Q1"): 45_000},
                 driver="vendor", range_=(0.9, 1.8), story=Story(level=1.35, noise=0.06)),
            Cost("C2", "Bot design, integration and training data", "capex", {("2025Q2", "2025Q4"): 180_000},
                 driver="delivery", distribution="pert", range_=(0.9, 1.8), story=Story(level=1.4)),
            Cost("C3", "Conversation design and tuning team", "opex", {("2025Q4", "2030Q1"): 35_000},
                 story=Story(level=1.3)),
        ],
        benefits=[
            Benefit("B1", "Contacts contained by the chatbot", "cash-releasing", "Head of Contact Centre",
                    "Inbound Calls to the Contact Centre ", "calls per quarter", 420_000, 300_000, 3.2, "2025Q4", 3,
                    "monthly", "Telephony platform statistics", "Chatbot on web and app with hand-off to agents",
                    "low", d(2025, 1, 31), kpi_rollup="sum", org_unit="Customer Service", driver="adoption",
                    distribution="pert", range_=(0.3, 1.1), story=Story(level=0.2, outlook=0.22, noise=0.1),
                    evidence=("measured", "Telephony platform statistics")),
            Benefit("B2", "Agent time released by call summaries", "non-cash-releasing", "Head of Contact Centre",
                    "Agent after-call work hours saved per quarter", "hours", 0, 6_000, 24.0, "2025Q4", 3, "monthly",
                    "Workforce management system", "Generative call summaries", "low", d(2025, 1, 31),
                    driver="adoption", story=Story(level=0.3, outlook=0.35, kpi_factor=-0.25),
                    evidence=("owner's claim", "Contact-centre manager's estimate")),
        ],
        comments={("2026Q1", "B1"): "Customers abandon the bot for complex queries; hand-off rate 78%",
                  ("2026Q3", "B1"): "Vendor model change degraded intent recognition"},
        exercises='value destroyed: positive baseline NPV, negative expected NPV; the double-counted KPI with PORTAL-2025 B1',
        verdict='value destroyed',
        decision='re-plan',
        seed=9,
    ))

    # 10. Payments platform: formally re-baselined (RB1), original baseline kept.
    specs.append(Spec(
        _meta("PAY-2024", "Payments platform modernisation", sponsor="Chief Operating Officer", portfolio="Operations",
              strategic_objective=OBJ_DIGITAL, org_unit="Payments", case_type="IT: equipment/development",
              status="in delivery", approval_date=d(2024, 3, 19), first_period="2024Q2", horizon=32,
              go_live_period="2026Q1"),
        "Re-baselined (RB1, 2025-09-30: instant payments added, +20% cost, go-live three quarters later); "
        "on track against RB1, behind the original",
        costs=[
            Cost("C1", "Payments platform licences", "opex", {("2024Q2", "2032Q1"): 110_000}, driver="vendor",
                 range_=(0.95, 1.2)),
            Cost("C2", "System integrator", "capex", {("2024Q2", "2025Q4"): 650_000}, driver="delivery",
                 distribution="pert", range_=(0.9, 1.6)),
            Cost("C3", "Internal payments engineering", "capex", {("2024Q2", "2026Q1"): 280_000}, driver="delivery"),
            Cost("C4", "Scheme certification and testing", "capex", {("2025Q3", "2025Q4"): 150_000}),
            Cost("C5", "Platform run and support", "opex", {("2026Q1", "2032Q1"): 60_000}),
        ],
        benefits=[
            Benefit("B1", "Legacy payments hub decommissioned", "cash-releasing", "Head of Payments Operations",
                    "Legacy payments hub run cost", "GBP per quarter", 380_000, 0, 1.0, "2026Q2", 2, "quarterly",
                    "IT cost ledger", "Legacy hub switched off", "high", d(2024, 1, 31), driver="delivery"),
            Benefit("B2", "Fewer failed and repaired payments", "cost avoidance", "Head of Payments Operations",
                    "Payments needing manual repair per quarter", "payments", 48_000, 12_000, 6.5, "2026Q2", 4,
                    "monthly", "Payments exception queue", "Straight-through processing rules", "medium",
                    d(2024, 1, 31), driver="adoption"),
            Benefit("B3", "Instant payments fee income", "cash-releasing", "Head of Payments Product",
                    "Instant payment fee income per quarter", "GBP per quarter", 0, 150_000, 1.0, "2026Q3", 6,
                    "quarterly", "Fee income ledger", "Instant payments scheme membership", "low", d(2024, 1, 31),
                    driver="adoption", distribution="pert", range_=(0.3, 1.3)),
        ],
        rebaseline={"version": "RB1", "approved": d(2025, 9, 30),
                    "reason": "Scope change: instant payments added at the regulator's request; go-live moved "
                              "three quarters; approved by the investment committee",
                    "stories": {"C2": Story(level=1.25, delay=3), "C3": Story(level=1.2, delay=3),
                                "C4": Story(level=1.0, delay=3), "C5": Story(delay=3),
                                "B1": Story(delay=3), "B2": Story(delay=3), "B3": Story(level=2.5, delay=3)}},
        comments={("2025Q3", "C2"): "Re-baselined: see Baselines sheet, version RB1"},
        exercises='a re-baseline in force: RB1 approved 2025-09-30, before the review period, restates every line',
        verdict='on track',
        decision='continue',
        seed=10,
    ))

    # 11. HR and payroll SaaS: proposed, no actuals.
    specs.append(Spec(
        _meta("HR-2027", "HR and payroll SaaS", sponsor="Chief People Officer", portfolio="Corporate systems",
              strategic_objective=OBJ_LEAN, org_unit="People", case_type="IT: outsourcing", status="proposed",
              approval_date=None, first_period="2027Q1", horizon=28, go_live_period="2027Q4",
              price_base="real", base_year=2026, discount_rate=0.07, ob_capex=0.5, ob_duration=0.3),
        "Proposed for the 2026Q4 investment committee; no actuals; own optimism-bias settings",
        costs=[
            Cost("C1", "HR and payroll SaaS subscription", "opex", {("2027Q1", "2033Q4"): 85_000}, driver="vendor",
                 range_=(0.95, 1.2)),
            Cost("C2", "Implementation partner", "capex", {("2027Q1", "2027Q4"): 210_000}, driver="delivery",
                 distribution="pert", range_=(0.9, 1.7)),
            Cost("C3", "Payroll parallel runs and data migration", "capex", {("2027Q3", "2027Q4"): 90_000},
                 driver="delivery"),
        ],
        benefits=[
            Benefit("B1", "On-premise HR system and payroll bureau retired", "cash-releasing", "HR Operations Director",
                    "HR system and payroll bureau spend", "GBP per quarter", 190_000, 40_000, 1.0, "2028Q1", 2,
                    "quarterly", "Accounts payable ledger", "Payroll in-house on the SaaS", "high", d(2026, 6, 30),
                    driver="vendor"),
            Benefit("B2", "HR administration time released", "non-cash-releasing", "HR Operations Director",
                    "HR admin hours released per quarter", "hours", 0, 2_500, 30.0, "2028Q1", 4, "quarterly",
                    "Time-recording sample", "Manager and employee self-service", "medium", d(2026, 6, 30),
                    driver="adoption"),
        ],
        exercises='a proposed case: no actuals, no forecast (not started)',
        verdict='not started',
        decision='not started',
        seed=11,
    ))

    # 12. Collaboration suite: closed, actuals to the end of the horizon.
    specs.append(Spec(
        _meta("M365-2022", "Collaboration suite migration (email, files, telephony)", sponsor="Chief Technology Officer",
              portfolio="Technology", strategic_objective=OBJ_LEAN, org_unit="Technology",
              case_type="IT: outsourcing", status="closed", approval_date=d(2021, 11, 16), first_period="2022Q1",
              horizon=16, go_live_period="2022Q3", discount_rate=0.06),
        "Closed; actuals to the end (2025Q4): migration partner +4%, benefits as planned: on track; "
        "history for the reference class",
        costs=[
            Cost("C1", "Suite licences uplift", "opex", {("2022Q1", "2025Q4"): 62_000}, driver="vendor",
                 story=Story(level=1.05, noise=0.0)),
            Cost("C2", "Migration partner", "capex", {("2022Q1", "2022Q3"): 160_000}, driver="delivery",
                 story=Story(level=1.04)),
            Cost("C3", "Adoption and training", "capex", {("2022Q2", "2022Q4"): 45_000}, driver="adoption"),
        ],
        benefits=[
            Benefit("B1", "Legacy email, file servers and PBX retired", "cash-releasing", "Head of Infrastructure",
                    "Legacy collaboration run cost", "GBP per quarter", 150_000, 0, 1.0, "2022Q4", 2, "quarterly",
                    "IT cost ledger", "Legacy platforms decommissioned", "high", d(2021, 9, 30),
                    story=Story(level=0.99, noise=0.02)),
            Benefit("B2", "Travel avoided through online meetings", "cash-releasing", "Chief Financial Officer",
                    "Internal travel spend", "GBP per quarter", 210_000, 150_000, 1.0, "2022Q3", 2, "quarterly",
                    "Expenses system", "Online meetings and telephony", "medium", d(2021, 9, 30),
                    story=Story(level=1.0, noise=0.05)),
        ],
        exercises='a closed case: actuals to the end of the horizon (2025Q4), nothing remaining',
        verdict='on track',
        decision='closed',
        seed=12,
    ))

    # 13. Device fleet: a yearly case. Reviewed as of 2026Q3 it covers 2025, its last completed year;
    # the 2026 return is not due before the year ends, so none is filed. No noise: round figures.
    exact = Story(noise=0.0)
    specs.append(Spec(
        _meta("DEVICE-2024", "End-user devices as a service (laptop fleet refresh)", sponsor="Chief Technology Officer",
              portfolio="Technology", strategic_objective=OBJ_LEAN, org_unit="Workplace Technology",
              case_type="IT: outsourcing", status="live", approval_date=d(2023, 10, 17), first_period="2024",
              period_length="year", horizon=6, go_live_period="2025"),
        "Yearly periods; actuals for 2024 and 2025, the 2026 return not due yet: deployment +10%, device savings "
        "90% of plan in the first year",
        costs=[
            Cost("C1", "Device-as-a-service subscription", "opex", {("2024", "2029"): 800_000}, driver="vendor",
                 range_=(0.95, 1.2), story=exact),
            Cost("C2", "Deployment, imaging and data transfer", "capex", {("2024", "2024"): 450_000,
                 ("2025", "2025"): 250_000}, driver="delivery", story=Story(level=1.1, noise=0.0)),
            Cost("C3", "Secure disposal of legacy devices", "capex", {("2025", "2025"): 60_000}, story=exact),
        ],
        benefits=[
            Benefit("B1", "Device purchases and break-fix maintenance avoided", "cash-releasing",
                    "Head of Workplace Technology", "Device purchase and maintenance spend", "GBP per year",
                    1_600_000, 200_000, 1.0, "2025", 2, "annually", "IT cost ledger",
                    "Every device on the as-a-service contract", "high", d(2023, 9, 30), driver="vendor",
                    range_=(0.8, 1.05), story=Story(level=0.9, outlook=1.0, noise=0.0)),
            Benefit("B2", "Service-desk time released from device faults", "non-cash-releasing", "Head of IT Service Desk",
                    "Service-desk hours on device faults per year", "hours", 14_000, 6_000, 35.0, "2025", 2,
                    "annually", "Service management tool", "Vendor break-fix and self-service reset", "medium",
                    d(2023, 9, 30), driver="adoption", story=exact),
        ],
        comments={("2025", "B1"): "Two business units joined the contract in the second half of 2025"},
        exercises="a yearly case: the 2026Q3 review covers 2025 (its last completed year); no 2026 actual is "
                  "filed and none is expected before the year ends",
        verdict="on track",
        decision='continue',
        seed=13,
    ))

    # 14. Loyalty app: cancelled after the pilot; actuals to the cancellation, nothing expected after it.
    stopped = Story(level=0.0, outlook=0.0, noise=0.0)
    specs.append(Spec(
        _meta("LOYALTY-2025", "Customer loyalty app", sponsor="Chief Marketing Officer", portfolio="Commercial",
              strategic_objective=OBJ_REVENUE, org_unit="Marketing", case_type="IT: equipment/development",
              status="cancelled", approval_date=d(2024, 11, 26), first_period="2025Q1", horizon=20,
              go_live_period="2026Q2", discount_rate=0.10),
        "Cancelled in 2026Q3 after the pilot missed its adoption gate: build +30%, no benefit realised; every "
        "line forecast at zero after the cancellation",
        costs=[
            Cost("C1", "App build (digital agency)", "capex", {("2025Q1", "2026Q2"): 180_000}, driver="delivery",
                 distribution="pert", range_=(0.9, 1.6), story=Story(level=1.3, delay=1, outlook=0.0)),
            Cost("C2", "Loyalty platform licence", "opex", {("2025Q3", "2029Q4"): 40_000}, driver="vendor",
                 range_=(0.95, 1.2), story=Story(level=1.0, outlook=0.0, noise=0.0)),
        ],
        benefits=[
            Benefit("B1", "Repeat purchases by loyalty members (margin)", "cash-releasing", "Head of CRM Marketing",
                    "Repeat-purchase margin from app members per quarter", "GBP per quarter", 0, 300_000, 1.0,
                    "2026Q3", 4, "quarterly", "Campaign attribution report", "Loyalty app in the stores",
                    "low", d(2024, 9, 30), driver="adoption", distribution="pert", range_=(0.3, 1.2),
                    story=stopped),
            Benefit("B2", "Direct mail replaced by app offers", "cash-releasing", "Head of CRM Marketing",
                    "Direct-mail spend per quarter", "GBP per quarter", 60_000, 20_000, 1.0, "2026Q3", 2,
                    "quarterly", "Marketing cost centre", "Offers pushed in the app", "medium", d(2024, 9, 30),
                    story=stopped),
        ],
        comments={("2026Q2", "C1"): "Pilot in 12 stores: 4% of customers enrolled against a 15% gate",
                  ("2026Q3", "C1"): "Cancelled by the investment committee on 15 July 2026; agency contract "
                                    "terminated, no further spend",
                  ("2026Q3", "B1"): "App withdrawn from the stores; nothing to measure"},
        exercises="a cancelled case: actuals to the cancellation (2026Q3), a zero forecast for every line after it; "
                  "must never be told to continue",
        verdict="value destroyed",
        decision="closed",
        seed=14,
    ))

    # 15. Warehouse management: benefits fall due once a year (peak season in Q4, stock count in Q1),
    # so the review quarter 2026Q3 has only a dis-benefit due (the second site's cutover).
    specs.append(Spec(
        _meta("WMS-2025", "Warehouse management system (two distribution centres)", sponsor="Supply Chain Director",
              portfolio="Operations", strategic_objective=OBJ_LEAN, org_unit="Logistics",
              case_type="IT: equipment/development", status="live", approval_date=d(2025, 3, 11),
              first_period="2025Q2", horizon=20, go_live_period="2025Q4", discount_rate=0.09),
        "Live at both sites; benefits due once a year (Q4 peak, Q1 stock count), so 2026Q3 has only the second "
        "site's cutover dip due (dis-benefit 20% above plan); the anchor client leaves: what remains costs more "
        "than it returns",
        costs=[
            Cost("C1", "WMS subscription", "opex", {("2025Q2", "2030Q1"): 55_000}, driver="vendor",
                 range_=(0.95, 1.2), story=Story(noise=0.0)),
            Cost("C2", "Implementation partner (two sites)", "capex", {("2025Q2", "2026Q3"): 120_000},
                 driver="delivery", distribution="pert"),
            Cost("C3", "WMS support", "opex", {("2025Q4", "2030Q1"): 15_000}),
        ],
        benefits=[
            Benefit("B1", "Peak-season agency labour avoided", "cash-releasing", "Head of Warehouse Operations",
                    "Peak-season agency hours", "hours", 30_000, 12_000, 30.0, "2025Q4", 1, "annually",
                    "Agency invoices", "Directed picking and slotting at both sites", "medium", d(2025, 3, 31),
                    kpi_rollup="sum", driver="volume",
                    profile={"2025Q4": 9_000, "2026Q4": 18_000, "2027Q4": 18_000, "2028Q4": 18_000,
                             "2029Q4": 18_000}, story=Story(outlook=0.2)),
            Benefit("B2", "Stock written off at the year-end count reduced", "cash-releasing", "Head of Inventory",
                    "Stock written off at the year-end count", "GBP", 400_000, 250_000, 1.0, "2026Q1", 1,
                    "annually", "Stock-count reconciliation", "Perpetual inventory with cycle counts", "medium",
                    d(2025, 3, 31),
                    profile={"2026Q1": 150_000, "2027Q1": 150_000, "2028Q1": 150_000, "2029Q1": 150_000,
                             "2030Q1": 150_000}, story=Story(level=1.1, outlook=0.5)),
            Benefit("D1", "Picking productivity dip at the second site's cutover", "dis-benefit",
                    "Head of Warehouse Operations", "Extra picking labour cost from the cutover", "GBP per quarter",
                    0, 0, 1.0, "2026Q3", 1, "quarterly", "Site labour cost centre",
                    "Pickers retrained; slower picking for six weeks after cutover", "medium", d(2025, 3, 31),
                    profile={"2026Q3": 85_000}, range_=(1.5, 0.8), story=Story(level=1.2)),
        ],
        comments={("2026Q3", "D1"): "Second site live on 3 August; picking rate back to plan by mid-September",
                  ("2026Q4", "B1"): "The anchor client (70% of peak volume) leaves in October: a fifth of the "
                                    "peak saving remains",
                  ("2027Q1", "B2"): "Range halved with the anchor client's exit: half the write-off saving"},
        exercises="a review quarter with only a dis-benefit due: 2026Q3 shows nothing due for benefits and the "
                  "dis-benefit on its own line (benefits gross of dis-benefits); stop: forward NPV below zero",
        verdict="value destroyed",
        decision="stop",
        seed=15,
    ))

    # 16. Field service: slipped two quarters; the re-baseline (RB1) was approved on 2026-10-20, after the
    # 2026Q3 review period, so a 2026Q3 review judges it against the original baseline and a 2026Q4 review
    # against RB1. RB1 restates every line; the owner's forecast already follows it.
    specs.append(Spec(
        _meta("FIELD-2025", "Field-service scheduling and mobile workforce", sponsor="Chief Operating Officer",
              portfolio="Operations", strategic_objective=OBJ_LEAN, org_unit="Field Operations",
              case_type="IT: equipment/development", status="in delivery", approval_date=d(2024, 12, 17),
              first_period="2025Q1", horizon=24, go_live_period="2026Q2"),
        "Slipped two quarters (go-live 2026Q2 → 2026Q4), integration +30%; re-baselined by RB1 on 2026-10-20, "
        "after the 2026Q3 review period; on track against RB1, behind the original",
        costs=[
            Cost("C1", "Scheduling and mobile SaaS", "opex", {("2025Q1", "2030Q4"): 50_000}, driver="vendor",
                 range_=(0.95, 1.2), story=Story(noise=0.0)),
            Cost("C2", "Integration partner", "capex", {("2025Q1", "2026Q2"): 200_000}, driver="delivery",
                 distribution="pert", range_=(0.9, 1.6)),
            Cost("C3", "Rugged devices for engineers", "capex", {("2026Q1", "2026Q2"): 150_000}, driver="delivery"),
            Cost("C4", "Mobile support and device management", "opex", {("2026Q2", "2030Q4"): 20_000}),
        ],
        benefits=[
            Benefit("B1", "Engineer overtime and subcontractor spend avoided", "cash-releasing",
                    "Head of Field Operations", "Field overtime and subcontractor spend", "GBP per quarter",
                    500_000, 320_000, 1.0, "2026Q3", 4, "quarterly", "Field cost centre",
                    "Optimised schedules and same-day re-planning", "medium", d(2024, 10, 31), driver="adoption",
                    distribution="pert", range_=(0.5, 1.1)),
            Benefit("B2", "Repeat visits avoided (first-time fix)", "cost avoidance", "Head of Field Operations",
                    "Repeat visits per quarter", "visits", 9_000, 6_000, 85.0, "2026Q3", 4, "monthly",
                    "Job management system", "Parts and job history on the engineer's device", "medium",
                    d(2024, 10, 31), driver="adoption"),
        ],
        rebaseline={"version": "RB1", "approved": d(2026, 10, 20),
                    "reason": "Go-live moved two quarters after the scheduling-engine integration failed acceptance; "
                              "integration +30%; approved by the investment committee",
                    "stories": {"C1": Story(), "C2": Story(level=1.3, delay=2), "C3": Story(delay=2),
                                "C4": Story(delay=2), "B1": Story(delay=2), "B2": Story(delay=2)}},
        comments={("2026Q3", "C2"): "Integration failed acceptance in July; re-baseline RB1 goes to the October "
                                    "investment committee"},
        forecast_all=True,
        exercises="a re-baseline approved after the review period (2026-10-20): as of 2026Q3 the original "
                  "baseline is in force, as of 2026Q4 RB1",
        verdict="at risk",
        note="against the original baseline, in force until RB1's approval; as of 2026Q4, against RB1: "
                     "on track",
        decision="recover",
        seed=16,
    ))
    return specs


# --- benefits dependency networks (the Benefit map sheet; vmo_lib.intake.benefit_map) ---------------
def _node(node_id: str, kind: str, name: str | None, owner: str | None, feeds: str = "", planned: str | None = None,
          forecast: str | None = None, actual: str | None = None) -> dict[str, Any]:
    return {"node_id": node_id, "kind": kind, "name": name, "owner": owner, "feeds": feeds,
            "planned_delivery": planned, "forecast_delivery": forecast, "actual_delivery": actual}


def benefit_maps() -> dict[str, list[dict[str, Any]]]:
    """Case id → the rows of its Benefit map. A map changes no figure of a review (the tests compare them);
    cases not listed are "not mapped".

    FIELD-2025: the scheduling-engine integration (E1), planned for 2026-06-30, failed acceptance and is
    forecast for 2026-12-15: a late enabler putting both benefits at risk. CRM-2025: every enabler delivered
    on time; B3 (sales admin time) has no enabler: an orphan benefit; the mobile app (E2) leads to no benefit.
    CLOUD-2025: on track, waves delivered on their dates, wave 3 due in 2026Q4.
    """
    n = _node
    return {
        "CRM-2025": [
            n("C2", "enabler", "CRM configured and live", "CRM Programme Manager", "BC1, BC2",
              planned="2025-09-30", actual="2025-09-26"),
            n("C4", "enabler", "Sales teams trained", "Head of Sales Enablement", "BC1",
              planned="2025-12-31", actual="2025-12-12"),
            n("E2", "enabler", "Mobile CRM app for field sales", "CRM Programme Manager", "",
              planned="2026-12-31"),
            n("BC1", "business change", "Guided selling and lead scoring in daily use", "Sales Director", "B1"),
            n("BC2", "business change", "Legacy CRM switched off", "Head of Sales Operations", "B2"),
            n("B1", "benefit", None, None, "IO1"),
            n("B2", "benefit", None, None, "IO2"),
            n("B3", "benefit", None, None, "IO2"),
            n("IO1", "investment objective", "Win more of the pipeline", "Sales Director", "SO1"),
            n("IO2", "investment objective", "Lower the cost of sale", "Chief Commercial Officer", "SO2"),
            n("SO1", "strategic objective", OBJ_REVENUE, "Chief Executive"),
            n("SO2", "strategic objective", OBJ_LEAN, "Chief Operating Officer"),
        ],
        "FIELD-2025": [
            n("E1", "enabler", "Scheduling engine integrated and accepted", "Field Systems Lead", "BC1, BC2",
              planned="2026-06-30", forecast="2026-12-15"),
            n("C3", "enabler", "Rugged devices issued to engineers", "Field Systems Lead", "BC2",
              planned="2026-06-30", actual="2026-06-19"),
            n("BC1", "business change", "Same-day dynamic scheduling of engineers", "Head of Field Operations", "B1"),
            n("BC2", "business change", "Job history and parts on the engineer's device", "Head of Field Operations",
              "B2"),
            n("B1", "benefit", None, None, "IO1"),
            n("B2", "benefit", None, None, "IO1, IO2"),
            n("IO1", "investment objective", "Cut the cost of field service", "Chief Operating Officer", "SO1"),
            n("IO2", "investment objective", "Fix faults at the first visit", "Head of Field Operations", "SO2"),
            n("SO1", "strategic objective", OBJ_LEAN, "Chief Operating Officer"),
            n("SO2", "strategic objective", OBJ_DIGITAL, "Chief Customer Officer"),
        ],
        "CLOUD-2025": [
            n("E1", "enabler", "Cloud landing zone built", "Head of Cloud Platform", "BC1, BC2",
              planned="2025-09-30", actual="2025-09-12"),
            n("E2", "enabler", "Migration waves 1 and 2 complete", "Migration Lead", "BC1",
              planned="2026-03-31", actual="2026-03-27"),
            n("E3", "enabler", "Migration wave 3 complete", "Migration Lead", "BC1", planned="2026-12-18"),
            n("BC1", "business change", "Workloads run in the cloud, data centre exited", "Head of Infrastructure",
              "B1, B2"),
            n("BC2", "business change", "Resilient, automated operations", "Head of Service Management", "B3"),
            n("B1", "benefit", None, None, "IO1"),
            n("B2", "benefit", None, None, "IO1"),
            n("B3", "benefit", None, None, "IO2"),
            n("IO1", "investment objective", "Lower infrastructure cost", "Chief Technology Officer", "SO1"),
            n("IO2", "investment objective", "Fewer outages", "Head of Service Management", "SO1"),
            n("SO1", "strategic objective", OBJ_LEAN, "Chief Operating Officer"),
        ],
    }


def _with_map(case: BusinessCase) -> BusinessCase:
    from vmo_lib.intake.benefit_map import map_frame

    rows = benefit_maps().get(case.case_id)
    case.benefit_map = map_frame(rows) if rows else None
    case.options = sample_options(case)
    return case


def _quarters(meta: dict[str, Any], span: tuple[str, str], amount: float) -> list[float | None]:
    """Amounts per period of the case: ``amount`` in every period of ``span`` (inclusive), blank elsewhere."""
    lo, hi = _t(meta, span[0]), _t(meta, span[1])
    return [amount if lo <= t <= hi else None for t in range(meta["horizon"])]


def sample_options(case: BusinessCase) -> dict[str, BusinessCase]:
    """The other options of the economic case (Costs/Benefits column *Option*), for ERP-2024 only.

    Stated as each option's own whole-life flows beside the preferred option (the case as approved):
    business as usual keeps the legacy ERP past its vendor's end of support (extended-support premium
    and a forced platform upgrade, none of it claimed elsewhere as a benefit); do minimum upgrades the
    legacy ERP in place and buys a reconciliation bolt-on that releases some finance time.
    """
    if case.case_id != "ERP-2024":
        return {}
    meta = case.meta
    erp_b2 = case.lines.set_index("line_id").loc["B2"]
    profile = {k: erp_b2[k] for k in ("owner", "kpi", "unit", "baseline_value", "baseline_date", "frequency",
                                      "data_source", "confidence", "value_per_unit", "kpi_basis")}
    bau = make_case(meta, costs=[
        {"line_id": "BAU1", "name": "Legacy ERP extended-support premium", "category": "opex",
         "amounts": _quarters(meta, ("2026Q1", "2033Q4"), 150_000)},
        {"line_id": "BAU2", "name": "Forced legacy platform upgrade (end of vendor support)", "category": "capex",
         "amounts": _quarters(meta, ("2025Q3", "2026Q2"), 450_000)},
    ])
    do_min = make_case(meta, costs=[
        {"line_id": "DM1", "name": "Upgrade the legacy ERP in place", "category": "capex",
         "amounts": _quarters(meta, ("2024Q3", "2025Q4"), 400_000)},
        {"line_id": "DM2", "name": "Legacy ERP support after upgrade", "category": "opex",
         "amounts": _quarters(meta, ("2026Q1", "2033Q4"), 60_000)},
        {"line_id": "DM3", "name": "Reconciliation bolt-on licence", "category": "opex",
         "amounts": _quarters(meta, ("2025Q3", "2033Q4"), 25_000)},
    ], benefits=[
        {"line_id": "DMB1", "name": "Finance staff time released (bolt-on)", "benefit_type": "non-cash-releasing",
         **profile, "target_value": 3_000, "target_date": dt.date(2026, 6, 30),
         "enabler": "Reconciliation bolt-on", "amounts": _quarters(meta, ("2025Q4", "2033Q4"), 126_000)},
    ])
    return {"bau": bau, "do minimum": do_min}


# --- writing ------------------------------------------------------------------------------------
def build_portfolio() -> list[tuple[Spec, BusinessCase]]:
    """Every sample case, built in memory (no files)."""
    return [(s, _with_map(build_case(s))) for s in sample_specs()]


def _money_text(x: float) -> str:
    sign = "−" if x < 0 else ""
    x = abs(x)
    return sign + (f"£{x / 1e6:,.2f}m" if x >= 1e6 else f"£{x / 1e3:,.0f}k")


def _blank_zeros(amounts: np.ndarray) -> list[float | None]:
    """Period amounts for a wide sheet: a period with no flow stays blank rather than 0."""
    return [None if a == 0 else float(a) for a in amounts]


def readme_text(built: Sequence[tuple[Spec, BusinessCase]]) -> str:
    from vmo_lib.analysis.appraisal import npv_of

    rows, checks = [], []
    for spec, case in built:
        m = case.meta
        cost = case.matrix("baseline", "cost").to_numpy().sum()
        rows.append(f"| {case.case_id} | {case.title} | {m['status']} | {m['period_length']} | "
                    f"{m['strategic_objective']} | {m['org_unit']} | {_money_text(cost)} | "
                    f"{_money_text(npv_of(case, 'baseline'))} | {spec.story} |")
        checks.append(f"| {case.case_id} | {spec.exercises} | {spec.verdict} | {spec.decision} | {spec.note} |")
    n = len(built)
    words = {12: "Twelve", 13: "Thirteen", 14: "Fourteen", 15: "Fifteen", 16: "Sixteen"}
    return "\n".join([
        "# Sample portfolio",
        "",
        f"{words.get(n, str(n))} IT business cases as a Value Management Office would hold them, reviewed "
        "**as of 2026Q3**.",
        "Generated by `scripts/make_sample_portfolio.py` (deterministic: fixed seed, no dates from the clock);",
        "do not edit the workbooks by hand: change the script and run `make sample`.",
        "",
        "Conventions: GBP; quarterly periods except DEVICE-2024 (yearly). A case past approval carries actuals",
        "from its first period up to the period the 2026Q3 review covers: the quarter 2026Q3, or for the",
        "yearly case its last completed year, 2025 (its 2026 return is not due before the year ends, so none is",
        "filed); the closed case carries them to the end of its horizon. Actuals come with measured KPI values",
        "and a few comments. A Forecast row exists only where the owner changed the estimate (FIELD-2025: for",
        "every line; DATA-2025: in its filled 2026Q3 return, see below), otherwise the baseline stands for the",
        "rest of the horizon; the cancelled case forecasts",
        "zero for every line after its cancellation. The Case sheet keeps the *approved* go-live period; slips",
        "show in the actuals. Money per period = KPI improvement × value per unit (a dis-benefit's is",
        "negative); a quantifiable non-financial benefit has a KPI but no money. Every monetised benefit other",
        "than a dis-benefit states KPI basis `change` and its value per unit, so each quarter's claim is",
        "reconciled with KPI movement × value per unit; the KPIs back the money except where a story says",
        "otherwise (RPA-2025 B1, CHATBOT-2025 B2). Costs are never negative.",
        "Baseline NPV below is the economic view (all monetised benefits) from",
        "`vmo_lib.analysis.appraisal.npv_of`.",
        "",
        "| case | what it is | status | periods | strategic objective | org unit | baseline cost | baseline NPV | "
        "the story it tells |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "## What each case exercises",
        "",
        "Verdict (against the baseline in force) and decision are those of",
        "`vmo status data/sample/<case>.xlsx --as-of 2026Q3` under the code of this commit; together the cases",
        "reach every verdict and every decision, and tests/test_sample_portfolio.py checks each one.",
        "",
        "| case | what it exercises | verdict as of 2026Q3 | decision as of 2026Q3 | note |",
        "|---|---|---|---|---|",
        *checks,
        "",
        "Deliberate features for the analyses that use this portfolio:",
        f"- **Double counting**: PORTAL-2025 B1 and CHATBOT-2025 B1 both claim the KPI \"{CALLS_KPI}\" for",
        "  Customer Service from 2025Q4 (spelled with different capitals and a trailing space in CHATBOT-2025).",
        "- **Dis-benefits** entered negative: PORTAL-2025 D1 (contact-centre transition costs) and WMS-2025 D1",
        "  (picking dip at the second site's cutover, the only line due in WMS-2025's 2026Q3).",
        "- **Every benefit type and every status** (proposed, approved, in delivery, live, closed, cancelled);",
        "  four strategic objectives; every verdict and every decision.",
        "- **Re-baselines**, each restating every monetised line, the original baseline kept: PAY-2024 RB1",
        "  (approved 2025-09-30, in force for a 2026Q3 review) and FIELD-2025 RB1 (approved 2026-10-20, after",
        "  the 2026Q3 review period: in force from a 2026Q4 review).",
        "- **Measurement gap** (a warning, not an error): DATA-2025 B3 has no actual since 2026Q2.",
        "- **Benefit maps** (benefits dependency networks, `vmo map`) on CRM-2025, FIELD-2025 and CLOUD-2025; the",
        "  others are not mapped. FIELD-2025 E1 (scheduling engine, planned 2026-06-30, forecast 2026-12-15) is a",
        "  late enabler putting B1 and B2 at risk; CRM-2025 B3 is an orphan benefit (no enabler) and its E2 (mobile",
        "  app) leads to no benefit; CLOUD-2025's enablers are on time.",
        "- **Evidence** (issue 13; the case packs' Evidence block, `vmo status --json` keys `kpi_reconciliation`,",
        "  `evidenced_pct`, `forecast_warning`):",
        "  - *a claim its KPI does not support*: RPA-2025 B1 (processing hours released) claims ~102% of plan on",
        "    the team leaders' weekly estimate (owner's claim) while the bot run logs record 60% of the hours the",
        "    money implies: claimed ÷ KPI-implied = 1/0.6 ≈ 1.67, flagged (tolerance 10%);",
        "  - *a KPI moving the wrong way*: CHATBOT-2025 B2 (agent time released by call summaries) still claims",
        "    30% of plan while after-call work hours rose above the baseline (agents correct the summaries):",
        "    red whatever the money says, graded unevidenced;",
        "  - *a late enabler putting two benefits at risk*: FIELD-2025 E1 (above), B1 and B2;",
        "  - *an orphan benefit*: CRM-2025 B3 (above);",
        "  - *an unevidenced forecast carrying the outlook*: FIELD-2025 (not live, both KPIs at baseline, no",
        "    go-live recorded): all of its future benefit value is unevidenced, the expected NPV without it is",
        "    negative and the decision reason says the outlook rests mainly on unevidenced forecasts (PAY-2024,",
        "    in delivery with nothing realised yet, gets the same warning);",
        "  - *a return with a revised forecast*: DATA-2025's 2026Q3 actuals (with their evidence) and the",
        "    owner's forecast cut (B1 and B2 to 92% of plan for the rest of the horizon) are filed in",
        "    `DATA-2025.returns/2026Q3.xlsx`, the form `vmo actuals-form` writes, filled in; the workbook holds",
        "    the actuals to 2026Q2 and no Forecast rows, and the review merges the return on load (a review",
        "    before 2026Q3 leaves it out, so the cut shows from 2026Q3);",
        "  - *evidence status and source* on the benefit actuals of CRM-2025, CLOUD-2025, DATA-2025, RPA-2025,",
        "    PORTAL-2025 and CHATBOT-2025 (measured, estimated, owner's claim); the other cases leave it blank",
        "    (not stated), so their realised value counts as not evidenced.",
        "- **Yearly periods**: DEVICE-2024 (2024–2029); as of 2026Q3 it is reviewed for 2025, as of 2026Q4",
        "  for 2026 (its 2026 actual then missing).",
        "- **Green Book**: REG-2026 uses the declining schedule at 3.5% real; HR-2027 is real at 7%;",
        "  the others are nominal at 6–12%.",
        "- **Risk inputs**: three-point estimates (low/likely/high whole-life totals, likely = sum of the",
        "  periods) on every monetised line, PERT on some, shared drivers (vendor, delivery, adoption, volume, threat).",
        "",
    ])


def split_return(case: BusinessCase, period: str) -> tuple[BusinessCase, BusinessCase]:
    """(what the workbook holds, the full case): the workbook keeps the actuals before ``period`` and no
    Forecast rows; the actuals of ``period`` and the forecast come in the filled return."""
    t = case.t_of(period)
    f = case.flows
    moved = ((f["scenario"] == "actual") & (f["t"] == t)) | (f["scenario"] == "forecast")
    return case.with_flows(f[~moved]), case


def write_filled_return(workbook_case: BusinessCase, full: BusinessCase, period: str, path: Path) -> Path:
    """The return of ``period`` as its owners would file it: the form :func:`write_actuals_form` writes for
    the workbook's case, with the period's actuals (amount, KPI, comment, evidence) and, on its Forecast
    sheet, the owner's revised forecast (every forecast of the full case) typed in the yellow cells."""
    from openpyxl import load_workbook

    from vmo_lib.intake.returns import (
        FORECAST_COLUMNS,
        FORECAST_SHEET,
        FORM_SHEET,
        HEADER_ROW,
        RETURN_COLUMNS,
        write_actuals_form,
    )
    from vmo_lib.intake.template import save_workbook

    _COL = {k: i + 1 for i, k in enumerate(RETURN_COLUMNS)}  # the form's columns, in their documented order
    _FCOL = {k: i + 1 for i, k in enumerate(FORECAST_COLUMNS)}

    write_actuals_form(workbook_case, period, path)
    f = full.flows
    t = full.t_of(period)
    act = {r.line_id: r for r in f[(f["scenario"] == "actual") & (f["t"] == t)].itertuples(index=False)}
    fc = {(r.line_id, r.period): r for r in f[f["scenario"] == "forecast"].itertuples(index=False)}
    wb = load_workbook(path)
    ws = wb[FORM_SHEET]
    filled = set()
    for row in range(HEADER_ROW + 1, ws.max_row + 1):
        r = act.get(ws.cell(row, _COL["line_id"]).value)
        if r is None:
            continue
        for key in ("amount", "kpi_value", "comment", "evidence", "evidence_source"):
            v = getattr(r, key)
            if v is not None and not (isinstance(v, float) and np.isnan(v)):
                ws.cell(row, _COL[key]).value = float(v) if key in ("amount", "kpi_value") else str(v)
        filled.add(r.line_id)
    missing = set(act) - filled
    if missing:
        raise RuntimeError(f"{full.case_id} {period}: actuals of {sorted(missing)} have no row in the return")
    ws = wb[FORECAST_SHEET]
    typed = set()
    for row in range(HEADER_ROW + 1, ws.max_row + 1):
        key = (ws.cell(row, _FCOL["line_id"]).value, ws.cell(row, _FCOL["period"]).value)
        r = fc.get(key)
        if r is None:
            continue
        ws.cell(row, _FCOL["revised"]).value = float(r.amount)
        if r.comment is not None and not (isinstance(r.comment, float) and np.isnan(r.comment)):
            ws.cell(row, _FCOL["comment"]).value = str(r.comment)
        typed.add(key)
    if set(fc) - typed:
        raise RuntimeError(f"{full.case_id}: forecasts {sorted(set(fc) - typed)[:3]} have no row in the return")
    return save_workbook(wb, path)


def write_sample_portfolio(out_dir: str | Path = OUT_DIR) -> list[Path]:
    """Write every sample workbook, its filled returns and the README into ``out_dir``; returns the
    workbook paths (the returns sit beside them in ``<case>.returns/``)."""
    import shutil

    from vmo_lib.intake.template import write_case_workbook

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    built = build_portfolio()
    paths = []
    for spec, case in built:
        book = out / f"{case.case_id}.xlsx"
        folder = out / f"{case.case_id}.returns"
        if folder.exists():
            shutil.rmtree(folder)
        if spec.return_period is None:
            paths.append(write_case_workbook(case, book))
            continue
        held, full = split_return(case, spec.return_period)
        paths.append(write_case_workbook(held, book))
        folder.mkdir()
        write_filled_return(held, full, spec.return_period, folder / f"{spec.return_period}.xlsx")
    readme = out / "README.md"
    tmp = readme.with_name(".README.md.tmp")
    tmp.write_text(readme_text(built), encoding="utf-8")
    tmp.replace(readme)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out = Path(argv[0]) if argv else OUT_DIR
    for p in write_sample_portfolio(out):
        print(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
