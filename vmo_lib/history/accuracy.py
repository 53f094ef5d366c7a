"""Estimating accuracy learned from the history: how far approvals and forecasts ended from actual.

Every function here reads the three tables of :mod:`vmo_lib.history.records` (``case_quarter``,
``line_quarter``, ``period_quarter``) for any number of cases and quarters — a dict of DataFrames, as
:meth:`vmo_lib.history.store.HistoryStore.frames` or :func:`vmo_lib.history.store.load_frames` give
them, or as a test builds by concatenating :func:`~vmo_lib.history.records.records_from_review`.

Closed cases (:func:`case_outturns`, :func:`line_outturns`)
-----------------------------------------------------------
A case counts when, in its **latest quarter on record**, its status is one of ``statuses`` (default
``closed`` only) and its whole life is known: every period of that quarter's expected outlook that is
not an actual is zero (a closed case with actuals to the end of its horizon). A cancelled case can be
counted with ``statuses=("closed", "cancelled")`` (it forecasts zero after its cancellation), but its
ratios then measure the cancellation rather than the estimate (the sample's LOYALTY-2025: cost 0.90 of
the whole-life approval because the running costs never came, benefit 0), so it is left out by default. Then, against the **original approved baseline**
(``line_quarter.original_total``, whole life, undiscounted):

* ``cost_ratio`` = actual whole-life cost ÷ approved cost; ``benefit_ratio`` likewise for benefits
  (net of dis-benefits, as the reference class counts them); a zero approved total gives NaN;
* schedule: the workbook records no actual go-live date, so the actual go-live is inferred from the
  first period with benefit actuals (net positive): ``slip_periods`` = that period − the first period
  the approved baseline expected a benefit (the plan's own lag between go-live and first benefit is
  kept), the actual go-live = approved go-live + slip, and ``schedule_ratio`` = (approved periods to
  go-live + slip) ÷ approved periods to go-live, where approved periods to go-live = ``t(go-live) + 1``
  (:func:`vmo_lib.portfolio.reference_class.history_ratios`' definition). A case with no benefit
  actual (e.g. cancelled before go-live) has no schedule figure.

Accuracy table (:func:`accuracy_table`)
---------------------------------------
Mean, median and a two-sided **t-interval for the mean ratio** (``mean ± t_(1+level)/2, n−1 · s/√n``,
``s`` the sample standard deviation; default level 95 %) of each measure, by sponsor, organisational
unit and case type (cost, benefit, schedule), and by benefit type and stated confidence (benefit
only: one ratio per case and group, summed over the case's lines of that group). ``n`` counts cases.
No figure from fewer than ``min_cases`` (default :data:`MIN_CASES`; never fewer than 2, the least an
interval needs) cases: the row says "too few".

Forecast bias of benefit owners (:func:`forecast_pairs`, :func:`owner_forecast_bias`)
------------------------------------------------------------------------------------
For each benefit line, quarter ``q`` and period ``p`` the outlook recorded at ``q`` as an owner's
``forecast`` (plan rows are not a forecast: the owner did not restate them), the actual is the amount
recorded as ``actual`` for ``p`` in the latest later quarter ``q' > q``. The pair's ratio is actual ÷
forecast (pairs with a zero forecast are left out). Per owner (as recorded at ``q``): the number of
pairs, the mean ratio and the ratio of the totals; "too few" below ``min_forecasts`` pairs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "DIMENSIONS",
    "MIN_CASES",
    "MIN_FORECASTS",
    "accuracy_report",
    "accuracy_table",
    "case_outturns",
    "forecast_pairs",
    "learned_ratios",
    "line_outturns",
    "owner_forecast_bias",
    "summarise",
]

#: Fewest cases behind any accuracy figure.
MIN_CASES = 3
#: Fewest forecast/actual pairs behind an owner's bias figure.
MIN_FORECASTS = 3
#: Groupings of :func:`accuracy_table` and the measures each applies to.
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "all": ("cost", "benefit", "schedule"),
    "sponsor": ("cost", "benefit", "schedule"),
    "org_unit": ("cost", "benefit", "schedule"),
    "case_type": ("cost", "benefit", "schedule"),
    "benefit_type": ("benefit",),
    "confidence": ("benefit",),
}
TOO_FEW = "too few"
_TOL = 0.5  # money: an outlook amount below this is zero
_TINY = 1e-9

OUTTURN_COLUMNS = (
    "case_id", "quarter", "case_status", "currency", "sponsor", "org_unit", "case_type", "approved_cost", "actual_cost",
    "cost_ratio", "approved_benefit", "actual_benefit", "benefit_ratio", "go_live_period",
    "actual_go_live_period", "slip_periods", "schedule_ratio",
)
SUMMARY_COLUMNS = ("dimension", "group", "measure", "n", "mean_ratio", "median_ratio", "ci_low", "ci_high",
                   "figure")


def _latest(frames: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Each case's rows of its latest quarter on record."""
    cq = frames["case_quarter"]
    if not len(cq):
        return cq, frames["line_quarter"].iloc[:0], frames["period_quarter"].iloc[:0]
    last = cq.sort_values("quarter").groupby("case_id", sort=False)["quarter"].last()
    key = pd.MultiIndex.from_arrays([last.index, last.to_numpy()])

    def pick(df: pd.DataFrame) -> pd.DataFrame:
        return df[pd.MultiIndex.from_frame(df[["case_id", "quarter"]]).isin(key)]

    return pick(cq), pick(frames["line_quarter"]), pick(frames["period_quarter"])


