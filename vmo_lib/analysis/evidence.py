"""Evidence behind the benefits: claimed money against KPI movement, evidence status, forecast credibility.

Part of the benefits-realisation family (conventions in :mod:`vmo_lib.analysis.realisation`). Three
questions, answered for one case at one review period:

* **Does the KPI support the money claimed?** A benefit states how its money follows from its KPI
  (``kpi_basis`` and ``value_per_unit`` on the Benefits sheet):

  ``change``  money in a period = (measured KPI - baseline value) x value per unit, counted in the
              direction of the target (a KPI whose target is below its baseline earns as it falls);
  ``level``   money in a period = measured KPI x value per unit (the KPI is itself a volume per period).

  Every reported period with both an actual amount and a measured KPI is reconciled:
  ``difference = claimed - implied``; it is **flagged** when ``|difference| > tolerance x |implied|``
  (:attr:`vmo_lib.analysis.verdict.Thresholds.kpi_tolerance`, default 10 %, overridable). The
  benefit's to-date figures sum its reconciled periods.
* **How much of the realised value is evidenced?** Each actual carries an evidence status
  (:data:`vmo_lib.schema.EVIDENCE_STATUSES`: measured / estimated / owner's claim; blank = not
  stated). Only *measured* counts as evidenced; the share is measured ÷ all realised benefit value
  to date (benefit lines other than dis-benefits).
* **Is the outlook evidenced?** Each benefit's expected value after the review period (PV to period 0,
  as the expected NPV) is graded **evidenced** when its KPI has moved toward its target, or, its KPI
  not yet measured, when go-live has happened (an *actual go-live period* on the Case sheet at or
  before the review period); **not yet due** when nothing shows progress but nothing could yet (its
  plan starts after the review period, or, with no planned amount, its planned go-live does); otherwise
  **unevidenced** (KPI flat or moving the wrong way, or never measured although due, with no go-live
  recorded). A benefit with no KPI defined (the workbook requires one; a case built in code may lack
  it) and a dis-benefit are not graded. Enablers are free text today, so their delivery is not read. The expected NPV
  *without* the unevidenced future benefits is reported beside the expected NPV, and when more than
  :attr:`~vmo_lib.analysis.verdict.Thresholds.unevidenced_share` (default 50 %) of the future benefit
  value is unevidenced the decision reason says the outlook rests mainly on unevidenced forecasts.
  Benefits not yet due are neither (their value is reported as ``not_yet_due_future_pv``).

Examples
--------
A benefit worth £8k per FTE released per quarter, baseline 60 FTE, target 40: 51 FTE measured
means 9 released, £72k implied; £110k claimed is £38k (53 %) more than the KPI supports.

>>> from vmo_lib.model import make_case
>>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.0},
...     benefits=[{"line_id": "B1", "name": "FTE", "kpi_basis": "change", "value_per_unit": 8000,
...                "baseline_value": 60, "target_value": 40, "amounts": [0, 100000, 100000, 100000]}],
...     actuals=[{"period": "2026Q2", "line_id": "B1", "amount": 110000, "kpi_value": 51,
...               "evidence": "owner's claim"}])
>>> e = evidence_review(c, "2026Q2")
>>> r = e.by_benefit.iloc[0]
>>> float(r["implied_to_date"]), float(r["difference_to_date"]), bool(r["flagged"])
(72000.0, 38000.0, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.analysis.outlook import (
    expected_matrix,
    grid,
    memo,
    shared_discount_factors,
    shared_line_matrices,
)
from vmo_lib.analysis.verdict import Thresholds
from vmo_lib.formatting import format_money, is_missing
from vmo_lib.model import BusinessCase

__all__ = [
    "EVIDENCED",
    "GRADES",
    "EvidenceReview",
    "actual_go_live_t",
    "evidence_review",
    "go_live_shift",
    "implied_value",
    "line_attributes",
    "plain_records",
]

#: The one evidence status that counts as evidenced.
EVIDENCED = "measured"
#: Grades of a future benefit.
GRADES = ("evidenced", "unevidenced", "not yet due")
_TINY = 1e-9
_RECON_COLUMNS = ["line_id", "period", "t", "claimed", "kpi_value", "implied", "difference", "difference_pct",
                  "flagged", "evidence", "evidence_source"]


def _blank(v: Any) -> bool:
    return is_missing(v) or (isinstance(v, str) and not v.strip())


def _num(v: Any) -> float:
    try:
        return math.nan if _blank(v) else float(v)
    except (TypeError, ValueError):
        return math.nan


def plain_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a table as plain dicts: missing values (:func:`vmo_lib.formatting.is_missing` or blank
    text) become None and numpy scalars Python ones.

    The values ``df.to_dict(orient="records")`` gives, treated so, built a column at a time (a third of
    the cost on the status and evidence tables).

    Parameters
    ----------
    df : pandas.DataFrame
        A table with unique column names.

    Returns
    -------
    list of dict
    """
    names = df.columns.tolist()
    if not names:
        return [{} for _ in range(len(df))]
    columns = [[None if _blank(v) else (v.item() if hasattr(v, "item") else v) for v in col.tolist()]
               for _, col in df.items()]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def actual_go_live_t(case: BusinessCase) -> int | None:
    """Offset of the case's actual go-live period (Case sheet ``actual_go_live``), None when blank."""
    gl = case.meta.get("actual_go_live")
    if _blank(gl):
        return None
    try:
        return case.t_of(gl)
    except (TypeError, ValueError):
        return None


