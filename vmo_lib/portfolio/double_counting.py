"""Double counting: benefits of different cases claiming the same KPI for the same unit at the same time.

Definitions
-----------
* A **claim** is a benefit line (dis-benefits are not claims) with a KPI name. Its **KPI group** is
  the KPI name once normalised (:func:`normalise_kpi`) and the organisational unit (the benefit's,
  else its case's). It claims the calendar quarters where it has a planned amount (plan in force; a
  yearly amount is spread evenly over its four quarters); a non-monetised benefit claims go-live to
  the end of its horizon, with amount 0.
* A KPI group **double counts** in a quarter when two or more *different* cases claim it in that
  quarter. The **amount at stake** in that quarter is the amount claimed more than once: the total
  claimed minus the largest single case's claim (each case's lines of the group added first, each
  line's amount taken absolute). For two cases this is the smaller of the two claims — the pairwise
  rule — and it never counts the same money twice when three or more cases overlap. Summed over the
  quarters, undiscounted, in the cases' currency: NaN when the overlapping cases are in different
  currencies (money is never added across currencies).

The report (:func:`find_double_counting`) has **one row per KPI group** with overlapping claims,
computed with one sort of the claimed (group, quarter, case) cells — time and memory linear in the
number of claimed quarters (n log n for the sort), never in the number of pairs — plus a pair-level
detail for the small groups only (at most ``pair_limit`` claims each), and a bounded text summary.

Examples
--------
>>> from vmo_lib.model import make_case
>>> a = make_case({"case_id": "A", "org_unit": "Sales", "first_period": "2026Q1", "horizon": 4},
...     benefits=[{"line_id": "B1", "name": "Calls", "kpi": "Inbound calls", "amounts": [0, 10, 10, 10]}])
>>> b = make_case({"case_id": "B", "org_unit": "Sales", "first_period": "2026Q3", "horizon": 4},
...     benefits=[{"line_id": "B9", "name": "Deflect", "kpi": "inbound  CALLS", "amounts": [4, 40, 4, 4]}])
>>> g = find_double_counting([a, b]).groups.iloc[0]
>>> g["case_ids"], g["overlap_from"], g["overlap_to"], float(g["amount_at_stake"])
('A, B', '2026Q3', '2026Q4', 14.0)
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.formatting import format_money
from vmo_lib.model import BusinessCase, Portfolio
from vmo_lib.periods import parse_period
from vmo_lib.portfolio.common import TINY, cases_of, is_blank, org_unit_of

__all__ = [
    "GROUP_COLUMNS",
    "PAIR_COLUMNS",
    "CLAIMS_MEMO",
    "DoubleCounting",
    "case_claims",
    "double_counting",
    "find_double_counting",
    "normalise_kpi",
]

#: Columns of :attr:`DoubleCounting.groups` (one row per KPI group with overlapping claims).
GROUP_COLUMNS = ("kpi_key", "org_unit", "kpi", "cases", "claims", "case_ids", "lines", "overlap_from", "overlap_to",
                 "overlap_quarters", "amount_at_stake", "currency", "note", "pair_detail")
#: Columns of :attr:`DoubleCounting.pairs` (one row per overlapping pair of claims, small groups only).
PAIR_COLUMNS = ("kpi_key", "org_unit", "case_a", "line_a", "benefit_a", "kpi_a", "case_b", "line_b", "benefit_b",
                "kpi_b", "overlap_from", "overlap_to", "overlap_quarters", "amount_at_stake", "currency", "note")
#: Claims in a group up to which the pair-level detail is kept (10 claims = at most 45 pairs).
PAIR_LIMIT = 10

_PUNCT = re.compile(r"[^\w]+", re.UNICODE)
_SYMBOLS = {"%": " percent ", "&": " and ", "#": " number ", "+": " plus "}
_NOT_MONETISED = "not monetised: the KPI is claimed twice but no money is at stake"


def normalise_kpi(name: Any, synonyms: Mapping[str, str] | None = None) -> str:
    """A KPI name reduced to what identifies it: case-folded, symbols spelled out, punctuation and
    whitespace collapsed; ``synonyms`` maps normalised words or phrases to one spelling.

    Examples
    --------
    >>> normalise_kpi("Inbound calls to the Contact-Centre ")
    'inbound calls to the contact centre'
    >>> normalise_kpi("First-contact resolution (%)")
    'first contact resolution percent'
    >>> normalise_kpi("Calls to the call centre", {"call centre": "contact centre"})
    'calls to the contact centre'
    """
    if is_blank(name):
        return ""
    s = str(name).casefold()
    for k, v in _SYMBOLS.items():
        s = s.replace(k, v)
    s = " ".join(_PUNCT.sub(" ", s).replace("_", " ").split())
    for k, v in (synonyms or {}).items():
        k2 = normalise_kpi(k)
        s = re.sub(rf"\b{re.escape(k2)}\b", normalise_kpi(v), s) if k2 else s
    return s


@functools.lru_cache(maxsize=4096, typed=True)
def _normalise_plain(name: Any) -> str:
    """:func:`normalise_kpi` without synonyms, kept per name: a portfolio's cases share their KPI and unit
    names, and each case's claims are built on their own (:func:`case_claims`)."""
    return normalise_kpi(name)


