"""Movement between review quarters: trend, what changed, forecast drift, decisions followed.

Pure functions on the history's tables (:mod:`vmo_lib.history.records`): a mapping with
``case_quarter``, ``line_quarter`` and ``period_quarter`` DataFrames holding the rows of one or more
cases over one or more review quarters, whatever their source (the DuckDB store, a pickle written by
the batch, or rows just computed by :func:`~vmo_lib.history.records.records_from_review`). Nothing
here recomputes a review: every figure is a recorded figure of some quarter, or a difference of two.

Rules (stated once, here)
-------------------------
*Previous quarter.* The latest recorded quarter before the quarter looked at (quarters need not be
consecutive; a case missing from a quarter is compared with the last quarter it was recorded in).

*What changed* (:func:`what_changed`), between the previous quarter and this one:

* ``new actual``: a line and period whose recorded source became ``actual`` (amount = the actual);
  ``actual restated``: an actual already recorded whose amount changed (amount = the change);
* ``forecast revision``: a line whose expected (outlook) total or forecast total moved by more than
  :data:`TOLERANCE` (amount = change of the expected total; ``forecast_change`` = change of the
  forecast total); ``new line`` / ``line removed``: a line recorded in only one of the two quarters;
* ``re-baseline``: the baseline in force changed (amount = change of the NPV in force);
* ``status change``: verdict, RAG, decision or the case's lifecycle status changed;
* ``new warning``: a validation warning not recorded the quarter before.

*Forecast drift* (:func:`forecast_drift`): for every benefit line and quarter, its expected total and
the first period in which its outlook expects money. A quarter-on-quarter comparison is a **slip**
when the expected total fell by more than :data:`SLIP_SHARE` of the previous total (and more than
:data:`TOLERANCE`) or the expected start moved later (or vanished: no money expected any more). A
benefit is **flagged** when the last two comparisons (previous quarter → this, and the one before)
were both slips: "slipped two quarters running".

*Was last quarter's decision followed?* (:func:`decision_followed`): the previous quarter's decision,
judged on this quarter's record:

* ``stop``: followed when the case is now closed or cancelled, or no cost was reported for any
  period after the previous review period (no spend since);
* ``re-plan``: followed when the baseline in force changed (a re-baseline approved since);
* ``recover``: followed when the RAG improved (red → amber/green, amber → green) or the expected NPV
  rose by more than :data:`TOLERANCE`;
* ``continue``, ``not started``, ``closed``: nothing needed;
* otherwise: ``not yet``.

*Portfolio value by quarter* (:func:`portfolio_by_quarter`): sums of the cases' recorded figures per
quarter **and currency**, each case on its own basis (its own currency, discount date, rate and price
base) — the figures of each case's own pack, not restated to the portfolio's one basis
(:mod:`vmo_lib.portfolio.basis` needs the workbooks, which the history does not keep).

Examples
--------
>>> from vmo_lib.model import make_case
>>> from vmo_lib.analysis.review import review_case
>>> from vmo_lib.history.records import records_from_review
>>> def quarter(q, actuals, forecast):
...     case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.0},
...         benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 50, 50, 50]}],
...         actuals=actuals, forecast=forecast)
...     return records_from_review(review_case(case, q, iterations=0))
>>> h = concat_frames([quarter("2026Q1", [], []),
...     quarter("2026Q2", [{"period": "2026Q2", "line_id": "B1", "amount": 40}], [])])
>>> trend(h)[["quarter", "expected_npv"]].values.tolist()
[['2026Q1', 150.0], ['2026Q2', 140.0]]
>>> what_changed(h)[["kind", "line_id", "amount", "detail"]].values.tolist()[:2]
[['new actual', 'B1', 40.0, 'benefit actual reported for 2026Q2'], ['forecast revision', 'B1', -10.0, 'benefit expected total (actuals against the outlook)']]
>>> what_changed(h).query("kind == 'status change'")[["detail", "before", "after"]].values.tolist()[0]
['verdict', 'on track', 'at risk']
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.formatting import format_money, is_missing

__all__ = [
    "CHANGE_COLUMNS",
    "DRIFT_COLUMNS",
    "SLIP_SHARE",
    "STATUS_FIELDS",
    "TOLERANCE",
    "TREND_COLUMNS",
    "case_ids",
    "concat_frames",
    "decision_followed",
    "drift_flags",
    "forecast_drift",
    "index_movement",
    "load_history",
    "one_case",
    "portfolio_by_quarter",
    "previous_quarter",
    "quarters",
    "split_by_case",
    "status_by_quarter",
    "trend",
    "what_changed",
]

#: Money changes at or below this (in the case's currency) are not movement (rounding noise).
TOLERANCE = 0.5
#: A fall of the expected total larger than this share of the previous total is a slip.
SLIP_SHARE = 0.005
#: The status fields whose change is listed (column → how the list names it).
STATUS_FIELDS = {"verdict": "verdict", "rag": "RAG", "decision": "decision", "case_status": "case status"}
#: Columns of :func:`trend`.
TREND_COLUMNS = ("case_id", "quarter", "currency", "approved_npv", "in_force_npv", "expected_npv", "forward_npv",
                 "realisation_pct", "verdict", "rag", "decision", "case_status", "baseline_in_force")
#: Columns of :func:`what_changed`.
CHANGE_COLUMNS = ("case_id", "kind", "line_id", "name", "period", "before", "after", "amount",
                  "forecast_change", "detail")
#: Columns of :func:`forecast_drift`.
DRIFT_COLUMNS = ("case_id", "line_id", "name", "quarter", "expected_total", "expected_start", "total_change",
                 "start_shift", "slip", "slipped_twice")

_RAG_RANK = {"red": 0, "amber": 1, "green": 2}
_TABLES = ("case_quarter", "line_quarter", "period_quarter")


# --------------------------------------------------------------------------------------------------
# frames: shape helpers
# --------------------------------------------------------------------------------------------------
def concat_frames(parts: Iterable[Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Concatenate several record sets (e.g. one per quarter) into one, sorted by quarter and case.

    Parameters
    ----------
    parts : iterable of mapping
        Each as returned by :func:`~vmo_lib.history.records.records_from_review`.

    Returns
    -------
    dict of str to pandas.DataFrame
    """
    parts = list(parts)
    out = {}
    for t in _TABLES:
        frames = [p[t] for p in parts if p.get(t) is not None and len(p[t])]
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if len(df):
            df = df.sort_values(["quarter", "case_id"], kind="stable").reset_index(drop=True)
        out[t] = df
    return out