def go_live_shift(case: BusinessCase) -> int:
    """Periods by which go-live moved: actual go-live minus planned go-live (0 when either is blank).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> go_live_shift(make_case({"go_live_period": "2026Q2", "actual_go_live": "2026Q4"}))
    2
    """
    actual, planned = actual_go_live_t(case), case.go_live_t
    return 0 if actual is None or planned is None else int(actual - planned)


def implied_value(basis: Any, value_per_unit: Any, baseline: Any, target: Any, measured: Any) -> float:
    """Money a KPI measurement supports in one period (module notes); NaN when it cannot be worked out.

    Examples
    --------
    >>> implied_value("change", 8000, 60, 40, 51)     # 9 FTE released x £8k
    72000.0
    >>> implied_value("level", 2.5, None, None, 1200)  # 1,200 transactions online x £2.50
    3000.0
    """
    b, v, m = str(basis or "").strip().lower(), _num(value_per_unit), _num(measured)
    if math.isnan(v) or math.isnan(m):
        return math.nan
    if b == "level":
        return m * v
    if b == "change":
        base, tgt = _num(baseline), _num(target)
        if math.isnan(base):
            return math.nan
        direction = -1.0 if (not math.isnan(tgt) and tgt < base) else 1.0
        return (m - base) * direction * v
    return math.nan


def _implied_terms(ln: dict[str, Any]) -> tuple[str, float, float, float]:
    """A line's (basis, value per unit, baseline, direction) as :func:`implied_value` reads them; the
    basis is "" when no measurement can imply money (a change basis without a baseline, or no basis)."""
    b, v = str(ln.get("kpi_basis") or "").strip().lower(), _num(ln.get("value_per_unit"))
    base, tgt = _num(ln.get("baseline_value")), _num(ln.get("target_value"))
    if b == "change" and math.isnan(base):
        b = ""
    direction = -1.0 if (not math.isnan(tgt) and not math.isnan(base) and tgt < base) else 1.0
    return b, v, base, direction