def _quarter_label(o: int) -> str:
    return f"{o // 4}Q{o % 4 + 1}"


def _case_cells(case: BusinessCase) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """A case's benefit claims as cells: (line ids, row, calendar quarter ordinal, amount).

    Plan in force; a yearly amount is spread over its four quarters; a line with no planned amount
    claims go-live to the end of the horizon with amount 0.
    """
    m, line_ids = case._matrix_array(case.current_baseline, "benefit")  # case.matrix's values, no table
    ids = [str(i) for i in line_ids]
    k = case.periods_per_year
    y0, i0 = parse_period(case.meta["first_period"], case.period_length)
    start = (y0 * 4 + (i0 if k == 4 else 0)) + np.arange(case.horizon) * (1 if k == 4 else 4)
    r, t = np.nonzero(np.abs(m) > TINY)
    rows, qs, amts = [r], [start[t]], [m[r, t]]
    if k != 4:  # yearly: a quarter of the amount in each of its four quarters
        rows = [np.repeat(r, 4)]
        qs = [(start[t][:, None] + np.arange(4)).ravel()]
        amts = [np.repeat(m[r, t] / 4.0, 4)]
    empty = np.flatnonzero(~(np.abs(m) > TINY).any(axis=1)) if len(ids) else np.empty(0, dtype=np.int64)
    if len(empty):
        g = min(max(case.go_live_t or 0, 0), case.horizon - 1)
        last = int(start[-1]) + (3 if k == 1 else 0)
        span = np.arange(int(start[g]), last + 1)
        rows.append(np.repeat(empty, len(span)))
        qs.append(np.tile(span, len(empty)))
        amts.append(np.zeros(len(empty) * len(span)))
    return ids, np.concatenate(rows), np.concatenate(qs).astype(np.int64), np.concatenate(amts)


#: The :func:`vmo_lib.analysis.outlook.memo` kind of :func:`case_claims` (no synonyms): ``vmo portfolio``'s
#: workers compute it where the case was reviewed and hand it over with the review.
CLAIMS_MEMO = "double_counting:claims"


