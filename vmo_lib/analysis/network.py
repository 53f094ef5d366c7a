"""The benefits dependency network of one case: what each benefit depends on and what it serves.

Built with networkx from ``case.benefit_map`` (the *Benefit map* sheet, :mod:`vmo_lib.intake.benefit_map`):
nodes are enablers, business changes, benefits, investment objectives and strategic objectives
(:data:`vmo_lib.schema.NODE_KINDS`); an arrow ``a → b`` says *a* leads to *b*. Every benefit line of the
case is a node, listed on the sheet or not. A case without a map is *not mapped*: the network is empty
and every finding says so rather than reporting every benefit as an orphan.

Findings (:func:`benefit_network`)
----------------------------------
orphan benefits            benefits with no enabler upstream (nothing delivers them);
enablers with no benefit   enablers from which no benefit can be reached;
objectives with no benefit investment or strategic objectives no benefit reaches;
late enablers              an enabler is *late* at the review date ``R`` (the last day of the review
                           quarter) when it was delivered after its planned date (``delivered late``),
                           or is not delivered by ``R`` and its forecast date is after the planned date
                           (``forecast late``), or is not delivered by ``R`` although planned on or
                           before ``R`` (``overdue``). An actual delivery date after ``R`` is not yet
                           known at ``R`` (the review is as it stood then);
benefits at risk           every benefit downstream of a late enabler, with the enablers that put it
                           at risk.

Value roll-up
-------------
A benefit's value is its expected PV from the case review (:func:`benefit_values`: actuals to date, then
forecast, then the plan in force, discounted to the case's first period; every benefit type, dis-benefits
negative). From a benefit the value flows along the arrows to the objectives, split **equally** between a
node's outgoing arrows, so nothing is counted twice: the values of the strategic objectives plus the value
that reaches none (``unallocated``) add up to the total value of the benefits.

Examples
--------
>>> import pandas as pd
>>> from vmo_lib.model import make_case
>>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 4},
...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0]}],
...     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 60, 60, 60]}])
>>> case.benefit_map = pd.DataFrame({"node_id": ["C1", "B1", "SO"], "kind": ["enabler", "benefit",
...     "strategic objective"], "name": ["Build", None, "Save"], "owner": ["CIO", None, "CEO"],
...     "feeds": [("B1",), ("SO",), ()], "planned_delivery": ["2026-03-31", None, None],
...     "forecast_delivery": [None] * 3, "actual_delivery": [None] * 3, "row": [5, 6, 7]})
>>> net = benefit_network(case, "2026Q3", values={"B1": 180.0})
>>> net.late_enablers["status"].tolist(), net.benefits_at_risk["node_id"].tolist()
(['overdue'], ['B1'])
>>> net.by_strategic_objective[["node_id", "value"]].values.tolist()
[['SO', 180.0]]
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from vmo_lib import schema
from vmo_lib.errors import AnalysisError
from vmo_lib.model import BusinessCase, as_date
from vmo_lib.periods import period_end_date, review_quarter

__all__ = [
    "BenefitNetwork",
    "DELIVERY_STATUSES",
    "LATE_STATUSES",
    "benefit_network",
    "benefit_values",
    "network_of_review",
]

KINDS = schema.NODE_KINDS
RANK = {k: i for i, k in enumerate(KINDS)}
_BENEFIT = RANK["benefit"]
#: Delivery status of an enabler at the review date (module notes).
DELIVERY_STATUSES = ("delivered on time", "delivered late", "forecast late", "overdue", "due", "no planned date")
LATE_STATUSES = ("delivered late", "forecast late", "overdue")
_OBJECTIVES = ("investment objective", "strategic objective")

NODE_COLUMNS = ("node_id", "kind", "name", "owner", "listed", "value", "rag", "planned_delivery",
                "forecast_delivery", "actual_delivery", "delivery_status", "days_late")


@dataclass(frozen=True)
class BenefitNetwork:
    """The benefits dependency network of one case at one review date (module notes).

    Attributes
    ----------
    case_id, as_of, currency : str
    review_date : datetime.date
        The last day of the review quarter: the date lateness is judged at.
    mapped : bool
        False when the case has no Benefit map (every table below is then empty).
    graph : networkx.DiGraph
        Node attributes: the columns of ``nodes``.
    nodes : pandas.DataFrame
        One row per node: ``node_id, kind, name, owner, listed`` (on the sheet, or a benefit line it does
        not list), ``value`` (benefits: expected PV; objectives: the value reaching them), ``rag``
        (benefits), ``planned_delivery, forecast_delivery, actual_delivery, delivery_status, days_late``
        (enablers).
    edges : pandas.DataFrame
        ``source, target``.
    orphan_benefits, enablers_without_benefit, objectives_without_benefit : list of str
    late_enablers : pandas.DataFrame
        ``node_id, name, owner, planned_delivery, forecast_delivery, actual_delivery, status, days_late,
        benefits_at_risk`` (a list of benefit ids).
    benefits_at_risk : pandas.DataFrame
        ``node_id, name, owner, value, rag, late_enablers`` (a list of enabler ids).
    by_investment_objective, by_strategic_objective : pandas.DataFrame
        ``node_id, name, owner, value, benefits`` (the ids of the benefits whose value reaches it).
    total_value, unallocated_value : float
        The benefits' value, and the part of it that reaches no strategic objective.
    """

    case_id: str
    as_of: str
    currency: str
    review_date: _dt.date
    mapped: bool
    graph: Any = field(repr=False)
    nodes: pd.DataFrame = field(repr=False)
    edges: pd.DataFrame = field(repr=False)
    orphan_benefits: list[str] = field(default_factory=list)
    enablers_without_benefit: list[str] = field(default_factory=list)
    objectives_without_benefit: list[str] = field(default_factory=list)
    late_enablers: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    benefits_at_risk: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    by_investment_objective: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    by_strategic_objective: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    total_value: float = 0.0
    unallocated_value: float = 0.0
    strategic_objective: str = ""

    def value_at_risk(self) -> float:
        """Sum of the value of the benefits put at risk by a late enabler."""
        return float(self.benefits_at_risk["value"].sum()) if len(self.benefits_at_risk) else 0.0

    def sentences(self) -> list[str]:
        """The findings in words (what the pack and ``vmo map`` print)."""
        from vmo_lib.formatting import format_money

        if not self.mapped:
            return [f"The benefits dependency network is not mapped (the workbook has no Benefit map rows): "
                    f"no enabler, business change or objective is linked to the {self.n_benefits} benefit(s)."]
        out = []
        name = self.nodes.set_index("node_id")["name"].to_dict()

        def named(ids: list[str]) -> str:
            return ", ".join(f"{i} ({name.get(i) or '?'})" for i in ids)

        if len(self.late_enablers):
            for r in self.late_enablers.itertuples(index=False):
                at = r.benefits_at_risk
                out.append(f"Enabler {r.node_id} ({r.name or '?'}) is {r.status}"
                           + (f" by {int(r.days_late)} days" if not _missing(r.days_late) and r.days_late > 0 else "")
                           + (f", putting {len(at)} benefit(s) at risk: {named(at)}." if at else
                              "; no benefit depends on it."))
        else:
            out.append(f"No enabler is late at {self.review_date.isoformat()}.")
        if self.orphan_benefits:
            out.append(f"Orphan benefit(s), with no enabler to deliver them: {named(self.orphan_benefits)}.")
        if self.enablers_without_benefit:
            out.append(f"Enabler(s) leading to no benefit: {named(self.enablers_without_benefit)}.")
        if self.objectives_without_benefit:
            out.append(f"Objective(s) no benefit serves: {named(self.objectives_without_benefit)}.")
        if abs(self.unallocated_value) > 0.5:
            out.append(f"{format_money(self.unallocated_value, self.currency)} of the benefits' expected value "
                       f"(of {format_money(self.total_value, self.currency)}) reaches no strategic objective.")
        return out

    @property
    def n_benefits(self) -> int:
        return int((self.nodes["kind"] == "benefit").sum()) if len(self.nodes) else 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the JSON of ``vmo map``); dates ISO, NaN stays NaN (the CLI writes null)."""
        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for rec in df.to_dict("records"):
                out.append({k: (v.isoformat() if isinstance(v, _dt.date) else
                                list(v) if isinstance(v, (tuple, list)) else
                                None if v is None else v) for k, v in rec.items()})
            return out

        return {
            "case_id": self.case_id, "as_of": self.as_of, "review_date": self.review_date.isoformat(),
            "currency": self.currency, "mapped": self.mapped,
            "value_basis": "expected PV of each benefit (actuals, then forecast, then plan), discounted to the "
                           "case's first period; split equally along each node's outgoing arrows",
            "total_value": self.total_value, "unallocated_value": self.unallocated_value,
            "value_at_risk": self.value_at_risk(),
            "orphan_benefits": list(self.orphan_benefits),
            "enablers_without_benefit": list(self.enablers_without_benefit),
            "objectives_without_benefit": list(self.objectives_without_benefit),
            "late_enablers": records(self.late_enablers),
            "benefits_at_risk": records(self.benefits_at_risk),
            "by_investment_objective": records(self.by_investment_objective),
            "by_strategic_objective": records(self.by_strategic_objective),
            "nodes": records(self.nodes),
            "edges": records(self.edges),
            "sentences": self.sentences(),
        }


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def benefit_values(review: Any) -> dict[str, float]:
    """Expected PV of every benefit line of a case review: the review's expected flows (actuals, then
    forecast, then the plan in force) times the case's discount factors, per line.

    Every benefit type counts (dis-benefits negative), so in the economic view the values add up to the
    review's ``expected.pv_benefits``.
    """
    from vmo_lib.analysis.appraisal import discount_factors

    e = review.status.expected
    e = e[e["kind"] == "benefit"]
    if not len(e):
        return {}
    df = discount_factors(review.case)
    pv = e["amount"].to_numpy(dtype=float) * df[e["t"].to_numpy(dtype=np.int64)]
    return {str(k): float(v) for k, v in pd.Series(pv, index=e["line_id"].to_numpy()).groupby(level=0).sum().items()}