def line_attributes(case: BusinessCase, ids: list[str]) -> list[dict[str, Any]]:
    """One dict of ``case.lines`` attributes per line id (what ``lines.loc[line_id]`` holds).

    Built a column at a time (Python scalars, as ``to_dict`` gives them) and, inside a
    :func:`vmo_lib.analysis.outlook.shared_work` block, once per case. The line ids of ``case.lines``
    must be unique; an id it does not hold gets a row of missing values.

    Parameters
    ----------
    case : BusinessCase
    ids : list of str
        Line ids, in the order wanted (the same list on every call for one case).

    Returns
    -------
    list of dict
    """
    def build() -> list[dict[str, Any]]:
        lines = case.lines
        at = {lid: k for k, lid in enumerate(lines["line_id"].tolist())} if "line_id" in lines else {}
        if len(at) == len(lines) and all(lid in at for lid in ids):
            # every id held once: the columns as they are, picked by position (what set_index + reindex
            # gives when nothing is missing, without copying the frame twice)
            pick = [at[lid] for lid in ids]
            names, columns = [], []
            for name, col in lines.items():
                if name != "line_id":
                    values = col.tolist()
                    names.append(name)
                    columns.append([values[k] for k in pick])
        else:  # an id missing (a row of missing values; int columns become float as reindex makes them)
            t = lines.set_index("line_id").reindex(ids)
            names = t.columns.tolist()
            columns = [t[c].tolist() for c in names]
        # zip with a plain list of names: zipping the pandas Index for every row cost ~1.5 ms a case
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)] if columns \
            else [{} for _ in ids]
    return memo("line_attrs", case, "", build)


def _benefit_attrs(case: BusinessCase, g: Any) -> dict[Any, dict[str, Any]]:
    """The ``case.lines`` attributes of each benefit line of grid ``g`` ({} for an id the lines lack
    or hold twice), as ``lines.loc[line_id].to_dict()`` gives them."""
    lids = case.lines["line_id"]
    known = set(lids.tolist())
    if lids.is_unique:
        rows = line_attributes(case, g.ids)
        return {lid: (rows[i] if lid in known else {}) for i, (lid, k) in enumerate(zip(g.ids, g.kind, strict=True))
                if k == "benefit"}
    lines = case.lines.set_index("line_id")
    return {lid: (lines.loc[lid].to_dict() if lid in lines.index and not isinstance(lines.loc[lid], pd.DataFrame)
                  else {}) for lid, k in zip(g.ids, g.kind, strict=True) if k == "benefit"}


@dataclass(frozen=True)
class EvidenceReview:
    """The evidence behind one case's benefits at one review period (module notes).

    Attributes
    ----------
    reconciliation : pandas.DataFrame
        One row per benefit and reported period with an amount and a KPI measurement, for benefits
        with a KPI basis: ``line_id, period, t, claimed, kpi_value, implied, difference`` (claimed -
        implied), ``difference_pct`` (÷ |implied|), ``flagged``, ``evidence, evidence_source``.
    by_benefit : pandas.DataFrame
        One row per benefit: ``line_id, name, kpi_basis, value_per_unit, periods_reconciled,
        claimed_to_date, implied_to_date, difference_to_date, difference_pct, flagged, wrong_way,
        realised_to_date, evidenced_to_date, evidence`` (status of its latest actual), ``future_pv,
        grade, grade_reason``.
    tolerance : float
        The reconciliation tolerance used (fraction of the implied value).
    realised, evidenced : float
        Realised benefit value to date (benefits other than dis-benefits) and its measured part.
    evidence_mix : dict
        Realised value to date by evidence status, plus ``"not stated"``.
    future_benefit_pv, unevidenced_future_pv, not_yet_due_future_pv : float
        PV (to period 0) of the expected benefits after the review period: all, unevidenced, not yet due.
    expected_npv_evidenced : float
        Expected NPV less the unevidenced future benefits (NaN until :func:`evidence_review` is given
        the expected NPV).
    go_live_shift : int
        Actual minus planned go-live, in periods (0 when no actual go-live is recorded).
    warning : str
        "" or the sentence saying the outlook rests mainly on unevidenced forecasts.
    """

    reconciliation: pd.DataFrame = field(repr=False)
    by_benefit: pd.DataFrame = field(repr=False)
    tolerance: float
    realised: float
    evidenced: float
    evidence_mix: dict[str, float]
    future_benefit_pv: float
    unevidenced_future_pv: float
    expected_npv_evidenced: float
    go_live_shift: int
    warning: str = ""
    not_yet_due_future_pv: float = 0.0

    @property
    def evidenced_pct(self) -> float:
        """Measured share of the realised value to date (NaN when nothing was realised)."""
        return self.evidenced / self.realised if abs(self.realised) > _TINY else math.nan

    @property
    def unevidenced_future_pct(self) -> float:
        """Unevidenced share of the future benefit value (NaN when no future benefit remains)."""
        fut = self.future_benefit_pv
        return self.unevidenced_future_pv / fut if abs(fut) > _TINY else math.nan

    @property
    def flagged(self) -> pd.DataFrame:
        """The benefits whose claimed money differs from what their KPI supports by more than the tolerance."""
        b = self.by_benefit
        return b[b["flagged"].astype(bool)] if len(b) else b

    def to_dict(self) -> dict[str, Any]:
        """The review keys this module adds (documented in the README's ``--json`` key table)."""
        recon = plain_records(self.by_benefit)
        return {
            "kpi_tolerance": self.tolerance, "kpi_reconciliation": recon,
            "realised_to_date": self.realised, "evidenced_to_date": self.evidenced,
            "evidenced_pct": self.evidenced_pct, "evidence_mix": dict(self.evidence_mix),
            "future_benefit_pv": self.future_benefit_pv, "unevidenced_future_pv": self.unevidenced_future_pv,
            "unevidenced_future_pct": self.unevidenced_future_pct,
            "not_yet_due_future_pv": self.not_yet_due_future_pv,
            "expected_npv_evidenced": self.expected_npv_evidenced, "go_live_shift": self.go_live_shift,
            "forecast_warning": self.warning,
        }