def case_claims(case: BusinessCase, synonyms: Mapping[str, str] | None = None) -> tuple[dict[str, list[Any]], np.ndarray, np.ndarray, np.ndarray]:
    """One case's claims: (claim columns, cell claim, cell quarter, cell amount).

    The claim columns are ``line_id, name, kpi, kpi_key, org_unit, unit_key`` (one entry per benefit
    line with a KPI, dis-benefits left out, in line order); each cell is a claimed quarter of a claim:
    its claim's position among the case's claims, its calendar quarter ordinal and its absolute
    amount (:func:`find_double_counting` stacks the cases' claims).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> a = make_case({"case_id": "A", "org_unit": "Sales", "first_period": "2026Q1", "horizon": 2},
    ...     benefits=[{"line_id": "B1", "name": "Calls", "kpi": "Inbound calls", "amounts": [0, -10]}])
    >>> cols, claim, q, amount = case_claims(a)
    >>> cols["kpi_key"], claim.tolist(), q.tolist(), amount.tolist()
    (['inbound calls'], [0], [8105], [10.0])
    """
    cols: dict[str, list[Any]] = {k: [] for k in ("line_id", "name", "kpi", "kpi_key", "org_unit", "unit_key")}
    lines = case.lines
    kind, btype = lines["kind"].to_numpy(), lines["benefit_type"].to_numpy()
    keep = (kind == "benefit") & (btype != "dis-benefit")
    if not keep.any():
        empty = np.empty(0, dtype=np.int64)
        return cols, empty, empty, np.empty(0)
    ids, rows, qs, amts = _case_cells(case)
    row_claim = np.full(len(ids), -1, dtype=np.int64)
    row_of = {lid: j for j, lid in enumerate(ids)}
    col = {k: lines[k].to_numpy()[keep].tolist() for k in ("line_id", "name", "kpi", "org_unit")}
    norm = _normalise_plain if synonyms is None else functools.partial(normalise_kpi, synonyms=synonyms)
    n = 0
    for lid, name, raw, lunit in zip(col["line_id"], col["name"], col["kpi"], col["org_unit"], strict=True):
        key = norm(raw)
        if not key:
            continue
        unit = org_unit_of(lunit, case)
        j = row_of.get(str(lid))
        if j is not None:
            row_claim[j] = n
        for k, v in (("line_id", str(lid)), ("name", name), ("kpi", raw), ("kpi_key", key), ("org_unit", unit),
                     ("unit_key", _normalise_plain(unit))):
            cols[k].append(v)
        n += 1
    cl = row_claim[rows] if len(rows) else np.empty(0, dtype=np.int64)
    ok = cl >= 0
    return cols, cl[ok], qs[ok], np.abs(amts[ok])