def _whole_life_known(pq: pd.DataFrame) -> pd.Series:
    """Per case: True when every non-actual amount of the outlook is zero."""
    open_ = (pq["source"] != "actual") & (pq["amount"].abs() > _TOL)
    return ~open_.groupby(pq["case_id"]).any()


def line_outturns(frames: Mapping[str, pd.DataFrame], statuses: Sequence[str] = ("closed",)) -> pd.DataFrame:
    """One row per line of each counted case (module notes): ``case_id, line_id, kind, type,
    confidence, owner, approved_total`` (original baseline) and ``actual_total`` (the actuals of the
    latest quarter on record)."""
    cq, lq, pq = _latest(frames)
    cols = ["case_id", "line_id", "kind", "type", "confidence", "owner", "approved_total", "actual_total"]
    ok_cases = set(cq.loc[cq["case_status"].isin(list(statuses)), "case_id"])
    known = _whole_life_known(pq[pq["case_id"].isin(ok_cases)])
    ok_cases = {c for c in ok_cases if bool(known.get(c, False))}
    lq = lq[lq["case_id"].isin(ok_cases)]
    pq = pq[pq["case_id"].isin(ok_cases) & (pq["source"] == "actual")]
    act = pq.groupby(["case_id", "line_id"])["amount"].sum()
    out = pd.DataFrame({
        "case_id": lq["case_id"].to_numpy(), "line_id": lq["line_id"].to_numpy(), "kind": lq["kind"].to_numpy(),
        "type": lq["type"].to_numpy(),
        "confidence": lq["confidence"].to_numpy() if "confidence" in lq else None,
        "owner": lq["owner"].to_numpy(), "approved_total": lq["original_total"].to_numpy(dtype=float),
    })
    keys = list(zip(out["case_id"], out["line_id"], strict=True))
    out["actual_total"] = [float(act.get(k, 0.0)) for k in keys]
    return out[cols].reset_index(drop=True)


def _ratio(num: float, den: float) -> float:
    return num / den if abs(den) > _TINY else math.nan


