"""The *Benefit map* sheet: the case's benefits dependency network, checked node by node.

The sheet is optional. A workbook without it, or with the sheet and no rows, has its network "not
mapped" (``case.benefit_map`` is ``None``); everything else about the case is read as before.

One row per node (:data:`vmo_lib.schema.BENEFIT_MAP_COLUMNS`): ``Node id``, ``Kind`` (one of
:data:`vmo_lib.schema.NODE_KINDS`), ``Name``, ``Owner``, ``Feeds`` (the ids of the nodes it leads to,
separated by commas) and, for enablers, the planned, forecast and actual delivery dates. Arrows run

    enabler → business change → benefit → investment objective → strategic objective

(Cranfield's benefits dependency network; MSP's benefit map). A node may skip a layer (an enabler that
directly enables a benefit), and enablers and business changes may depend on others of their kind;
nothing runs backwards, and benefits and objectives do not feed their own kind (the value roll-up
would count a benefit twice).

References into the rest of the workbook: a benefit's node id **is** its line id on *Benefits* (its
name, owner and money come from there; a benefit line the sheet does not list is still a node, with
no arrow in or out); an enabler's node id may be a cost line id on *Costs* (that cost line is the
enabler) or a new id for a deliverable. A *Feeds* entry may name a benefit line id not listed on the
sheet.

Rules (:data:`MAP_RULES`), every problem at once, each naming the sheet and cell:
``map.invalid_id``, ``map.duplicate_id``, ``map.missing_value``, ``map.unknown_id``,
``map.not_a_benefit_line``, ``map.id_clash``, ``map.kind_order``, ``map.cycle``,
``map.missing_owner``, ``map.dates_not_enabler``, ``map.no_planned_delivery``.

This module never imports the validator's internals: :func:`check_benefit_map` receives the typed
columns and an ``add(rule, sheet, cell, field, message)`` callback from
:func:`vmo_lib.intake.validation.check_workbook`.

Examples
--------
>>> frame = map_frame([{"node_id": "E1", "kind": "enabler", "name": "CRM live", "owner": "CIO",
...                     "feeds": "B1, B2", "planned_delivery": "2026-06-30"}])
>>> frame.loc[0, "feeds"], frame.loc[0, "planned_delivery"]
(('B1', 'B2'), datetime.date(2026, 6, 30))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib import schema
from vmo_lib.intake.workbook import RawTable
from vmo_lib.model import as_date

__all__ = ["MAP_COLUMNS", "MAP_RULES", "benefit_map_of", "check_benefit_map", "map_frame", "map_records", "split_ids"]

SHEET = schema.BENEFIT_MAP_SHEET
#: Columns of ``BusinessCase.benefit_map`` (``feeds`` a tuple of node ids; dates ``datetime.date``).
MAP_COLUMNS: tuple[str, ...] = (*(c.key for c in schema.BENEFIT_MAP_COLUMNS), "row")

#: Every rule of the sheet: id → (severity, what it catches).
MAP_RULES: dict[str, tuple[str, str]] = {
    "map.invalid_id": ("error", "a node id with characters other than letters, digits, '-', '_', '.'"),
    "map.duplicate_id": ("error", "the same node id twice on the Benefit map"),
    "map.missing_value": ("error", "a Benefit map row without its kind, or a node other than a benefit without a name"),
    "map.unknown_id": ("error", "a Feeds entry naming no node of the map and no benefit line"),
    "map.not_a_benefit_line": ("error", "a benefit node whose id is not a line id on Benefits"),
    "map.id_clash": ("error", "a node id that is a line id of Costs or Benefits used for another kind of node"),
    "map.kind_order": ("error", "an arrow that runs backwards (e.g. benefit -> enabler) or joins two benefits or objectives"),
    "map.cycle": ("error", "nodes that depend on each other in a loop"),
    "map.missing_owner": ("error", "a node other than a benefit without an owner"),
    "map.dates_not_enabler": ("warning", "delivery dates on a node that is not an enabler (ignored)"),
    "map.no_planned_delivery": ("warning", "an enabler without a planned delivery date (its lateness cannot be judged)"),
}

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_SPLIT = re.compile(r"[,;\s]+")
_RANK = {k: i for i, k in enumerate(schema.NODE_KINDS)}
#: Kinds whose nodes may feed another node of the same kind (dependencies among enablers and changes).
_SAME_KIND_OK = ("enabler", "business change")
_DATES = ("planned_delivery", "forecast_delivery", "actual_delivery")

Add = Callable[[str, str, str, str, str], None]


def split_ids(text: Any) -> tuple[str, ...]:
    """The node ids of a *Feeds* cell (commas, semicolons or spaces between them), in order, once each.

    >>> split_ids("BC1, B2;B3  B2"), split_ids(None)
    (('BC1', 'B2', 'B3'), ())
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ()
    if isinstance(text, (tuple, list)):
        parts = [str(p).strip() for p in text]
    else:
        parts = _SPLIT.split(str(text).strip())
    return tuple(dict.fromkeys(p for p in parts if p))