def evidence_review(case: BusinessCase, as_of: object, thresholds: Thresholds | None = None,
                    benefits: pd.DataFrame | None = None, expected_npv: float = math.nan,
                    view: str = "economic") -> EvidenceReview:
    """Reconcile claims with KPIs, sum the evidence status of actuals and grade the future benefits.

    Parameters
    ----------
    case : BusinessCase
        The case as known at the review date.
    as_of : str
        Review period.
    thresholds : Thresholds, optional
        ``kpi_tolerance`` and ``unevidenced_share``.
    benefits : pandas.DataFrame, optional
        :func:`vmo_lib.analysis.realisation.realisation_by_benefit` rows (their ``kpi_progress_pct``
        decides whether a KPI moves); without it no KPI counts as moving.
    expected_npv : float, optional
        The expected NPV of the review; gives ``expected_npv_evidenced`` and the warning's figures.
    view : {"economic", "cash"}

    Returns
    -------
    EvidenceReview
    """
    th = thresholds or Thresholds()
    tol = float(th.kpi_tolerance)
    g = grid(case, as_of)
    tau = g.tau
    attrs = _benefit_attrs(case, g)
    progress = {}
    if benefits is not None and len(benefits):
        progress = dict(zip(benefits["line_id"], benefits["kpi_progress_pct"].astype(float), strict=True))

    # --- actuals of benefits up to the review period, with their evidence -------------------------
    f = case.flows
    t_all = f["t"].to_numpy()
    pick = np.flatnonzero((f["scenario"].to_numpy() == "actual") & (t_all <= tau) & (f["kind"].to_numpy() == "benefit"))

    def column(name: str, numeric: bool = False) -> list[Any]:
        """The picked rows of a flows column, as iterating the filtered Series gives them."""
        if name not in f:
            return [None] * len(pick)
        v = f[name].to_numpy()[pick]
        return v.tolist() if numeric else list(v)

    recon_rows: list[dict[str, Any]] = []
    mix = {s: 0.0 for s in ("measured", "estimated", "owner's claim", "not stated")}
    realised: dict[str, float] = {}
    evidenced: dict[str, float] = {}
    latest_evidence: dict[str, tuple[int, Any]] = {}
    line_terms: dict[Any, tuple[str, float, float, float]] = {}
    for lid, period, t, amount, kpi, ev, src in zip(column("line_id"), column("period"), column("t", True),
                                                   column("amount", True), column("kpi_value", True),
                                                   column("evidence"), column("evidence_source"), strict=True):
        ln = attrs.get(lid, {})
        status = None if _blank(ev) else str(ev)
        amount = amount if type(amount) is float else _num(amount)  # a float is its own _num
        if not math.isnan(amount) and ln.get("benefit_type") != "dis-benefit":
            mix[status if status in mix else "not stated"] += amount
            realised[lid] = realised.get(lid, 0.0) + amount
            if status == EVIDENCED:
                evidenced[lid] = evidenced.get(lid, 0.0) + amount
            if lid not in latest_evidence or int(t) >= latest_evidence[lid][0]:
                latest_evidence[lid] = (int(t), status)
        if math.isnan(amount) or (type(kpi) is float and math.isnan(kpi)):
            continue  # nothing to reconcile (implied_value of a NaN measurement is NaN)
        if type(kpi) is float:  # implied_value's arithmetic with the line's terms worked out once
            terms = line_terms.get(lid)
            if terms is None:
                terms = line_terms[lid] = _implied_terms(ln)
            basis, per_unit, base, direction = terms
            implied = (math.nan if math.isnan(per_unit) else kpi * per_unit if basis == "level"
                       else (kpi - base) * direction * per_unit if basis == "change" else math.nan)
        else:
            implied = implied_value(ln.get("kpi_basis"), ln.get("value_per_unit"), ln.get("baseline_value"),
                                    ln.get("target_value"), kpi)
        if math.isnan(implied):
            continue
        diff = amount - implied
        recon_rows.append({
            "line_id": lid, "period": period, "t": int(t), "claimed": amount, "kpi_value": _num(kpi),
            "implied": implied, "difference": diff,
            "difference_pct": diff / abs(implied) if abs(implied) > _TINY else math.nan,
            "flagged": bool(abs(diff) > tol * abs(implied) + _TINY),
            "evidence": status, "evidence_source": None if _blank(src) else str(src),
        })
    recon = pd.DataFrame(recon_rows, columns=_RECON_COLUMNS).sort_values(["line_id", "t"], kind="stable")
    recon = recon.reset_index(drop=True)

    # --- the future: expected benefit value after the review period, graded ------------------------
    amount, _, _ = expected_matrix(g)
    df = shared_discount_factors(case)
    _, in_view = shared_line_matrices(case, "baseline", view)
    future = np.arange(case.horizon) > tau
    gl_t = actual_go_live_t(case)
    live = gl_t is not None and gl_t <= tau
    planned_gl = case.go_live_t if case.go_live_t is not None else 0
    # each benefit's reconciled periods, in the table's order (by t): sums over the same float64 arrays
    # the per-benefit ``recon[recon["line_id"] == lid]`` selections gave, without one mask per benefit
    positions: dict[Any, list[int]] = {}
    for k, lid in enumerate(recon["line_id"].tolist()):
        positions.setdefault(lid, []).append(k)
    recon_claimed = recon["claimed"].to_numpy()
    recon_implied = recon["implied"].to_numpy()
    in_view_ids = set(in_view.index)
    rows = []
    fut_total = unev_total = nyd_total = 0.0
    labels: list[str] = []  # case.periods, worked out once and only when a reason names a period

    def period_label(t: int) -> str:
        if not labels:
            labels.extend(case.periods)
        return labels[t]

    for i, lid in enumerate(g.ids):
        if g.kind[i] != "benefit":
            continue
        ln = attrs.get(lid, {})
        at = positions.get(lid, [])
        n_rec = len(at)
        claimed = float(recon_claimed[at].astype(float).sum()) if n_rec else 0.0
        implied = float(recon_implied[at].astype(float).sum()) if n_rec else 0.0
        diff = claimed - implied
        p = progress.get(lid, math.nan)
        fut_pv = float(amount[i, future] @ df[future]) if future.any() else 0.0
        counts = lid in in_view_ids and ln.get("benefit_type") != "dis-benefit" and not _blank(ln.get("kpi"))
        if ln.get("benefit_type") == "dis-benefit":
            grade, why = None, "dis-benefit: not graded"
        elif _blank(ln.get("kpi")):  # the workbook requires a KPI; a case built in code may have none
            grade, why = None, "no KPI defined: not graded (see the measurement gaps)"
        elif not math.isnan(p) and p > 0:
            grade, why = "evidenced", f"KPI {p:.0%} of the way to target"
        elif not math.isnan(p):
            grade, why = "unevidenced", ("KPI moved the wrong way" if p < 0 else "KPI has not moved from its baseline")
        elif live:
            grade, why = "evidenced", f"went live in {period_label(gl_t)}; KPI not yet measured"
        else:
            nz = np.flatnonzero(np.abs(g.plan[i]) > _TINY)
            due_from = int(nz[0]) if len(nz) else planned_gl
            if due_from > tau:
                grade, why = "not yet due", f"plan starts in {period_label(min(due_from, case.horizon - 1))}"
            else:
                grade, why = "unevidenced", "KPI never measured and no go-live recorded"
        if counts and abs(fut_pv) > _TINY:
            fut_total += fut_pv
            if grade == "unevidenced":
                unev_total += fut_pv
            elif grade == "not yet due":
                nyd_total += fut_pv
        rows.append({
            "line_id": lid, "name": ln.get("name"),
            "kpi_basis": None if _blank(ln.get("kpi_basis")) else ln.get("kpi_basis"),
            "value_per_unit": _num(ln.get("value_per_unit")), "periods_reconciled": n_rec,
            "claimed_to_date": claimed if n_rec else math.nan, "implied_to_date": implied if n_rec else math.nan,
            "difference_to_date": diff if n_rec else math.nan,
            "difference_pct": diff / abs(implied) if n_rec and abs(implied) > _TINY else math.nan,
            "flagged": bool(n_rec and abs(diff) > tol * abs(implied) + _TINY),
            "wrong_way": bool(not math.isnan(p) and p < 0),
            "realised_to_date": realised.get(lid, math.nan), "evidenced_to_date": evidenced.get(lid, 0.0),
            "evidence": latest_evidence.get(lid, (0, None))[1],
            "future_pv": fut_pv if counts else math.nan, "grade": grade, "grade_reason": why,
        })
    by_benefit = pd.DataFrame(rows, columns=[
        "line_id", "name", "kpi_basis", "value_per_unit", "periods_reconciled", "claimed_to_date", "implied_to_date",
        "difference_to_date", "difference_pct", "flagged", "wrong_way", "realised_to_date", "evidenced_to_date",
        "evidence", "future_pv", "grade", "grade_reason"])
    npv_ev = expected_npv - unev_total if not math.isnan(expected_npv) else math.nan
    warning = ""
    share = unev_total / fut_total if abs(fut_total) > _TINY else math.nan
    if not math.isnan(share) and share > th.unevidenced_share and unev_total > _TINY:
        cur = str(case.meta.get("currency") or "GBP")

        def m(x: float) -> str:
            return format_money(x, cur, compact=True)

        warning = (f"the outlook rests mainly on unevidenced forecasts: {m(unev_total)} of the {m(fut_total)} "
                   f"future benefits ({share:.0%}, PV) show no evidence of progress (no KPI movement toward "
                   "target, no recorded go-live)")
        if not math.isnan(npv_ev):
            warning += f"; expected NPV without them {m(npv_ev)}"
    return EvidenceReview(
        reconciliation=recon, by_benefit=by_benefit, tolerance=tol,
        realised=float(sum(realised.values())), evidenced=float(sum(evidenced.values())), evidence_mix=mix,
        future_benefit_pv=float(fut_total), unevidenced_future_pv=float(unev_total),
        expected_npv_evidenced=float(npv_ev), go_live_shift=go_live_shift(case), warning=warning,
        not_yet_due_future_pv=float(nyd_total),
    )