def case_outturns(frames: Mapping[str, pd.DataFrame], statuses: Sequence[str] = ("closed",)) -> pd.DataFrame:
    """Approved against actual cost, benefit and schedule of every closed case on record (module notes).

    Returns
    -------
    pandas.DataFrame
        One row per counted case, columns :data:`OUTTURN_COLUMNS`.
    """
    cq, _, pq = _latest(frames)
    lines = line_outturns(frames, statuses)
    rows = []
    meta = cq.set_index("case_id")
    for cid, g in lines.groupby("case_id", sort=True):
        m = meta.loc[cid]
        cost, ben = g[g["kind"] == "cost"], g[g["kind"] == "benefit"]
        p = pq[pq["case_id"] == cid]
        t_of = dict(zip(p["period"], p["t"], strict=False))
        label = {int(t): per for per, t in t_of.items()}
        ba = p[(p["kind"] == "benefit") & (p["source"] == "actual")].groupby("t")["amount"].sum()
        first = ba[ba > _TINY].index.min() if (ba > _TINY).any() else None
        go, start = m.get("go_live_period"), m.get("approved_benefit_start")
        slip = sched = math.nan
        actual_go = None
        if first is not None and go in t_of and start in t_of:
            slip = float(int(first) - int(t_of[start]))
            planned = max(int(t_of[go]), 0) + 1
            sched = (planned + slip) / planned
            actual_go = label.get(int(t_of[go]) + int(slip))
        ac, bc = float(cost["approved_total"].sum()), float(ben["approved_total"].sum())
        xc, xb = float(cost["actual_total"].sum()), float(ben["actual_total"].sum())
        rows.append({"case_id": cid, "quarter": m["quarter"], "case_status": m["case_status"],
                     "currency": m["currency"],
                     "sponsor": m["sponsor"], "org_unit": m["org_unit"], "case_type": m["case_type"],
                     "approved_cost": ac, "actual_cost": xc, "cost_ratio": _ratio(xc, ac),
                     "approved_benefit": bc, "actual_benefit": xb, "benefit_ratio": _ratio(xb, bc),
                     "go_live_period": go, "actual_go_live_period": actual_go, "slip_periods": slip,
                     "schedule_ratio": sched})
    return pd.DataFrame(rows, columns=list(OUTTURN_COLUMNS))


def summarise(values: Iterable[float], *, min_cases: int = MIN_CASES, level: float = 0.95) -> dict[str, object]:
    """n, mean, median and t-interval of the mean of some ratios (NaN left out); "too few" below
    ``min_cases``.

    Examples
    --------
    >>> s = summarise([1.0, 1.2, 1.4])
    >>> s["n"], round(s["mean_ratio"], 6), round(s["ci_low"], 4), round(s["ci_high"], 4)
    (3, 1.2, 0.7032, 1.6968)
    >>> summarise([1.0, 1.2])["figure"], summarise([1.0, 1.2])["mean_ratio"]
    ('too few', nan)
    """
    from scipy import stats  # lazy: scipy.stats is slow to import

    v = np.asarray([x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))],
                   dtype=float)
    n = int(v.size)
    out: dict[str, object] = {"n": n, "mean_ratio": math.nan, "median_ratio": math.nan, "ci_low": math.nan,
                              "ci_high": math.nan, "figure": TOO_FEW}
    if n < max(int(min_cases), 2):
        return out
    mean, sd = float(v.mean()), float(v.std(ddof=1))
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)
    out.update(mean_ratio=mean, median_ratio=float(np.median(v)), ci_low=mean - half, ci_high=mean + half,
               figure="")
    return out