def network_of_review(review: Any) -> BenefitNetwork:
    """:func:`benefit_network` of a :class:`~vmo_lib.analysis.review.CaseReview`: its case, its review date,
    the expected PV of each benefit (:func:`benefit_values`) and each benefit's RAG."""
    rags = {}
    b = review.status.benefits
    if len(b) and "rag" in b:
        rags = dict(zip(b["line_id"].astype(str), b["rag"], strict=True))
    return benefit_network(review.case, review.as_of, values=benefit_values(review), rags=rags,
                           currency=review.currency)


def _delivery(planned: Any, forecast: Any, actual: Any, review_date: _dt.date) -> tuple[str, float]:
    """(status, days late) of an enabler at the review date (module notes); days late NaN when on time."""
    p, f, a = as_date(planned), as_date(forecast), as_date(actual)
    if a is not None and a > review_date:  # not yet known at the review date
        f, a = (f or a), None
    if p is None:
        return ("delivered on time" if a is not None else "no planned date"), math.nan
    if a is not None:
        return ("delivered late", float((a - p).days)) if a > p else ("delivered on time", math.nan)
    if f is not None and f > p:
        return "forecast late", float((f - p).days)
    if p <= review_date:
        return "overdue", float((review_date - p).days)
    return "due", math.nan