def map_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A ``BusinessCase.benefit_map`` table (:data:`MAP_COLUMNS`) from plain records (tests, the sample).

    ``feeds`` may be a string (``"B1, B2"``) or a sequence; dates strings or dates. Absent keys are blank.
    """
    rows = []
    for i, r in enumerate(records):
        row = {k: r.get(k) for k in MAP_COLUMNS}
        row["feeds"] = split_ids(r.get("feeds"))
        for k in _DATES:
            row[k] = as_date(r.get(k))
        row["row"] = r.get("row", schema.TABLE_FIRST_ROW + i)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(MAP_COLUMNS)).astype({"row": "int64"}) if rows else \
        pd.DataFrame(columns=list(MAP_COLUMNS))


def benefit_map_of(typed: Mapping[str, np.ndarray] | None) -> pd.DataFrame | None:
    """``BusinessCase.benefit_map`` from the checked sheet (:func:`check_benefit_map`); ``None`` when the
    sheet is absent or has no node ("not mapped"). Rows without a node id are left out."""
    if typed is None or not len(typed.get("row", ())):
        return None
    keep = np.array([x is not None for x in typed["node_id"]], dtype=bool)
    if not keep.any():
        return None
    data = {k: np.asarray(typed[k], dtype=object)[keep] for k in MAP_COLUMNS if k != "row"}
    data["row"] = np.asarray(typed["row"])[keep].astype(np.int64)
    return pd.DataFrame(data, columns=list(MAP_COLUMNS))


def map_records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The rows of the sheet for a ``benefit_map`` table (``feeds`` joined with ", "): what the writer puts."""
    if frame is None or not len(frame):
        return []
    out = []
    for rec in frame.to_dict("records"):
        rec = {k: (None if _blank(v) else v) for k, v in rec.items() if k != "row"}
        rec["feeds"] = ", ".join(split_ids(rec.get("feeds"))) or None
        out.append(rec)
    return out