def accuracy_table(frames: Mapping[str, pd.DataFrame], *, min_cases: int = MIN_CASES, level: float = 0.95,
                   statuses: Sequence[str] = ("closed",),
                   dimensions: Sequence[str] = tuple(DIMENSIONS)) -> pd.DataFrame:
    """How far approved cost, benefit and schedule ended from actual, by group (module notes).

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS`: one row per (dimension, group, measure); ratios are actual ÷
        approved (schedule: actual ÷ approved periods to go-live); ``figure`` is "too few" where
        ``n < min_cases`` (the figures are then NaN).
    """
    cases = case_outturns(frames, statuses)
    lines = line_outturns(frames, statuses)
    ben = lines[lines["kind"] == "benefit"]
    rows = []
    for dim in dimensions:
        measures = DIMENSIONS[dim]
        if dim in ("benefit_type", "confidence"):
            col = "type" if dim == "benefit_type" else "confidence"
            g = ben.assign(_g=ben[col].fillna("(not stated)"))
            per_case = g.groupby(["_g", "case_id"])[["approved_total", "actual_total"]].sum()
            for grp, sub in per_case.groupby(level=0, sort=True):
                ratios = [_ratio(a, b) for a, b in zip(sub["actual_total"], sub["approved_total"], strict=True)]
                rows.append({"dimension": dim, "group": grp, "measure": "benefit",
                             **summarise(ratios, min_cases=min_cases, level=level)})
            continue
        c = cases.assign(_g="all") if dim == "all" else cases.assign(_g=cases[dim].fillna("(not stated)"))
        for grp, sub in c.groupby("_g", sort=True):
            for measure in measures:
                rows.append({"dimension": dim, "group": grp, "measure": measure,
                             **summarise(sub[f"{measure}_ratio"], min_cases=min_cases, level=level)})
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def forecast_pairs(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Each benefit forecast on record with the actual later reported for its period (module notes).

    Returns
    -------
    pandas.DataFrame
        ``case_id, line_id, owner, quarter, period, forecast, actual_quarter, actual, ratio``.
    """
    cols = ["case_id", "line_id", "owner", "quarter", "period", "forecast", "actual_quarter", "actual", "ratio"]
    pq = frames["period_quarter"]
    pq = pq[pq["kind"] == "benefit"]
    fc = pq[(pq["source"] == "forecast") & (pq["amount"].abs() > _TINY)]
    act = pq[pq["source"] == "actual"].sort_values("quarter")
    if not len(fc) or not len(act):
        return pd.DataFrame(columns=cols)
    # every later actual of the same line and period; keep the latest quarter's
    m = fc[["case_id", "line_id", "quarter", "period", "amount"]].merge(
        act[["case_id", "line_id", "period", "quarter", "amount"]], on=["case_id", "line_id", "period"],
        suffixes=("", "_a"))
    m = m[m["quarter_a"] > m["quarter"]]
    m = m.sort_values("quarter_a").groupby(["case_id", "line_id", "quarter", "period"], sort=True).last().reset_index()
    lq = frames["line_quarter"][["case_id", "line_id", "quarter", "owner"]]
    m = m.merge(lq, on=["case_id", "line_id", "quarter"], how="left")
    out = pd.DataFrame({"case_id": m["case_id"], "line_id": m["line_id"], "owner": m["owner"],
                        "quarter": m["quarter"], "period": m["period"], "forecast": m["amount"].astype(float),
                        "actual_quarter": m["quarter_a"], "actual": m["amount_a"].astype(float)})
    out["ratio"] = out["actual"] / out["forecast"]
    return out[cols].sort_values(["owner", "case_id", "line_id", "quarter", "period"]).reset_index(drop=True)


def owner_forecast_bias(frames: Mapping[str, pd.DataFrame], *, min_forecasts: int = MIN_FORECASTS) -> pd.DataFrame:
    """Per benefit owner: how their forecasts compared with the actuals later reported (module notes).

    Returns
    -------
    pandas.DataFrame
        ``owner, n, cases, mean_ratio, forecast_total, actual_total, ratio_of_totals, figure``; a ratio
        below 1 means the owner forecast more than was realised. "too few" (NaN figures) below
        ``min_forecasts`` pairs.
    """
    cols = ["owner", "n", "cases", "mean_ratio", "forecast_total", "actual_total", "ratio_of_totals", "figure"]
    p = forecast_pairs(frames)
    rows = []
    for owner, g in p.assign(owner=p["owner"].fillna("(not stated)")).groupby("owner", sort=True):
        n = len(g)
        enough = n >= min_forecasts
        ft, at = float(g["forecast"].sum()), float(g["actual"].sum())
        rows.append({"owner": owner, "n": n, "cases": int(g["case_id"].nunique()),
                     "mean_ratio": float(g["ratio"].mean()) if enough else math.nan,
                     "forecast_total": ft, "actual_total": at,
                     "ratio_of_totals": _ratio(at, ft) if enough else math.nan,
                     "figure": "" if enough else TOO_FEW})
    return pd.DataFrame(rows, columns=cols)


def learned_ratios(frames: Mapping[str, pd.DataFrame], statuses: Sequence[str] = ("closed",)) -> pd.DataFrame:
    """The closed cases' ratios in the shape of :func:`vmo_lib.portfolio.reference_class.history_ratios`
    (``case_id, case_type, status, periods_reported, cost_ratio, benefit_ratio, schedule_ratio,
    slip_periods``), to pass as ``learned`` to
    :func:`~vmo_lib.portfolio.reference_class.reference_class_uplifts`."""
    c = case_outturns(frames, statuses)
    _, _, last = _latest(frames)
    rep = last[last["source"] == "actual"].groupby("case_id")["t"].nunique()
    return pd.DataFrame({
        "case_id": c["case_id"], "case_type": c["case_type"], "status": c["case_status"],
        "periods_reported": [int(rep.get(x, 0)) for x in c["case_id"]],
        "cost_ratio": c["cost_ratio"], "benefit_ratio": c["benefit_ratio"], "schedule_ratio": c["schedule_ratio"],
        "slip_periods": c["slip_periods"]})


def accuracy_report(frames: Mapping[str, pd.DataFrame], *, min_cases: int = MIN_CASES, level: float = 0.95,
                    statuses: Sequence[str] = ("closed",), min_forecasts: int = MIN_FORECASTS) -> dict[str, object]:
    """Everything ``vmo history accuracy`` and the portfolio pack show, computed once.

    Returns
    -------
    dict
        ``quarters`` (on record), ``rules`` (the stated rules and parameters, as sentences and
        values), ``closed_cases`` (:func:`case_outturns`), ``accuracy`` (:func:`accuracy_table`),
        ``owner_bias`` (:func:`owner_forecast_bias`) and ``learned`` (:func:`learned_ratios`), the
        tables as DataFrames.
    """
    cq = frames["case_quarter"]
    quarters = sorted(set(cq["quarter"])) if len(cq) else []
    closed = case_outturns(frames, statuses)
    rules = {
        "statuses": list(statuses), "min_cases": int(min_cases), "interval": f"t-interval of the mean, {level:.0%}",
        "level": float(level), "min_forecasts": int(min_forecasts),
        "ratio": "actual ÷ approved (original baseline, whole life, undiscounted), latest quarter on record",
        "whole_life": "counted only when every non-actual amount of the latest outlook is zero",
        "schedule": ("actual go-live = approved go-live + slip, slip = first period with benefit actuals − first "
                     "period the approved baseline expected a benefit (no actual go-live date is recorded); "
                     "ratio = (t(go-live) + 1 + slip) ÷ (t(go-live) + 1)"),
        "bias": ("actual ÷ forecast for each benefit period an owner forecast at quarter q, against the actual "
                 "recorded for it in the latest later quarter; plan rows are not forecasts"),
    }
    return {"quarters": quarters, "rules": rules, "closed_cases": closed,
            "accuracy": accuracy_table(frames, min_cases=min_cases, level=level, statuses=statuses),
            "owner_bias": owner_forecast_bias(frames, min_forecasts=min_forecasts),
            "learned": learned_ratios(frames, statuses)}
