"""The in-memory model: :class:`BusinessCase` and :class:`Portfolio`.

Everything after import works on these objects, never on a workbook (ARCHITECTURE.md, principle 1).
Tables are tidy inside (principle 2):

``case.lines``  one row per cost or benefit line (columns :data:`LINE_COLUMNS`).
``case.flows``  one row per (line, period, scenario) (columns :data:`FLOW_COLUMNS`), where
                ``scenario`` is ``"baseline"`` (the originally approved case, never edited),
                ``"forecast"``, ``"actual"``, ``"rebaseline:<version>"`` for a formal
                re-baseline, or ``"kpi plan"`` (the planned KPI trajectory: ``kpi_value`` only).
                Actuals may carry ``evidence`` (measured / estimated / owner's claim) and
                ``evidence_source``. Amounts are positive for costs and benefits alike; a dis-benefit
                is a negative benefit amount.

Build a case in code (tests, what-if) with :func:`make_case`; read one from Excel with
:func:`vmo_lib.load_case`.

Examples
--------
>>> case = make_case(
...     {"case_id": "X1", "first_period": "2026Q1", "period_length": "quarter", "horizon": 4,
...      "discount_rate": 0.0},
...     costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [100, 0, 0, 0]}],
...     benefits=[{"line_id": "B1", "name": "Savings", "benefit_type": "cash-releasing",
...                "amounts": [0, 40, 40, 40]}],
... )
>>> case.periods
['2026Q1', '2026Q2', '2026Q3', '2026Q4']
>>> case.net_flow("baseline").tolist()
[-100.0, 40.0, 40.0, 40.0]
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib import schema
from vmo_lib.periods import period_offset, period_range, periods_per_year

__all__ = [
    "FLOW_COLUMNS",
    "LINE_COLUMNS",
    "BusinessCase",
    "Portfolio",
    "make_case",
]

#: Columns of ``BusinessCase.lines`` (besides ``case_id``, ``line_id`` and ``kind``, every
#: attribute column of the Costs and Benefits sheets; a column that does not apply is NaN/None).
LINE_COLUMNS: tuple[str, ...] = (
    "case_id", "line_id", "kind", "name", "category", "benefit_type",
    "owner", "kpi", "unit", "baseline_value", "baseline_date", "target_value", "target_date",
    "value_per_unit", "frequency", "data_source", "enabler", "confidence", "kpi_rollup",
    "org_unit", "price_base", "driver", "low", "likely", "high", "distribution", "row",
    "kpi_basis", "go_live_tied",
)
#: Columns of ``BusinessCase.flows``.
FLOW_COLUMNS: tuple[str, ...] = (
    "case_id", "line_id", "kind", "period", "t", "scenario", "amount", "kpi_value", "comment",
    "evidence", "evidence_source",
)

_DEFAULT_META: dict[str, Any] = {
    "template_version": schema.TEMPLATE_VERSION,
    "title": "",
    "sponsor": "",
    "portfolio": "",
    "strategic_objective": "",
    "org_unit": "",
    "case_type": "IT: equipment/development",
    "status": "approved",
    "approval_date": None,
    "first_period": "2026Q1",
    "period_length": "quarter",
    "horizon": 20,
    "go_live_period": None,
    "currency": "GBP",
    "price_base": "real",
    "base_year": 2026,
    "discount_rate": 0.035,
    "discount_schedule": "flat",
    "ob_capex": None,
    "ob_opex": None,
    "ob_duration": None,
    "ob_benefits": None,
}


@dataclass
class BusinessCase:
    """One business case: its header, its lines and every scenario of their flows.

    Attributes
    ----------
    meta : dict
        The Case sheet, keyed by :data:`vmo_lib.schema.CASE_FIELDS` keys (plus
        ``template_version``).
    lines : pandas.DataFrame
        One row per line, columns :data:`LINE_COLUMNS`.
    flows : pandas.DataFrame
        Tidy flows, columns :data:`FLOW_COLUMNS`.
    baselines : pandas.DataFrame
        One row per formal re-baseline: ``version``, ``approved``, ``reason`` (empty if none).
    issues : pandas.DataFrame
        Warnings found on import (errors stop the import); see :mod:`vmo_lib.intake.validation`.
    source : str
        The workbook it came from ("" for a case built in code).
    sha256 : str
        SHA-256 of that workbook's bytes.
    benefit_map : pandas.DataFrame or None
        The benefits dependency network (the *Benefit map* sheet, :mod:`vmo_lib.intake.benefit_map`);
        ``None`` when the case has none ("not mapped").
    options : dict
        The other options of the economic case (Costs/Benefits column *Option*,
        :mod:`vmo_lib.intake.options`): ``"bau"`` and/or ``"do minimum"`` → a case holding only that
        option's lines and their planned flows (scenario ``baseline``). Empty when none are stated.
        These lines are not in ``lines``/``flows``: no other figure counts them.
    """

    meta: dict[str, Any]
    lines: pd.DataFrame
    flows: pd.DataFrame
    baselines: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["version", "approved", "reason"]))
    issues: pd.DataFrame = field(default_factory=lambda: pd.DataFrame())
    source: str = ""
    sha256: str = ""
    benefit_map: pd.DataFrame | None = None
    options: dict[str, BusinessCase] = field(default_factory=dict)

    # --- header ---------------------------------------------------------------------------------
    @property
    def case_id(self) -> str:
        return str(self.meta["case_id"])

    @property
    def title(self) -> str:
        return str(self.meta.get("title") or "")

    @property
    def period_length(self) -> str:
        return str(self.meta["period_length"])

    @property
    def periods_per_year(self) -> int:
        return periods_per_year(self.period_length)

    @property
    def horizon(self) -> int:
        return int(self.meta["horizon"])

    @property
    def periods(self) -> list[str]:
        """Labels of the appraisal periods, period 0 first."""
        return period_range(self.meta["first_period"], self.horizon, self.period_length)

    def t_of(self, period: object) -> int:
        """Offset of a period label from period 0 (``"2026Q3"`` → 2 when the case starts 2026Q1)."""
        return period_offset(period, self.meta["first_period"], self.period_length)

    @property
    def go_live_t(self) -> int | None:
        gl = self.meta.get("go_live_period")
        return None if gl in (None, "") else self.t_of(gl)

    # --- scenarios ------------------------------------------------------------------------------
    @property
    def rebaseline_versions(self) -> list[str]:
        """Formal re-baselines in the order they were approved (oldest first)."""
        if self.baselines is None or self.baselines.empty:
            return []
        b = self.baselines.sort_values("approved", kind="stable")
        return [str(v) for v in b["version"]]

    def as_known_at(self, review_end: _dt.date | None) -> BusinessCase:
        """The case as it stood at the end of a review period: re-baselines approved after
        ``review_end`` are not yet in force, so they (and their flows) are left out.

        This is the one rule for the baseline in force at a review date: the latest re-baseline
        approved on or before the end of the review period (a re-baseline with no approval date
        counts as in force). Returns ``self`` when nothing changes.

        Examples
        --------
        >>> import datetime as dt
        >>> c = make_case({"horizon": 2}, benefits=[{"line_id": "B1", "name": "S", "amounts": [1, 1]}],
        ...               rebaselines=[{"version": "RB1", "approved": "2026-10-20", "amounts": {"B1": [2, 2]}}])
        >>> c.current_baseline, c.as_known_at(dt.date(2026, 9, 30)).current_baseline
        ('rebaseline:RB1', 'baseline')
        """
        if review_end is None or self.baselines is None or self.baselines.empty:
            return self
        approved = [as_date(v) for v in self.baselines["approved"]]
        later = [str(v) for v, d in zip(self.baselines["version"], approved, strict=True)
                 if d is not None and d > review_end]
        if not later:
            return self
        keep = ~self.baselines["version"].astype(str).isin(later)
        drop = self.flows["scenario"].isin([f"rebaseline:{v}" for v in later])
        return dataclasses.replace(self, baselines=self.baselines[keep].reset_index(drop=True),
                                   flows=self.flows[~drop].reset_index(drop=True))

    @property
    def current_baseline(self) -> str:
        """Scenario name of the baseline in force: the latest re-baseline, else ``"baseline"``."""
        v = self.rebaseline_versions
        return f"rebaseline:{v[-1]}" if v else "baseline"

    @property
    def scenarios(self) -> list[str]:
        return sorted(self.flows["scenario"].unique().tolist())

    def line_ids(self, kind: str | None = None) -> list[str]:
        ix = self._flow_index()
        return list(ix.ids) if kind is None else [ix.ids[i] for i in np.nonzero(ix.kind == kind)[0]]

    def matrix(self, scenario: str = "baseline", kind: str | None = None) -> pd.DataFrame:
        """Wide view of one scenario: one row per line (index ``line_id``), one column per ``t``.

        Lines with no flow in the scenario are rows of zeros; rows follow ``case.lines`` order.
        Amounts keep the tidy sign convention (costs positive, benefits positive, dis-benefits
        negative).
        """
        out, ids = self._matrix_array(scenario, kind)
        return pd.DataFrame(out, index=pd.Index(ids, name="line_id"), columns=pd.RangeIndex(self.horizon, name="t"))

    def _scenario_cells(self, scenario: str, kind: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        """The flows of one scenario that land in the matrix: (row, t, amount) arrays and the row ids.

        Rows index ``line_ids(kind)``; only flows of a known line (and of ``kind``), with
        ``0 <= t < horizon`` and a non-NaN amount, in the order of ``flows``. Amounts and ``t``
        are read from ``flows`` on every call; the line positions come from :meth:`_flow_index`.
        """
        ix = self._flow_index()
        ids, pos = ix.positions(kind)
        sel = ix.scenario_rows.get(scenario)
        if sel is None or not len(sel) or not ids:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0), ids
        flows = self.flows
        if kind is not None:
            sel = sel[flows["kind"].to_numpy()[sel] == kind]
        t = flows["t"].to_numpy()[sel]
        rows = pos[sel]
        amt = flows["amount"].to_numpy(dtype=float)[sel]
        ok = (t >= 0) & (t < self.horizon) & (rows >= 0) & ~np.isnan(amt)
        return rows[ok], t[ok].astype(np.int64), amt[ok], ids

    def _matrix_array(self, scenario: str = "baseline", kind: str | None = None) -> tuple[np.ndarray, list]:
        """:meth:`matrix` as a plain (lines x horizon) array and its row ids (the hot path of the analyses)."""
        rows, t, amt, ids = self._scenario_cells(scenario, kind)
        out = np.zeros((len(ids), self.horizon))
        if len(rows):
            np.add.at(out, (rows, t), amt)
        return out, ids

    def _flow_index(self) -> _FlowIndex:
        """Where each flow row belongs (its line's position, its scenario), built once per tables.

        Rebuilt whenever ``lines`` or ``flows`` is another object or another length (``with_flows``
        and assignment make a new one). A flow's amount, ``t`` and ``kind`` are read afresh by each
        use, so an in-place edit of those is seen; an in-place edit of a flow's ``line_id`` or
        ``scenario``, or of a line's ``line_id`` or ``kind``, is not: change a case through
        :meth:`with_flows` or by assigning new tables (ARCHITECTURE.md, principle 7).
        """
        ix = self.__dict__.get("_flow_index_cache")
        lines, flows = self.lines, self.flows
        if ix is None or ix.lines is not lines or ix.flows is not flows or ix.n_lines != len(lines) \
                or ix.n_flows != len(flows):
            ix = _FlowIndex.build(lines, flows)
            self.__dict__["_flow_index_cache"] = ix
        return ix

    def __getstate__(self) -> dict[str, Any]:
        # the index is derived: never pickled, deep-copied or sent to a worker process
        state = dict(self.__dict__)
        state.pop("_flow_index_cache", None)
        return state

    def net_flow(self, scenario: str = "baseline") -> pd.Series:
        """Net cash flow per period (benefits − costs) of a scenario, all benefit types included."""
        m = self.matrix(scenario)
        kinds = self.lines.set_index("line_id")["kind"].reindex(m.index)
        sign = np.where(kinds.to_numpy() == "cost", -1.0, 1.0)
        return pd.Series(sign @ m.to_numpy(), index=m.columns, name=scenario)

    def copy(self) -> BusinessCase:
        """A deep copy (what-if analysis changes a copy, never the loaded case)."""
        return copy.deepcopy(self)

    def with_flows(self, flows: pd.DataFrame) -> BusinessCase:
        """A copy of the case with other flows (same header and lines)."""
        return dataclasses.replace(self, flows=flows.reset_index(drop=True))

    def __repr__(self) -> str:  # keep notebooks readable
        n_c = int((self.lines["kind"] == "cost").sum())
        n_b = int((self.lines["kind"] == "benefit").sum())
        return (f"BusinessCase({self.case_id!r}, {self.title!r}, {n_c} cost / {n_b} benefit lines, "
                f"{self.horizon} {self.period_length}s from {self.meta['first_period']}, "
                f"scenarios={self.scenarios})")


class _FlowIndex:
    """Line positions and scenario rows of a case's ``flows`` (see :meth:`BusinessCase._flow_index`)."""

    __slots__ = ("lines", "flows", "n_lines", "n_flows", "ids", "kind", "scenario_rows", "_line_codes",
                 "_line_uniques", "_positions")

    @classmethod
    def build(cls, lines: pd.DataFrame, flows: pd.DataFrame) -> _FlowIndex:
        ix = cls()
        ix.lines, ix.flows, ix.n_lines, ix.n_flows = lines, flows, len(lines), len(flows)
        ix.ids = lines["line_id"].tolist()
        ix.kind = lines["kind"].to_numpy(dtype=object)
        ix._positions = {}
        if len(flows):
            codes, uniques = pd.factorize(flows["scenario"].to_numpy(dtype=object), use_na_sentinel=True)
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
            ix.scenario_rows = {u: order[bounds[k]:bounds[k + 1]] for k, u in enumerate(uniques)}
            ix._line_codes, ix._line_uniques = pd.factorize(flows["line_id"].to_numpy(dtype=object), use_na_sentinel=True)
        else:
            ix.scenario_rows = {}
            ix._line_codes, ix._line_uniques = np.empty(0, dtype=np.intp), []
        return ix

    def positions(self, kind: str | None) -> tuple[list, np.ndarray]:
        """Ids of the lines of ``kind`` (all when None) and, per flow row, its row among them (-1: none).

        A line id listed twice maps to its last row, as a dict built in line order would.
        """
        got = self._positions.get(kind)
        if got is None:
            ids = self.ids if kind is None else [self.ids[i] for i in np.nonzero(self.kind == kind)[0]]
            pos = {lid: i for i, lid in enumerate(ids)}
            lut = np.array([pos.get(u, -1) for u in self._line_uniques] + [-1], dtype=np.int64)
            got = self._positions[kind] = (ids, lut[self._line_codes])
        return got


@dataclass
class Portfolio:
    """A set of business cases, plus the workbooks that could not be loaded.

    Attributes
    ----------
    cases : list of BusinessCase
    failures : pandas.DataFrame
        One row per workbook that failed to load: ``path``, ``error`` (a sentence), ``kind``
        (``workbook`` or ``validation``), ``issues`` (the issues table or None).
    """

    cases: list[BusinessCase]
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["path", "kind", "error", "issues"]))

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self):
        return iter(self.cases)

    def __getitem__(self, case_id: str) -> BusinessCase:
        for c in self.cases:
            if c.case_id == case_id:
                return c
        raise KeyError(case_id)

    @property
    def case_ids(self) -> list[str]:
        return [c.case_id for c in self.cases]

    @property
    def meta(self) -> pd.DataFrame:
        """One row per case: the Case sheet fields, plus ``source``."""
        rows = [{**c.meta, "source": c.source} for c in self.cases]
        return pd.DataFrame(rows)

    @property
    def lines(self) -> pd.DataFrame:
        """Every case's lines stacked."""
        return _concat([c.lines for c in self.cases], LINE_COLUMNS)

    @property
    def flows(self) -> pd.DataFrame:
        """Every case's flows stacked (periods stay labels; ``t`` is relative to each case)."""
        return _concat([c.flows for c in self.cases], FLOW_COLUMNS)