def _blank(v: Any) -> bool:
    if isinstance(v, (tuple, list)):
        return False
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def check_benefit_map(t: RawTable, df: dict[str, np.ndarray], lines: Mapping[str, Mapping[str, np.ndarray]],
                      add: Add) -> dict[str, np.ndarray]:
    """Check the *Benefit map* sheet; return its typed columns with ``feeds`` as tuples of ids.

    Parameters
    ----------
    t : RawTable
        The sheet as read.
    df : dict of numpy.ndarray
        Its typed columns (the validator has already reported values of the wrong type).
    lines : mapping
        The typed *Costs* and *Benefits* lines (``line_id``), for the references.
    add : callable
        ``add(rule, sheet, cell, field, message)``: records one issue (severity from :data:`MAP_RULES`).

    Returns
    -------
    dict of numpy.ndarray
        ``df`` with ``feeds`` replaced by tuples of node ids.

    Examples
    --------
    >>> from vmo_lib.intake.workbook import parse_sheets
    >>> rows = [[], [], [], ["Node id", "Kind", "Name", "Owner", "Feeds"],
    ...         ["BC1", "business change", "Go-live", "CIO", "BC2"], ["BC2", "business change", "New process", "", "BC1"]]
    >>> t = parse_sheets({"Benefit map": rows}).tables["Benefit map"]
    >>> found = []
    >>> typed = {k: t.column(k) for k in MAP_COLUMNS if k != "row"} | {"row": t.rows}
    >>> _ = check_benefit_map(t, typed, {}, lambda *a: found.append((a[0], a[2])))
    >>> sorted(found)
    [('map.cycle', 'E5'), ('map.missing_owner', 'D6')]
    """
    rows = t.rows
    n = len(rows)

    def cell(key: str, i: int) -> str:
        return f"{t.columns.get(key) or t.columns.get('node_id', 'A')}{rows[i]}"

    ids = df["node_id"]
    kinds = df["kind"]
    feeds = np.empty(n, dtype=object)
    for i in range(n):
        feeds[i] = split_ids(df["feeds"][i])
    costs = {x for x in lines.get("Costs", {}).get("line_id", ()) if x is not None}
    benefit_lines = [x for x in lines.get("Benefits", {}).get("line_id", ()) if x is not None]
    benefit_owner = dict(zip(lines.get("Benefits", {}).get("line_id", ()),
                             lines.get("Benefits", {}).get("owner", [None] * len(benefit_lines)), strict=False))

    # nodes: id -> (kind, row index); benefit lines not listed are nodes too
    node: dict[str, tuple[Any, int]] = {}
    for i in range(n):
        nid, kind = ids[i], kinds[i]
        if nid is None:
            continue  # the validator reports the blank id (line.blank_id)
        if not _ID.match(str(nid)):
            add("map.invalid_id", SHEET, cell("node_id", i), "node_id",
                f"node id {nid!r} must be 1-40 letters, digits, '-', '_' or '.'")
        if nid in node:
            add("map.duplicate_id", SHEET, cell("node_id", i), "node_id",
                f"node id {nid!r} is already used on row {rows[node[nid][1]]}; expected one row per node")
            continue
        node[nid] = (kind, i)
        if kind is None:
            if "kind" in t.columns and t.column("kind")[i] is None:
                add("map.missing_value", SHEET, cell("kind", i), "kind",
                    f"row {rows[i]}: Kind is required: one of {', '.join(schema.NODE_KINDS)}")
            continue
        if kind == "benefit" and nid not in benefit_lines:
            add("map.not_a_benefit_line", SHEET, cell("node_id", i), "node_id",
                f"benefit {nid!r} is not a line id on Benefits: a benefit node takes its name, owner and "
                "money from its Benefits line")
        elif kind != "benefit" and nid in benefit_lines:
            add("map.id_clash", SHEET, cell("node_id", i), "node_id",
                f"{nid!r} is a benefit line id on Benefits but this row calls it a {kind}; expected its own id")
        elif kind != "enabler" and nid in costs:
            add("map.id_clash", SHEET, cell("node_id", i), "node_id",
                f"{nid!r} is a cost line id on Costs but this row calls it a {kind}; only an enabler may be a "
                "cost line")
        if kind != "benefit" and df["name"][i] is None:
            add("map.missing_value", SHEET, cell("name", i), "name", f"row {rows[i]}: the {kind} {nid!r} has no Name")
        owner = df["owner"][i]
        if owner is None and kind != "benefit":
            add("map.missing_owner", SHEET, cell("owner", i), "owner",
                f"the {kind} {nid!r} has no owner: every node of the network needs one accountable owner")
        elif owner is None and kind == "benefit" and nid in benefit_lines and benefit_owner.get(nid) is None:
            add("map.missing_owner", SHEET, cell("owner", i), "owner",
                f"the benefit {nid!r} has no owner here nor on Benefits")
        dated = [k for k in _DATES if df[k][i] is not None]
        if kind != "enabler" and dated:
            add("map.dates_not_enabler", SHEET, cell(dated[0], i), dated[0],
                f"the {kind} {nid!r} has delivery dates; only enablers are delivered (the dates are ignored)")
        if kind == "enabler" and df["planned_delivery"][i] is None:
            add("map.no_planned_delivery", SHEET, cell("planned_delivery", i), "planned_delivery",
                f"the enabler {nid!r} has no planned delivery date, so whether it is late cannot be judged")
    for b in benefit_lines:
        node.setdefault(b, ("benefit", -1))

    # arrows: known targets, kind order
    edges: dict[str, list[str]] = {}
    for i in range(n):
        src, kind = ids[i], kinds[i]
        if src is None or node.get(src, (None, -2))[1] != i:
            continue  # blank or duplicate row: its arrows are not read
        for dst in feeds[i]:
            if dst not in node:
                add("map.unknown_id", SHEET, cell("feeds", i), "feeds",
                    f"{src!r} feeds {dst!r}, which is no node id on the Benefit map and no line id on Benefits")
                continue
            dkind = node[dst][0]
            edges.setdefault(src, []).append(dst)
            if kind is None or dkind is None:
                continue
            if _RANK[dkind] < _RANK[kind] or (dkind == kind and kind not in _SAME_KIND_OK):
                add("map.kind_order", SHEET, cell("feeds", i), "feeds",
                    f"{src!r} ({kind}) feeds {dst!r} ({dkind}): arrows run enabler -> business change -> benefit "
                    "-> investment objective -> strategic objective"
                    + ("" if dkind != kind else f"; a {kind} does not feed another {kind}"))
    for cyc in _cycles(edges):
        where = [node[x][1] for x in cyc if node.get(x, (None, -1))[1] >= 0]
        first = min(where) if where else 0
        loop = " -> ".join([*cyc, cyc[0]])
        add("map.cycle", SHEET, cell("feeds", first), "feeds",
            f"the network loops: {loop} (rows {', '.join(str(rows[j]) for j in sorted(where))}); expected "
            "arrows that never lead back to where they start")
    out = dict(df)
    out["feeds"] = feeds
    return out


def _cycles(edges: Mapping[str, list[str]]) -> list[list[str]]:
    """One list per elementary cycle of the arrows, each starting at its smallest id (networkx)."""
    import networkx as nx

    g = nx.DiGraph()
    for a, bs in edges.items():
        g.add_edges_from((a, b) for b in bs)
    found = []
    for cyc in nx.simple_cycles(g, length_bound=None):
        k = cyc.index(min(cyc))
        found.append(cyc[k:] + cyc[:k])
        if len(found) >= 20:  # enough to act on; a tangled sheet is reported, not enumerated
            break
    return sorted(found)