def _table(frames: Mapping[str, pd.DataFrame] | None, name: str) -> pd.DataFrame:
    df = None if frames is None else frames.get(name)
    return df if df is not None else pd.DataFrame()


#: The columns the movement analyses read (the wide columns, e.g. the review JSON, are dropped first).
_USED = {
    "case_quarter": ("quarter", "case_id", "period", "currency", "case_status", "decision", "decision_reason",
                     "verdict", "rag", "baseline_in_force", "approved_npv", "in_force_npv", "expected_npv",
                     "forward_npv", "realisation_pct", "benefit_actual_to_date", "benefit_plan_to_date", "warnings"),
    "line_quarter": ("quarter", "case_id", "line_id", "kind", "name", "expected_total", "expected_start",
                     "forecast_total"),
    "period_quarter": ("quarter", "case_id", "line_id", "kind", "period", "amount", "source"),
}


def _slim(frames: Mapping[str, pd.DataFrame] | None) -> dict[str, pd.DataFrame]:
    out = {}
    for t in _TABLES:
        df = _table(frames, t)
        keep = [c for c in _USED[t] if c in df.columns]
        out[t] = df[keep] if len(keep) < len(df.columns) else df
    return out


def quarters(frames: Mapping[str, pd.DataFrame] | None) -> list[str]:
    """The review quarters recorded, oldest first.

    >>> quarters({"case_quarter": pd.DataFrame({"quarter": ["2026Q2", "2026Q1", "2026Q2"]})})
    ['2026Q1', '2026Q2']
    """
    cq = _table(frames, "case_quarter")
    return sorted({str(q) for q in cq["quarter"]}) if "quarter" in cq else []


def case_ids(frames: Mapping[str, pd.DataFrame] | None) -> list[str]:
    """The case ids recorded, sorted."""
    cq = _table(frames, "case_quarter")
    return sorted({str(c) for c in cq["case_id"]}) if "case_id" in cq else []


def one_case(frames: Mapping[str, pd.DataFrame], case_id: str) -> dict[str, pd.DataFrame]:
    """The rows of one case."""
    out = {}
    for t in _TABLES:
        df = _table(frames, t)
        out[t] = df[df["case_id"].astype(str) == str(case_id)].reset_index(drop=True) if "case_id" in df else df
    return out