def _concat(frames: Sequence[pd.DataFrame], columns: Iterable[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(frames, ignore_index=True)


# --- building cases in code ------------------------------------------------------------------------
def make_case(
    meta: Mapping[str, Any],
    costs: Sequence[Mapping[str, Any]] = (),
    benefits: Sequence[Mapping[str, Any]] = (),
    actuals: Sequence[Mapping[str, Any]] = (),
    forecast: Sequence[Mapping[str, Any]] = (),
    rebaselines: Sequence[Mapping[str, Any]] = (),
    kpi_plan: Sequence[Mapping[str, Any]] = (),
) -> BusinessCase:
    """Build a :class:`BusinessCase` from plain Python data (no validation).

    Parameters
    ----------
    meta : mapping
        Case fields; missing ones take neutral defaults (quarterly, 20 periods from 2026Q1,
        3.5% real, flat schedule, approved).
    costs, benefits : sequence of mapping
        One mapping per line with ``line_id``, ``name`` and ``amounts`` (one value per period
        from period 0; shorter lists are padded with zeros), plus any :data:`LINE_COLUMNS`.
    actuals : sequence of mapping
        ``period`` (label), ``line_id``, ``amount`` and optionally ``kpi_value``, ``comment``,
        ``evidence`` (:data:`vmo_lib.schema.EVIDENCE_STATUSES`), ``evidence_source``.
    forecast : sequence of mapping
        ``period``, ``line_id``, ``amount``.
    rebaselines : sequence of mapping
        ``version``, ``approved`` (date), ``reason`` and ``amounts``: {line_id: [per period]}.
    kpi_plan : sequence of mapping
        The planned KPI trajectory: ``period``, ``line_id``, ``kpi_value`` (scenario ``"kpi plan"``).
    """
    m = {**_DEFAULT_META, **dict(meta)}
    m.setdefault("case_id", "CASE")
    if m.get("go_live_period") in (None, ""):
        m["go_live_period"] = m["first_period"]
    case_id = str(m["case_id"])
    periods = period_range(m["first_period"], int(m["horizon"]), m["period_length"])

    line_rows: list[dict[str, Any]] = []
    flow_rows: list[dict[str, Any]] = []

    def add_line(kind: str, spec: Mapping[str, Any]) -> None:
        row = {c: None for c in LINE_COLUMNS}
        row.update({k: v for k, v in spec.items() if k in LINE_COLUMNS})
        row.update(case_id=case_id, kind=kind)
        if kind == "cost":
            row.setdefault("category", "capex")
            row["category"] = row["category"] or "capex"
        else:
            row["benefit_type"] = row["benefit_type"] or "cash-releasing"
        line_rows.append(row)
        for t, a in enumerate(spec.get("amounts", ())):
            if a is None or t >= len(periods):
                continue
            flow_rows.append(_flow(case_id, row["line_id"], kind, periods[t], t, "baseline", float(a)))

    for spec in costs:
        add_line("cost", spec)
    for spec in benefits:
        add_line("benefit", spec)
    kind_of = {r["line_id"]: r["kind"] for r in line_rows}

    def t_of(p: object) -> int:
        return period_offset(p, m["first_period"], m["period_length"])

    for scen, rows in (("actual", actuals), ("forecast", forecast), ("kpi plan", kpi_plan)):
        for r in rows:
            lid = r["line_id"]
            flow_rows.append(_flow(case_id, lid, kind_of.get(lid, "benefit"), str(r["period"]), t_of(r["period"]),
                                   scen, r.get("amount"), r.get("kpi_value"), r.get("comment"),
                                   r.get("evidence"), r.get("evidence_source")))
    bl_rows = []
    for rb in rebaselines:
        bl_rows.append({"version": rb["version"], "approved": rb.get("approved"), "reason": rb.get("reason", "")})
        for lid, amounts in rb["amounts"].items():
            for t, a in enumerate(amounts):
                if t < len(periods):
                    flow_rows.append(_flow(case_id, lid, kind_of.get(lid, "benefit"), periods[t], t,
                                           f"rebaseline:{rb['version']}", float(a)))
    lines = pd.DataFrame(line_rows, columns=list(LINE_COLUMNS))
    flows = pd.DataFrame(flow_rows, columns=list(FLOW_COLUMNS))
    flows = normalise_flows(flows)
    baselines = pd.DataFrame(bl_rows, columns=["version", "approved", "reason"])
    return BusinessCase(meta=m, lines=lines, flows=flows, baselines=baselines)


def _flow(case_id, line_id, kind, period, t, scenario, amount, kpi_value=None, comment=None, evidence=None,
          evidence_source=None) -> dict[str, Any]:
    return {"case_id": case_id, "line_id": line_id, "kind": kind, "period": period, "t": t,
            "scenario": scenario, "amount": amount, "kpi_value": kpi_value, "comment": comment,
            "evidence": evidence, "evidence_source": evidence_source}


def normalise_flows(flows: pd.DataFrame) -> pd.DataFrame:
    """Give a flows table its canonical dtypes (``t`` int, amounts float, text as object)."""
    flows = flows.copy()
    # a column already in its dtype is left as it is (the casts would return it unchanged); the dtypes
    # are read once (each cast below changes only its own column; added columns are object)
    dtypes = flows.dtypes
    if dtypes["t"] != np.int64:
        flows["t"] = flows["t"].astype("int64")
    for c in ("amount", "kpi_value"):
        if dtypes[c] != np.float64:
            flows[c] = pd.to_numeric(flows[c], errors="coerce").astype("float64")
    for c in ("evidence", "evidence_source"):  # added with the evidence columns: absent from older tables
        if c not in flows:
            flows[c] = pd.Series([None] * len(flows), index=flows.index, dtype=object)
    for c in ("case_id", "line_id", "kind", "period", "scenario", "comment", "evidence", "evidence_source"):
        if c in dtypes and dtypes[c] != np.dtype(object):
            flows[c] = flows[c].astype(object)
    return flows


def as_date(value: Any) -> _dt.date | None:
    """A date from a cell value (date, datetime, ISO text); None for blanks."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    return _dt.date.fromisoformat(str(value).strip()[:10])