def benefit_network(case: BusinessCase, as_of: object, values: Mapping[str, float] | None = None,
                    rags: Mapping[str, str] | None = None, currency: str | None = None) -> BenefitNetwork:
    """Build the network of a case and report on it (module notes).

    Parameters
    ----------
    case : BusinessCase
        With ``benefit_map`` (``None`` = not mapped).
    as_of : str
        The review quarter; lateness is judged at its last day.
    values : mapping, optional
        Benefit line id → value (normally :func:`benefit_values`); absent = 0.
    rags : mapping, optional
        Benefit line id → RAG.
    currency : str, optional
        Default: the case's.

    Raises
    ------
    AnalysisError
        The arrows loop (validation reports this as ``map.cycle``; a case built in code may still).
    """
    as_of = review_quarter(as_of)
    review_date = period_end_date(as_of, "quarter")
    values = dict(values or {})
    rags = dict(rags or {})
    currency = currency or str(case.meta.get("currency") or "")
    lines = case.lines
    blines = lines[lines["kind"] == "benefit"]
    b_name = dict(zip(blines["line_id"].astype(str), blines["name"], strict=True))
    b_owner = dict(zip(blines["line_id"].astype(str), blines["owner"], strict=True))
    bmap = case.benefit_map
    mapped = bmap is not None and len(bmap) > 0
    g = nx.DiGraph()
    if mapped:
        for r in bmap.to_dict("records"):
            nid = str(r["node_id"])
            if nid in g:
                continue
            kind = r.get("kind")
            name, owner = r.get("name"), r.get("owner")
            if kind == "benefit":
                name = name if not _missing(name) else b_name.get(nid)
                owner = owner if not _missing(owner) else b_owner.get(nid)
            g.add_node(nid, kind=kind, name=None if _missing(name) else str(name),
                       owner=None if _missing(owner) else str(owner), listed=True,
                       planned_delivery=as_date(r.get("planned_delivery")),
                       forecast_delivery=as_date(r.get("forecast_delivery")),
                       actual_delivery=as_date(r.get("actual_delivery")))
    for lid in b_name:  # every benefit line is a node, listed or not
        if lid not in g:
            g.add_node(lid, kind="benefit", name=b_name[lid], owner=b_owner.get(lid), listed=False,
                       planned_delivery=None, forecast_delivery=None, actual_delivery=None)
    if mapped:
        for r in bmap.to_dict("records"):
            src = str(r["node_id"])
            feeds = r.get("feeds")
            for dst in (feeds if isinstance(feeds, (tuple, list)) else ()):
                if dst in g and dst != src:
                    g.add_edge(src, str(dst))
                elif dst == src:
                    raise AnalysisError(f"{case.case_id}: node {src} feeds itself")
    if not nx.is_directed_acyclic_graph(g):
        loop = " -> ".join(a for a, _ in nx.find_cycle(g))
        raise AnalysisError(f"{case.case_id}: the benefits dependency network loops ({loop})")

    kind_of = nx.get_node_attributes(g, "kind")
    ids_of = {k: [n for n in g if kind_of.get(n) == k] for k in KINDS}
    benefits = ids_of["benefit"]

    # delivery of the enablers
    late: dict[str, tuple[str, float]] = {}
    for n in g:
        d = g.nodes[n]
        if kind_of.get(n) == "enabler":
            status, days = _delivery(d["planned_delivery"], d["forecast_delivery"], d["actual_delivery"], review_date)
        else:
            status, days = None, math.nan
        d["delivery_status"], d["days_late"] = status, days
        if status in LATE_STATUSES:
            late[n] = (status, days)
        d["value"] = float(values.get(n, 0.0)) if kind_of.get(n) == "benefit" else math.nan
        d["rag"] = rags.get(n) if kind_of.get(n) == "benefit" else None

    ancestors = {n: nx.ancestors(g, n) for n in g}
    descendants = {n: nx.descendants(g, n) for n in g}
    orphans = [b for b in benefits if not any(kind_of.get(a) == "enabler" for a in ancestors[b])] if mapped else []
    idle = [e for e in ids_of["enabler"] if not any(kind_of.get(x) == "benefit" for x in descendants[e])]
    unserved = [o for k in _OBJECTIVES for o in ids_of[k]
                if not any(kind_of.get(a) == "benefit" for a in ancestors[o])]

    # value: split equally along the outgoing arrows, from each benefit to the objectives
    share: dict[str, dict[str, float]] = {}  # benefit -> node -> share of its value reaching node
    order = list(nx.topological_sort(g))
    pos = {n: i for i, n in enumerate(order)}
    for b in benefits:
        got = {b: 1.0}
        for n in sorted(descendants[b] | {b}, key=pos.__getitem__):
            s = got.get(n, 0.0)
            outs = list(g.successors(n))
            for m in outs:
                got[m] = got.get(m, 0.0) + s / len(outs)
        share[b] = got
    received: dict[str, float] = {}
    contributors: dict[str, list[str]] = {}
    for b, got in share.items():
        v = float(values.get(b, 0.0))
        for n, s in got.items():
            if n != b and kind_of.get(n) in _OBJECTIVES:
                received[n] = received.get(n, 0.0) + v * s
                contributors.setdefault(n, []).append(b)
    for n in received:
        g.nodes[n]["value"] = received[n]
    for k in _OBJECTIVES:
        for n in ids_of[k]:
            if n not in received:
                g.nodes[n]["value"] = 0.0
    total = float(sum(float(values.get(b, 0.0)) for b in benefits))
    reached_so = float(sum(received.get(n, 0.0) for n in ids_of["strategic objective"]))
    unallocated = total - reached_so if mapped else total
    if abs(unallocated) <= 1e-9 * max(1.0, abs(total)):  # rounding of the equal splits, not value
        unallocated = 0.0

    nodes = pd.DataFrame([{"node_id": n, **{c: g.nodes[n].get(c) for c in NODE_COLUMNS if c != "node_id"}}
                          for n in sorted(g, key=lambda x: (RANK.get(kind_of.get(x), 9), x))],
                         columns=list(NODE_COLUMNS))
    edges = pd.DataFrame(sorted(g.edges()), columns=["source", "target"])

    late_rows: list[dict[str, Any]] = []
    risk: dict[str, list[str]] = {}
    for e in sorted(late):
        at = sorted(x for x in descendants[e] if kind_of.get(x) == "benefit")
        d = g.nodes[e]
        late_rows.append({"node_id": e, "name": d["name"], "owner": d["owner"],
                          "planned_delivery": d["planned_delivery"], "forecast_delivery": d["forecast_delivery"],
                          "actual_delivery": d["actual_delivery"], "status": late[e][0], "days_late": late[e][1],
                          "benefits_at_risk": at})
        for b in at:
            risk.setdefault(b, []).append(e)
    late_df = pd.DataFrame(late_rows, columns=["node_id", "name", "owner", "planned_delivery", "forecast_delivery",
                                               "actual_delivery", "status", "days_late", "benefits_at_risk"])
    risk_df = pd.DataFrame([{"node_id": b, "name": g.nodes[b]["name"], "owner": g.nodes[b]["owner"],
                             "value": g.nodes[b]["value"], "rag": g.nodes[b]["rag"], "late_enablers": risk[b]}
                            for b in sorted(risk)],
                           columns=["node_id", "name", "owner", "value", "rag", "late_enablers"])

    def rollup(kind: str) -> pd.DataFrame:
        return pd.DataFrame([{"node_id": n, "name": g.nodes[n]["name"], "owner": g.nodes[n]["owner"],
                              "value": float(received.get(n, 0.0)), "benefits": sorted(contributors.get(n, []))}
                             for n in sorted(ids_of[kind])],
                            columns=["node_id", "name", "owner", "value", "benefits"])

    return BenefitNetwork(
        case_id=case.case_id, as_of=as_of, currency=currency, review_date=review_date, mapped=mapped, graph=g,
        nodes=nodes, edges=edges, orphan_benefits=sorted(orphans), enablers_without_benefit=sorted(idle),
        objectives_without_benefit=sorted(unserved), late_enablers=late_df, benefits_at_risk=risk_df,
        by_investment_objective=rollup("investment objective"),
        by_strategic_objective=rollup("strategic objective"),
        total_value=total, unallocated_value=unallocated,
        strategic_objective=str(case.meta.get("strategic_objective") or ""),
    )