def split_by_case(frames: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, pd.DataFrame]]:
    """The rows of every case, by case id (one pass over each table)."""
    ids = case_ids(frames)
    out: dict[str, dict[str, pd.DataFrame]] = {cid: {} for cid in ids}
    for t in _TABLES:
        df = _table(frames, t)
        groups = ({str(k): g.reset_index(drop=True) for k, g in df.groupby(df["case_id"].astype(str), sort=False)}
                  if "case_id" in df and len(df) else {})
        for cid in ids:
            out[cid][t] = groups.get(cid, df.iloc[0:0])
    return out


def previous_quarter(frames: Mapping[str, pd.DataFrame], quarter: str | None = None) -> str | None:
    """The latest recorded quarter before ``quarter`` (default: before the latest), or None.

    >>> previous_quarter({"case_quarter": pd.DataFrame({"quarter": ["2025Q4", "2026Q2"]})})
    '2025Q4'
    """
    qs = quarters(frames)
    if not qs:
        return None
    q = quarter or qs[-1]
    earlier = [x for x in qs if x < q]
    return earlier[-1] if earlier else None


def _current(frames: Mapping[str, pd.DataFrame], quarter: str | None) -> str | None:
    qs = quarters(frames)
    if quarter is None:
        return qs[-1] if qs else None
    return str(quarter)


def load_history(path: str | Path | None) -> dict[str, pd.DataFrame] | None:
    """The history frames the batch handed to a notebook (``history_file``), or None without one.

    Uses :func:`vmo_lib.history.store.load_frames` when the store module provides it; until then reads
    the pickle (a mapping of the three tables) directly. The file is one the batch itself wrote into
    the run's work folder, never a user's file.
    """
    if path in (None, ""):
        return None
    try:
        from vmo_lib.history import store  # type: ignore[attr-defined]
    except ImportError:
        store = None
    loader = getattr(store, "load_frames", None)
    if loader is not None:
        return loader(path)
    with open(path, "rb") as fh:
        data = pickle.load(fh)
    return None if data is None else {t: data.get(t, pd.DataFrame()) for t in _TABLES}