def _claims(portfolio: Portfolio | Iterable[BusinessCase],
            synonyms: Mapping[str, str] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(claims, cells): one row per claim and one per claimed quarter of a claim (cells in claim order)."""
    from vmo_lib.analysis.outlook import memo

    cols: dict[str, list[Any]] = {k: [] for k in ("case_id", "case_ix", "line_id", "name", "kpi", "kpi_key",
                                                   "org_unit", "unit_key", "currency")}
    cell_claim, cell_q, cell_amt = [], [], []
    n = 0
    for ci, c in enumerate(cases_of(portfolio)):
        # each case's claims once per case within an outlook.shared_work block (vmo portfolio's workers build
        # them beside the review); a case's own claims are numbered from 0, so they are moved by n here
        if synonyms is None:
            got = memo(CLAIMS_MEMO, c, "", lambda c=c: case_claims(c))
        else:
            got = case_claims(c, synonyms)
        ccols, cl, qs, amts = got
        m = len(ccols["line_id"])
        if not m:  # no claim, so no cell either
            continue
        cols["case_id"].extend([c.case_id] * m)
        cols["case_ix"].extend([ci] * m)
        for k, v in ccols.items():
            cols[k].extend(v)
        cols["currency"].extend([str(c.meta.get("currency") or "")] * m)
        cell_claim.append(cl + n)
        cell_q.append(qs)
        cell_amt.append(amts)
        n += m
    claims = pd.DataFrame(cols)
    cells = pd.DataFrame({
        "claim": np.concatenate(cell_claim) if cell_claim else np.empty(0, dtype=np.int64),
        "q": np.concatenate(cell_q) if cell_q else np.empty(0, dtype=np.int64),
        "amount": np.concatenate(cell_amt) if cell_amt else np.empty(0),
    })
    return claims, cells


@dataclass
class DoubleCounting:
    """Double counting in a portfolio, one row per KPI group (module definitions).

    Attributes
    ----------
    groups : pandas.DataFrame
        Columns :data:`GROUP_COLUMNS`, largest amount at stake first (NaN last): ``cases`` and
        ``claims`` = how many cases and benefit lines overlap another case's claim; ``case_ids``
        and ``lines`` (``"CASE LINE"``) name them; ``overlap_from``/``overlap_to`` = the first and
        last quarter claimed by two or more cases, ``overlap_quarters`` = how many quarters are;
        ``pair_detail`` = whether :attr:`pairs` lists the group's pairs.
    pairs : pandas.DataFrame
        Columns :data:`PAIR_COLUMNS`: the overlapping pairs of claims of the groups with at most
        ``pair_limit`` claims; each pair's amount at stake is the smaller claim per quarter.
    claims : int
        Claims examined (benefit lines with a KPI).
    pair_limit : int or None
    """

    groups: pd.DataFrame
    pairs: pd.DataFrame
    claims: int = 0
    pair_limit: int | None = PAIR_LIMIT

    @property
    def empty(self) -> bool:
        """No KPI group double counts."""
        return self.groups.empty

    def __len__(self) -> int:
        return len(self.groups)

    def totals_by_currency(self) -> pd.DataFrame:
        """Amount at stake per currency (``currency, groups, amount_at_stake``; groups whose
        overlapping cases are in different currencies are counted under ``""`` with no amount)."""
        g = self.groups.groupby("currency", sort=True)
        out = g["amount_at_stake"].sum(min_count=1).to_frame()
        out.insert(0, "groups", g.size())
        return out.reset_index()

    def text(self, top: int = 10) -> list[str]:
        """A bounded summary: a headline, the ``top`` groups by amount at stake, and how many more.

        Examples
        --------
        >>> DoubleCounting(pd.DataFrame(columns=list(GROUP_COLUMNS)), pd.DataFrame()).text()
        ['Double counting: no KPI is claimed by two cases for the same unit at the same time.']
        """
        g = self.groups
        if g.empty:
            return ["Double counting: no KPI is claimed by two cases for the same unit at the same time."]
        stake = "; ".join(f"{format_money(r['amount_at_stake'], r['currency'])} at stake"
                          for _, r in self.totals_by_currency().iterrows() if r["currency"])
        out = [f"Double counting: {len(g)} KPI group(s) claimed by two or more cases for the same unit at the same "
               f"time ({int(g['claims'].sum())} of {self.claims} benefit claims)" + (f"; {stake}" if stake else "")
               + "."]
        for _, r in g.head(max(int(top), 0)).iterrows():
            shown = r["lines"] if r["cases"] <= 6 else (", ".join(str(r["case_ids"]).split(", ")[:6])
                                                         + f" and {r['cases'] - 6} more cases")
            amount = (format_money(r["amount_at_stake"], r["currency"]) + " at stake"
                      if not pd.isna(r["amount_at_stake"]) else "amount not compared")
            out.append(f"  {r['kpi']!r} for {r['org_unit'] or 'no unit'}: {r['cases']} cases ({shown}) over "
                       f"{r['overlap_from']}–{r['overlap_to']} ({r['overlap_quarters']} quarter"
                       f"{'s' if r['overlap_quarters'] != 1 else ''}): {amount}"
                       + (f"; {r['note']}" if r["note"] else ""))
        if len(g) > top:
            rest = g.iloc[int(top):]
            more = "; ".join(f"{format_money(v, cur)}" for cur, v in
                             rest.groupby("currency")["amount_at_stake"].sum(min_count=1).items()
                             if cur and not pd.isna(v))
            out.append(f"  … and {len(rest)} more group(s)" + (f" ({more} at stake)" if more else "") + ".")
        return out

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        """JSON-ready: ``{"groups": [...], "pairs": [...], "claims", "summary"}`` (``top`` groups when given).

        NaN becomes None.
        """
        import json

        g = self.groups if top is None else self.groups.head(top)
        return {"claims": self.claims, "groups_total": len(self.groups),
                "groups": json.loads(g.to_json(orient="records")),
                "pairs": json.loads(self.pairs.to_json(orient="records")), "summary": self.text(top or 10)}


def find_double_counting(portfolio: Portfolio | Iterable[BusinessCase], synonyms: Mapping[str, str] | None = None,
                         pair_limit: int | None = PAIR_LIMIT) -> DoubleCounting:
    """Double counting per KPI group: linear in the claimed quarters, never in the number of pairs.

    Parameters
    ----------
    portfolio : Portfolio or iterable of BusinessCase
    synonyms : mapping, optional
        Passed to :func:`normalise_kpi` (e.g. ``{"call centre": "contact centre"}``).
    pair_limit : int or None, default :data:`PAIR_LIMIT`
        Keep the pair-level detail of groups with at most this many overlapping claims (None = every
        group: quadratic in the size of the largest group).

    Returns
    -------
    DoubleCounting

    Examples
    --------
    Three cases claim 100 of the same KPI in the same quarter: 200 is claimed more than once (only
    100 can be real), not the 300 that adding the three pairs would give.

    >>> from vmo_lib.model import make_case
    >>> mk = lambda i: make_case({"case_id": i, "org_unit": "Ops", "first_period": "2026Q1", "horizon": 1},
    ...     benefits=[{"line_id": "B1", "name": "Hours", "kpi": "Hours released", "amounts": [100]}])
    >>> dc = find_double_counting([mk("A"), mk("B"), mk("C")])
    >>> float(dc.groups.iloc[0]["amount_at_stake"]), float(dc.pairs["amount_at_stake"].sum())
    (200.0, 300.0)
    """
    claims, cells = _claims(portfolio, synonyms)
    if claims.empty or cells.empty:
        return DoubleCounting(pd.DataFrame(columns=list(GROUP_COLUMNS)), pd.DataFrame(columns=list(PAIR_COLUMNS)),
                              len(claims), pair_limit)
    gkey = pd.MultiIndex.from_frame(claims[["kpi_key", "unit_key"]])
    claims["group"] = pd.factorize(gkey)[0]
    cl_group = claims["group"].to_numpy()
    cl_case = claims["case_ix"].to_numpy()
    cells["group"] = cl_group[cells["claim"].to_numpy()]
    cells["case"] = cl_case[cells["claim"].to_numpy()]
    # each case's claim per (group, quarter): its lines added
    per_case = cells.groupby(["group", "q", "case"], sort=True, observed=True)["amount"].sum().reset_index()
    per_q = per_case.groupby(["group", "q"], sort=False)["amount"].agg(["size", "sum", "max"])
    shared = per_q[per_q["size"] >= 2]
    if shared.empty:
        return DoubleCounting(pd.DataFrame(columns=list(GROUP_COLUMNS)), pd.DataFrame(columns=list(PAIR_COLUMNS)),
                              len(claims), pair_limit)
    stake_q = (shared["sum"] - shared["max"]).rename("stake")
    by_group = stake_q.groupby(level="group").agg(["sum", "size"])
    qs = shared.reset_index().groupby("group")["q"].agg(["min", "max"])
    # the claims involved: a cell in a shared (group, quarter)
    shared_keys = pd.MultiIndex.from_frame(shared.reset_index()[["group", "q"]])
    in_shared = pd.MultiIndex.from_arrays([cells["group"], cells["q"]]).isin(shared_keys)
    involved = np.unique(cells["claim"].to_numpy()[in_shared])
    inv = claims.iloc[involved].sort_values(["group", "case_id", "line_id"], kind="stable")
    inv["case_line"] = inv["case_id"] + " " + inv["line_id"]
    g = inv.groupby("group", sort=False)
    first = g[["kpi_key", "org_unit", "kpi"]].first()
    n_claims = g.size()
    curs = g["currency"].agg(lambda s: sorted(set(s)))
    grp = first.index.to_numpy()
    same = curs.map(len).to_numpy() == 1
    amount = np.where(same, by_group["sum"].reindex(grp).to_numpy(), np.nan)
    note = np.where(same, "", ["different currencies (" + ", ".join(c) + "): amount not compared" for c in curs])
    note = np.where(same & (amount == 0), _NOT_MONETISED, note)
    detail = np.ones(len(grp), dtype=bool) if pair_limit is None else (n_claims.to_numpy() <= pair_limit)
    groups = pd.DataFrame({
        "kpi_key": first["kpi_key"].to_numpy(), "org_unit": first["org_unit"].to_numpy(), "kpi": first["kpi"].to_numpy(),
        "cases": g["case_id"].nunique().to_numpy(), "claims": n_claims.to_numpy(),
        "case_ids": g["case_id"].agg(lambda s: ", ".join(dict.fromkeys(s))).to_numpy(),
        "lines": g["case_line"].agg(", ".join).to_numpy(),
        "overlap_from": [_quarter_label(int(q)) for q in qs["min"].reindex(grp)],
        "overlap_to": [_quarter_label(int(q)) for q in qs["max"].reindex(grp)],
        "overlap_quarters": by_group["size"].reindex(grp).to_numpy().astype(int), "amount_at_stake": amount,
        "currency": [c[0] if len(c) == 1 else "" for c in curs], "note": note, "pair_detail": detail,
    })
    pair_rows: list[dict[str, Any]] = []
    small = set(grp[detail].tolist())
    if small:
        sub = inv[inv["group"].isin(small)]
        sc = cells[cells["claim"].isin(sub.index)]
        quarters = {int(k): dict(zip(v["q"].tolist(), v["amount"].tolist(), strict=True))
                    for k, v in sc.groupby("claim", sort=False)}
        for _, members in sub.groupby("group", sort=False):
            pair_rows.extend(_pairs(members, quarters))
    groups = groups.sort_values(
        ["amount_at_stake", "cases", "kpi_key", "org_unit"], ascending=[False, False, True, True], kind="stable",
        na_position="last").reset_index(drop=True)
    pairs = pd.DataFrame(pair_rows, columns=list(PAIR_COLUMNS))
    if len(pairs):
        pairs = pairs.sort_values(["amount_at_stake"], ascending=False, kind="stable",
                                  na_position="last").reset_index(drop=True)
    return DoubleCounting(groups, pairs, len(claims), pair_limit)


def _pairs(group: pd.DataFrame, quarters: Mapping[int, Mapping[int, float]]) -> list[dict[str, Any]]:
    """Pairwise detail of one small group (claims of different cases whose quarters overlap)."""
    ids = group.index.to_numpy()
    recs = group.to_dict("records")
    out = []
    for i in range(len(recs)):
        for j in range(i + 1, len(recs)):
            a, b = recs[i], recs[j]
            if a["case_id"] == b["case_id"]:
                continue
            qa, qb = quarters.get(int(ids[i]), {}), quarters.get(int(ids[j]), {})
            overlap = sorted(set(qa) & set(qb))
            if not overlap:
                continue
            same = a["currency"] == b["currency"]
            stake = sum(min(qa[o], qb[o]) for o in overlap) if same else math.nan
            note = "" if same else f"different currencies ({a['currency']}, {b['currency']}): amount not compared"
            if same and stake == 0:
                note = _NOT_MONETISED
            out.append({
                "kpi_key": a["kpi_key"], "org_unit": a["org_unit"], "case_a": a["case_id"], "line_a": a["line_id"],
                "benefit_a": a["name"], "kpi_a": a["kpi"], "case_b": b["case_id"], "line_b": b["line_id"],
                "benefit_b": b["name"], "kpi_b": b["kpi"], "overlap_from": _quarter_label(overlap[0]),
                "overlap_to": _quarter_label(overlap[-1]), "overlap_quarters": len(overlap),
                "amount_at_stake": float(stake), "currency": a["currency"] if same else "", "note": note,
            })
    return out


def double_counting(portfolio: Portfolio | Iterable[BusinessCase], synonyms: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Transitional: every overlapping pair of claims (columns :data:`PAIR_COLUMNS`).

    The pair table grows with the square of a KPI group's size (4.84 million pairs on 1,000
    generated cases): use :func:`find_double_counting` (one row per KPI group, pairs of small
    groups only) for reports. Kept while the CLI, packs and notebooks move to it.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> a = make_case({"case_id": "A", "org_unit": "Sales", "first_period": "2026Q1", "horizon": 4},
    ...     benefits=[{"line_id": "B1", "name": "Calls", "kpi": "Inbound calls", "amounts": [0, 10, 10, 10]}])
    >>> b = make_case({"case_id": "B", "org_unit": "Sales", "first_period": "2026Q3", "horizon": 4},
    ...     benefits=[{"line_id": "B9", "name": "Deflect", "kpi": "inbound  CALLS", "amounts": [4, 40, 4, 4]}])
    >>> d = double_counting([a, b]).iloc[0]
    >>> d["case_a"], d["case_b"], d["overlap_from"], d["overlap_to"], float(d["amount_at_stake"])
    ('A', 'B', '2026Q3', '2026Q4', 14.0)
    """
    return find_double_counting(portfolio, synonyms, pair_limit=None).pairs