# --------------------------------------------------------------------------------------------------
# trend and status by quarter
# --------------------------------------------------------------------------------------------------
def trend(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Headline figures by case and quarter (:data:`TREND_COLUMNS`), oldest quarter first.

    The approved, in-force, expected and forward NPVs and the realisation % (benefits actual over
    plan to date, a fraction) exactly as each quarter's review recorded them.
    """
    cq = _table(frames, "case_quarter")
    if not len(cq):
        return pd.DataFrame(columns=list(TREND_COLUMNS))
    t = cq[[c for c in TREND_COLUMNS if c in cq]].copy()
    return t.sort_values(["case_id", "quarter"], kind="stable").reset_index(drop=True)


def status_by_quarter(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Verdict, RAG, decision (and its reason), lifecycle status and baseline in force by quarter."""
    cq = _table(frames, "case_quarter")
    cols = ["case_id", "quarter", "verdict", "rag", "decision", "decision_reason", "case_status", "baseline_in_force"]
    if not len(cq):
        return pd.DataFrame(columns=cols)
    return cq[cols].sort_values(["case_id", "quarter"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# what changed since last quarter
# --------------------------------------------------------------------------------------------------
def _f(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def _moved(a: float, b: float) -> bool:
    """Whether two recorded amounts differ by more than the tolerance (a NaN on one side only counts)."""
    if math.isnan(a) and math.isnan(b):
        return False
    if math.isnan(a) or math.isnan(b):
        return True
    return abs(b - a) > TOLERANCE


def _warnings(v: Any) -> list[str]:
    if is_missing(v):
        return []
    try:
        out = json.loads(str(v))
    except ValueError:
        return [str(v)]
    return [str(x) for x in out] if isinstance(out, list) else [str(out)]


def _blank(v: Any) -> bool:
    return is_missing(v)


def _pairs(cq: pd.DataFrame, q: str) -> pd.DataFrame:
    """``case_id, prev_quarter`` of every case recorded at ``q`` with an earlier quarter."""
    cid = cq["case_id"].astype(str)
    now = set(cid[cq["quarter"] == q])
    before = cq[(cq["quarter"] < q) & cid.isin(now)]
    prev = before.groupby(before["case_id"].astype(str), sort=True)["quarter"].max()
    return pd.DataFrame({"case_id": prev.index.astype(str), "prev_quarter": prev.to_numpy().astype(str)})


def _at(df: pd.DataFrame, pairs: pd.DataFrame, which: str) -> pd.DataFrame:
    """Rows of ``df`` of each paired case at its current quarter (``which="now"``, column ``quarter``
    equal to the pair's) or its previous quarter (``"prev"``)."""
    d = df.assign(case_id=df["case_id"].astype(str))
    if which == "now":
        return d[d["case_id"].isin(set(pairs["case_id"]))]
    return d.merge(pairs.rename(columns={"prev_quarter": "quarter"}), on=["case_id", "quarter"], how="inner")


def _changes(frames: Mapping[str, pd.DataFrame], q: str) -> pd.DataFrame:
    """Every case's changes between its previous quarter and ``q``, in one pass over each table."""
    cq = _table(frames, "case_quarter")
    empty = pd.DataFrame(columns=list(CHANGE_COLUMNS))
    if not len(cq):
        return empty
    pairs = _pairs(cq, q)
    if not len(pairs):
        return empty
    parts: list[pd.DataFrame] = []

    def part(order: int, df: pd.DataFrame, sub: int = 0, **cols: Any) -> None:
        if not len(df):
            return
        out = pd.DataFrame({c: cols.get(c, None) for c in CHANGE_COLUMNS}, index=df.index)
        for c in ("amount", "forecast_change"):
            if c not in cols:
                out[c] = np.nan
        out["_g"], out["_s"] = order, sub
        out["_i"] = np.arange(len(out))
        parts.append(out)

    # new actuals and restated actuals
    pe = _table(frames, "period_quarter")
    if len(pe):
        pe = pe[pe["quarter"] <= q]
        a = _at(pe[pe["quarter"] == q], pairs, "now")
        a = a[a["source"] == "actual"]
        b = _at(pe, pairs, "prev")[["case_id", "line_id", "period", "amount", "source"]]
        m = a.merge(b, on=["case_id", "line_id", "period"], how="left", suffixes=("", "_prev"))
        lq_now = _table(frames, "line_quarter")
        names = (lq_now[lq_now["quarter"] == q].assign(case_id=lambda d: d["case_id"].astype(str))
                 .drop_duplicates(["case_id", "line_id"]).set_index(["case_id", "line_id"])["name"]
                 if len(lq_now) else pd.Series(dtype=object))
        m["name"] = [names.get((c, lid)) for c, lid in zip(m["case_id"], m["line_id"], strict=True)]
        amt = pd.to_numeric(m["amount"], errors="coerce").astype(float)
        amt0 = pd.to_numeric(m["amount_prev"], errors="coerce").astype(float)
        new = (m["source_prev"] != "actual").to_numpy()
        moved = ~new & _moved_v(amt0.to_numpy(), amt.to_numpy())
        kind_text = m["kind"].astype(str).to_numpy()
        per = m["period"].astype(str).to_numpy()
        kinds = np.where(new, "new actual", "actual restated")
        keep = new | moved
        part(0, m[keep], case_id=m["case_id"][keep], kind=kinds[keep], line_id=m["line_id"][keep],
             name=m["name"][keep], period=m["period"][keep],
             before=np.where(new, np.nan, amt0)[keep], after=amt[keep],
             amount=np.where(new, amt, amt - amt0)[keep],
             detail=[f"{k} actual reported for {p}" if n else f"{k} actual for {p} restated"
                     for k, p, n in zip(kind_text[keep], per[keep], new[keep], strict=True)])

    # forecast revisions, new and removed lines
    lq = _table(frames, "line_quarter")
    if len(lq):
        a = _at(lq[lq["quarter"] == q], pairs, "now")
        b = _at(lq[lq["quarter"] < q], pairs, "prev")
        m = a.merge(b[["case_id", "line_id", "kind", "name", "expected_total", "forecast_total"]],
                    on=["case_id", "line_id"], how="outer", suffixes=("", "_prev"), indicator=True, sort=False)
        m = m.reset_index(drop=True)
        e0 = pd.to_numeric(m["expected_total_prev"], errors="coerce").astype(float).to_numpy()
        e1 = pd.to_numeric(m["expected_total"], errors="coerce").astype(float).to_numpy()
        f0 = pd.to_numeric(m["forecast_total_prev"], errors="coerce").astype(float).to_numpy()
        f1 = pd.to_numeric(m["forecast_total"], errors="coerce").astype(float).to_numpy()
        both = (m["_merge"] == "both").to_numpy()
        fmoved = _moved_v(f0, f1)
        rev = both & (_moved_v(e0, e1) | fmoved)
        r = m[rev]
        part(1, r, case_id=r["case_id"], kind="forecast revision", line_id=r["line_id"], name=r["name"],
             before=e0[rev], after=e1[rev], amount=(e1 - e0)[rev], forecast_change=(f1 - f0)[rev],
             detail=[f"{k} expected total" + ("" if fm else " (actuals against the outlook)")
                     for k, fm in zip(r["kind"].astype(str), fmoved[rev], strict=True)])
        new = (m["_merge"] == "left_only").to_numpy()
        r = m[new]
        part(1, r, case_id=r["case_id"], kind="new line", line_id=r["line_id"], name=r["name"], after=e1[new],
             amount=e1[new], detail=[f"{k} line new this quarter" for k in r["kind"].astype(str)])
        gone = (m["_merge"] == "right_only").to_numpy()
        r = m[gone]
        part(2, r, case_id=r["case_id"], kind="line removed", line_id=r["line_id"], name=r["name_prev"],
             before=e0[gone], amount=-e0[gone],
             detail=[f"{k} line no longer in the case" for k in r["kind_prev"].astype(str)])

    # re-baselines, status changes, new warnings
    now = _at(cq[cq["quarter"] == q], pairs, "now").drop_duplicates("case_id", keep="last")
    prev = _at(cq[cq["quarter"] < q], pairs, "prev").drop_duplicates("case_id", keep="last")
    m = now.merge(prev, on="case_id", suffixes=("", "_prev")).reset_index(drop=True)
    b0 = m["baseline_in_force_prev"].map(_text_or_blank)
    b1 = m["baseline_in_force"].map(_text_or_blank)
    rb = (b0 != b1).to_numpy()
    r = m[rb]
    part(3, r, case_id=r["case_id"], kind="re-baseline", before=r["baseline_in_force_prev"],
         after=r["baseline_in_force"],
         amount=(pd.to_numeric(r["in_force_npv"], errors="coerce").astype(float)
                 - pd.to_numeric(r["in_force_npv_prev"], errors="coerce").astype(float)).to_numpy(),
         detail="baseline in force changed; amount = change of the NPV in force")
    for j, (col, label) in enumerate(STATUS_FIELDS.items()):
        if col not in m:
            continue
        x0 = m[f"{col}_prev"].map(lambda v: None if _blank(v) else str(v))
        x1 = m[col].map(lambda v: None if _blank(v) else str(v))
        ch = (x0.fillna("\0") != x1.fillna("\0")).to_numpy()
        r = m[ch]
        part(4, r, sub=j, case_id=r["case_id"], kind="status change", before=x0[ch], after=x1[ch], detail=label)
    if "warnings" in m:
        rows = []
        for cid, w0, w1 in zip(m["case_id"], m["warnings_prev"], m["warnings"], strict=True):
            before_w = set(_warnings(w0))
            rows.extend((cid, w) for w in _warnings(w1) if w not in before_w)
        w = pd.DataFrame(rows, columns=["case_id", "detail"])
        part(5, w, case_id=w["case_id"], kind="new warning", detail=w["detail"])
    if not parts:
        return empty
    out = pd.concat(parts, ignore_index=True).sort_values(["case_id", "_g", "_s", "_i"], kind="stable")
    return out[list(CHANGE_COLUMNS)].reset_index(drop=True)


def _moved_v(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`_moved` element-wise."""
    na, nb = np.isnan(a), np.isnan(b)
    with np.errstate(invalid="ignore"):
        return (na != nb) | (~na & ~nb & (np.abs(b - a) > TOLERANCE))


def _text_or_blank(v: Any) -> str:
    return "" if _blank(v) else str(v)


def what_changed(frames: Mapping[str, pd.DataFrame], quarter: str | None = None) -> pd.DataFrame:
    """What changed in each case between its previous recorded quarter and ``quarter`` (module notes).

    Parameters
    ----------
    frames : mapping
        The history tables (one or several cases).
    quarter : str, optional
        Default: the latest recorded quarter.

    Returns
    -------
    pandas.DataFrame
        :data:`CHANGE_COLUMNS`, by case: actuals, line revisions, removed lines, re-baseline, status
        changes, new warnings; ``kind`` is one of ``new actual``, ``actual restated``,
        ``forecast revision``, ``new line``, ``line removed``, ``re-baseline``, ``status change``,
        ``new warning``; ``amount`` is in the case's currency (NaN where not money). Empty when no
        case has an earlier quarter.
    """
    q = _current(frames, quarter)
    if q is None:
        return pd.DataFrame(columns=list(CHANGE_COLUMNS))
    return _changes(_slim(frames), q)


# --------------------------------------------------------------------------------------------------
# forecast drift
# --------------------------------------------------------------------------------------------------
def _period_ordinal(label: Any) -> float:
    """Order of a period label: ``2026Q3`` → 2026*4+2, ``2026`` → 2026*4; missing → +inf (never)."""
    if _blank(label) or str(label).strip() == "":
        return math.inf
    s = str(label).strip().upper()
    try:
        if "Q" in s:
            y, i = s.split("Q", 1)
            return int(y.strip("- ")) * 4 + int(i) - 1
        return int(s.removeprefix("FY")) * 4
    except ValueError:
        return math.nan


def forecast_drift(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Each benefit's expected total and expected start by quarter, with its slips (module notes).

    Returns
    -------
    pandas.DataFrame
        :data:`DRIFT_COLUMNS`, one row per case, benefit line and quarter, oldest quarter first:
        ``total_change`` (vs the line's previous recorded quarter, NaN in its first), ``start_shift``
        (periods later, negative = earlier; NaN in the first quarter or when a start is missing),
        ``slip`` (this comparison is a slip) and ``slipped_twice`` (this and the previous comparison
        were both slips).
    """
    lq = _table(frames, "line_quarter")
    if not len(lq):
        return pd.DataFrame(columns=list(DRIFT_COLUMNS))
    b = lq[lq["kind"] == "benefit"].sort_values(["case_id", "line_id", "quarter"], kind="stable")
    if not len(b):
        return pd.DataFrame(columns=list(DRIFT_COLUMNS))
    keys = [b["case_id"].astype(str), b["line_id"].astype(str)]
    total = pd.to_numeric(b["expected_total"], errors="coerce").astype(float)
    start = b["expected_start"].astype(object).where(b["expected_start"].notna(), None)
    o = start.map(_period_ordinal).astype(float)
    first = b.groupby(keys, sort=False).cumcount().to_numpy() == 0
    prev_total = total.groupby(keys, sort=False).shift().to_numpy()
    prev_o = o.groupby(keys, sort=False).shift().to_numpy()
    t, on = total.to_numpy(), o.to_numpy()
    with np.errstate(invalid="ignore"):
        change = np.where(first, np.nan, t - prev_total)
        both = np.isfinite(on) & np.isfinite(prev_o) & ~first
        shift = np.where(both, on - prev_o, np.nan)
        fell = (change < -TOLERANCE) & (change < -SLIP_SHARE * np.abs(prev_total))
        later = ~np.isnan(on) & ~np.isnan(prev_o) & (on > prev_o)
    slip = (fell | later) & ~first
    prev_slip = pd.Series(slip, index=b.index).groupby(keys, sort=False).shift(fill_value=False).to_numpy(dtype=bool)
    return pd.DataFrame({"case_id": b["case_id"].to_numpy(), "line_id": b["line_id"].to_numpy(),
                         "name": b["name"].to_numpy(), "quarter": b["quarter"].to_numpy(),
                         "expected_total": t, "expected_start": start.map(lambda v: None if _blank(v) else str(v)).to_numpy(),
                         "total_change": change, "start_shift": shift, "slip": slip.astype(bool),
                         "slipped_twice": (slip & prev_slip).astype(bool)}, columns=list(DRIFT_COLUMNS))


def drift_flags(frames: Mapping[str, pd.DataFrame], quarter: str | None = None) -> pd.DataFrame:
    """One row per case and benefit: its drift at ``quarter`` (default the latest) and the flag.

    Columns ``case_id``, ``line_id``, ``name``, ``expected_total``, ``expected_start``,
    ``total_change``, ``start_shift``, ``slip``, ``flagged`` (slipped two quarters running, as of
    ``quarter``).
    """
    d = forecast_drift(frames)
    q = _current(frames, quarter)
    cols = ["case_id", "line_id", "name", "expected_total", "expected_start", "total_change", "start_shift",
            "slip", "flagged"]
    if not len(d) or q is None:
        return pd.DataFrame(columns=cols)
    d = d[d["quarter"] == q].rename(columns={"slipped_twice": "flagged"})
    return d[cols].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# last quarter's decision
# --------------------------------------------------------------------------------------------------
def decision_followed(frames: Mapping[str, pd.DataFrame], quarter: str | None = None,
                      case_id: str | None = None) -> dict[str, Any] | None:
    """Last quarter's decision of one case and whether it was followed (module notes).

    Parameters
    ----------
    frames : mapping
        The history tables.
    quarter : str, optional
        The quarter judged (default the latest).
    case_id : str, optional
        Needed when ``frames`` holds several cases.

    Returns
    -------
    dict or None
        ``previous_quarter``, ``quarter``, ``decision`` (last quarter's), ``decision_reason``,
        ``followed`` (``"yes"``, ``"not yet"`` or ``"nothing needed"``) and ``evidence`` (one
        sentence); None when the case has no earlier quarter.
    """
    cq = _table(frames, "case_quarter")
    if not len(cq):
        return None
    ids = sorted({str(c) for c in cq["case_id"]})
    cid = str(case_id) if case_id is not None else ids[0]
    if case_id is None and len(ids) > 1:
        raise ValueError(f"the history holds {len(ids)} cases: say which (case_id=...)")
    cq = cq[cq["case_id"].astype(str) == cid]
    q = _current({"case_quarter": cq}, quarter)
    now_rows = cq[cq["quarter"] == q]
    before = cq[cq["quarter"] < q]
    if not len(now_rows) or not len(before):
        return None
    now = now_rows.iloc[-1]
    pq = str(before["quarter"].max())
    prev = before[before["quarter"] == pq].iloc[-1]
    decision = str(prev["decision"] or "")
    out = {"case_id": cid, "previous_quarter": pq, "quarter": q, "decision": decision,
           "decision_reason": prev.get("decision_reason")}
    status = str(now.get("case_status") or "").strip().lower()
    cur = str(now.get("currency") or "")

    def m(x: float) -> str:
        return format_money(x, cur, compact=True)

    if decision == "stop":
        pe = _table(frames, "period_quarter")
        spend = 0.0
        if len(pe):
            pe = pe[(pe["case_id"].astype(str) == cid) & (pe["quarter"] == q) & (pe["kind"] == "cost")
                    & (pe["source"] == "actual")]
            p0 = _period_ordinal(prev.get("period"))
            after = [(_period_ordinal(p) > p0) for p in pe["period"]]
            spend = float(pe.loc[after, "amount"].sum()) if any(after) else 0.0
        if status in ("closed", "cancelled"):
            return {**out, "followed": "yes", "evidence": f"the case is now {status}"}
        if abs(spend) <= TOLERANCE:
            return {**out, "followed": "yes", "evidence": f"no cost reported after {prev.get('period')}"}
        return {**out, "followed": "not yet", "evidence": f"still spending: {m(spend)} of cost reported after "
                                                        f"{prev.get('period')}, and the case is {status or 'open'}"}
    if decision == "re-plan":
        b0, b1 = str(prev["baseline_in_force"] or ""), str(now["baseline_in_force"] or "")
        if b0 != b1:
            return {**out, "followed": "yes", "evidence": f"re-baselined: {b1} in force (was {b0})"}
        return {**out, "followed": "not yet", "evidence": f"no re-baseline approved since; {b1} still in force"}
    if decision == "recover":
        r0, r1 = _RAG_RANK.get(str(prev["rag"]).lower()), _RAG_RANK.get(str(now["rag"]).lower())
        e0, e1 = _f(prev["expected_npv"]), _f(now["expected_npv"])
        if r0 is not None and r1 is not None and r1 > r0:
            return {**out, "followed": "yes", "evidence": f"RAG improved from {prev['rag']} to {now['rag']}"}
        if not math.isnan(e0) and not math.isnan(e1) and e1 - e0 > TOLERANCE:
            return {**out, "followed": "yes", "evidence": f"expected NPV up by {m(e1 - e0)}"}
        return {**out, "followed": "not yet",
                "evidence": f"RAG {now['rag']} (was {prev['rag']}); expected NPV "
                            + ("unchanged" if not _moved(e0, e1) else f"down by {m(e0 - e1)}")}
    return {**out, "followed": "nothing needed", "evidence": f"{decision or 'no decision'}: no action was asked"}


# --------------------------------------------------------------------------------------------------
# index and portfolio
# --------------------------------------------------------------------------------------------------
def index_movement(frames_by_case: Mapping[str, Mapping[str, pd.DataFrame]] | Mapping[str, pd.DataFrame],
                   quarter: str | None = None) -> dict[str, dict[str, Any]]:
    """Per case, what the review index shows of its movement (a sparkline and one line of change).

    Parameters
    ----------
    frames_by_case : mapping
        ``{case_id: frames}`` (the per-case history files of a run), or one frames mapping holding
        every case.
    quarter : str, optional
        Default: each case's latest recorded quarter.

    Returns
    -------
    dict
        ``{case_id: {"quarters", "expected_npv", "approved_npv" (lists, oldest first), "currency",
        "previous_quarter", "change" (expected NPV change since then, None in a first review),
        "n_changes", "flagged" (benefits slipped two quarters running), "followed" (last decision
        followed?, None in a first review), "first_review" (bool)}}``.
    """
    if "case_quarter" in frames_by_case:
        frames = _slim(frames_by_case)  # type: ignore[arg-type]
    else:
        frames = concat_frames([_slim(one_case(fr, cid)) for cid, fr in frames_by_case.items()])
    if quarter is not None:
        frames = {k: v[v["quarter"] <= quarter] if "quarter" in v else v for k, v in frames.items()}
    t = trend(frames)
    if not len(t):
        return {}
    t = t.assign(case_id=t["case_id"].astype(str))
    latest = t.groupby("case_id", sort=False)["quarter"].max()
    counts: dict[str, int] = {}
    for q in sorted(set(latest)):                       # usually one: the run's quarter
        ch = what_changed(frames, q)
        ids = set(latest.index[latest == q])
        counts.update({c: n for c, n in ch["case_id"].astype(str).value_counts().items() if c in ids})
    d = forecast_drift(frames)
    flagged: dict[str, int] = {}
    if len(d):
        d = d.assign(case_id=d["case_id"].astype(str))
        d = d[d["quarter"].to_numpy() == latest.reindex(d["case_id"]).to_numpy()]
        flagged = d.groupby("case_id")["slipped_twice"].sum().astype(int).to_dict()
    cq = frames["case_quarter"].assign(case_id=lambda x: x["case_id"].astype(str))
    cq_by = dict(tuple(cq.groupby("case_id", sort=False)))
    pe = frames["period_quarter"]
    pe_by: dict[str, pd.DataFrame] | None = None
    out: dict[str, dict[str, Any]] = {}
    for cid, g in t.groupby("case_id", sort=False):
        q = str(g["quarter"].iloc[-1])
        exp = [_f(v) for v in g["expected_npv"]]
        first = len(g) < 2
        followed = None
        if not first:
            case_frames = {"case_quarter": cq_by[cid]}
            if str(g["decision"].iloc[-2]) == "stop":          # only "stop" reads the period rows
                if pe_by is None:
                    pe_by = dict(tuple(pe.groupby(pe["case_id"].astype(str), sort=False))) if len(pe) else {}
                case_frames["period_quarter"] = pe_by.get(cid, pe.iloc[0:0])
            followed = decision_followed(case_frames, q, case_id=cid)
        out[cid] = {
            "quarters": [str(x) for x in g["quarter"]], "expected_npv": exp,
            "approved_npv": [_f(v) for v in g["approved_npv"]],
            "currency": str(g["currency"].iloc[-1] or ""), "quarter": q,
            "previous_quarter": None if first else str(g["quarter"].iloc[-2]),
            "change": None if first else exp[-1] - exp[-2],
            "n_changes": 0 if first else int(counts.get(cid, 0)),
            "flagged": int(flagged.get(cid, 0)),
            "followed": None if followed is None else followed["followed"],
            "first_review": first,
        }
    return out


def portfolio_by_quarter(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The portfolio's approved, expected and realised value by quarter and currency (module notes).

    Returns
    -------
    pandas.DataFrame
        ``quarter``, ``currency``, ``cases``, ``approved_npv`` (sum of the approved NPVs),
        ``in_force_npv``, ``expected_npv``, ``realised`` (sum of benefits actually measured to date,
        undiscounted), ``benefit_plan_to_date``; each case on its own basis.
    """
    cq = _table(frames, "case_quarter")
    cols = ["quarter", "currency", "cases", "approved_npv", "in_force_npv", "expected_npv", "realised",
            "benefit_plan_to_date"]
    if not len(cq):
        return pd.DataFrame(columns=cols)
    t = cq.assign(realised=cq["benefit_actual_to_date"].astype(float).fillna(0.0),
                  benefit_plan_to_date=cq["benefit_plan_to_date"].astype(float).fillna(0.0),
                  currency=cq["currency"].fillna("").astype(str))
    g = t.groupby(["quarter", "currency"], sort=True).agg(
        cases=("case_id", "nunique"), approved_npv=("approved_npv", lambda s: float(np.nansum(s))),
        in_force_npv=("in_force_npv", lambda s: float(np.nansum(s))),
        expected_npv=("expected_npv", lambda s: float(np.nansum(s))),
        realised=("realised", "sum"), benefit_plan_to_date=("benefit_plan_to_date", "sum"))
    return g.reset_index()[cols]
