"""Movement in the packs: how a case (and the portfolio) moved from one review quarter to the next.

The blocks render what :mod:`vmo_lib.history.movement` computed from the quarterly history (the
recorded figures of each quarter and their differences); none computes a figure of its own. Every
text from a workbook (line names, warnings, reasons, case ids) is escaped with :func:`html.escape`.
With a single quarter on record each block says "first review on record" instead of showing an
empty table.

Case pack: :func:`case_movement` (one call for the notebook cell) = :func:`trend_block` (chart of the
expected and forward NPV and the realisation by quarter beside the approved NPV, with alt text),
:func:`status_table`, :func:`changes_table` (what changed since last quarter), :func:`drift_table`
(forecast drift per benefit, slipped-twice flags) and :func:`decision_block` (last quarter's decision,
followed?). Index: :func:`index_cells` (a small inline SVG sparkline and one line of movement per
case, for :func:`vmo_lib.outputs.html.render_index`'s ``movement``). Portfolio pack:
:func:`portfolio_movement` (approved, expected and realised value by quarter).

Examples
--------
>>> import pandas as pd
>>> one = {"case_quarter": pd.DataFrame({"quarter": ["2026Q3"], "case_id": ["<X>"], "currency": ["GBP"],
...        "approved_npv": [1.0], "expected_npv": [1.0]})}
>>> "first review on record" in case_movement(one).html.lower()
True
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from vmo_lib.formatting import format_money, format_percent, is_missing
from vmo_lib.history import movement as mv
from vmo_lib.outputs.charts import PALETTE, currency_formatter, figure_and_axes, style_axes, thin_ticks
from vmo_lib.outputs.html import Html, table

__all__ = [
    "FIRST_REVIEW",
    "case_movement",
    "changes_table",
    "decision_block",
    "drift_table",
    "figure_html",
    "index_cells",
    "index_movement_cells",
    "portfolio_chart",
    "portfolio_movement",
    "sparkline_svg",
    "status_table",
    "trend_alt_text",
    "trend_block",
    "trend_chart",
]

#: What a block says when the history holds only this quarter.
FIRST_REVIEW = "First review on record: no earlier quarter to compare with."

_e = html.escape
_NOTE = '<p class="vmo-note" style="font-size:0.85em;color:#595959">'


def _m(x: Any, cur: str) -> str:
    return format_money(x, cur, compact=True)


def _signed(x: Any, cur: str) -> str:
    if is_missing(x):
        return "–"
    return ("+" if round(float(x), 2) > 0 else "") + _m(x, cur)


def _mpl(text: str) -> str:
    """Workbook text for a matplotlib label: a ``$`` is a dollar sign, never the start of mathtext."""
    return str(text).replace("$", r"\$")


def _first(msg: str = FIRST_REVIEW) -> Html:
    return Html(f'<p class="vmo-empty vmo-first-review">{_e(msg)}</p>')


def _case(frames: Mapping[str, pd.DataFrame] | None, case_id: str | None) -> dict[str, pd.DataFrame]:
    """The frames of one case (the only one, or ``case_id``)."""
    frames = frames or {}
    ids = mv.case_ids(frames)
    if case_id is None:
        if len(ids) > 1:
            raise ValueError(f"the history holds {len(ids)} cases: say which (case_id=...)")
        return dict(frames)
    return mv.one_case(frames, case_id)


def _quarters_upto(frames: Mapping[str, pd.DataFrame], quarter: str | None) -> list[str]:
    qs = mv.quarters(frames)
    return [q for q in qs if quarter is None or q <= quarter]


def figure_html(fig: Figure, alt: str, caption: str = "", dpi: int = 110) -> Html:
    """A matplotlib figure as an inline PNG ``<img>`` with alt text (escaped) and an optional caption."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    cap = f'<figcaption class="vmo-note">{_e(caption)}</figcaption>' if caption else ""
    return Html(f'<figure class="vmo-figure" style="margin:0 0 1em 0"><img src="data:image/png;base64,{data}" '
                f'alt="{_e(alt, quote=True)}" style="max-width:100%;height:auto">{cap}</figure>')


# --------------------------------------------------------------------------------------------------
# trend chart
# --------------------------------------------------------------------------------------------------
def trend_chart(frames: Mapping[str, pd.DataFrame], case_id: str | None = None) -> Figure:
    """Expected and forward NPV by quarter beside the approved (and in-force) NPV, realisation below.

    Parameters
    ----------
    frames : mapping
        The history tables of one case (or ``case_id`` among several).
    case_id : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: NPVs by review quarter (the case's own currency and discounting), and the
        realisation % (benefits actual over plan to date) as bars.

    Examples
    --------
    >>> import pandas as pd
    >>> t = {"case_quarter": pd.DataFrame({"quarter": ["2026Q1", "2026Q2"], "case_id": ["X", "X"],
    ...      "currency": ["GBP"] * 2, "approved_npv": [100.0, 100.0], "in_force_npv": [100.0, 100.0],
    ...      "expected_npv": [100.0, 80.0], "forward_npv": [150.0, 120.0], "realisation_pct": [None, 0.8]})}
    >>> trend_chart(t).axes[0].get_title()
    'X: value by review quarter'
    """
    t = mv.trend(_case(frames, case_id))
    cur = str(t["currency"].iloc[-1] or "") if len(t) else ""
    cid = str(t["case_id"].iloc[-1]) if len(t) else ""
    fig = Figure(figsize=(8, 4.8), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    x = list(range(len(t)))
    labels = [str(q) for q in t["quarter"]]

    def col(name: str) -> list[float]:
        return [math.nan if is_missing(v) else float(v) for v in t[name]] if name in t else [math.nan] * len(t)

    approved, in_force = col("approved_npv"), col("in_force_npv")
    ax.plot(x, approved, color=PALETTE["baseline"], linestyle="--", linewidth=1.5, label="Approved NPV")
    if any(abs(a - b) > mv.TOLERANCE for a, b in zip(approved, in_force, strict=True)
           if not (math.isnan(a) or math.isnan(b))):
        ax.step(x, in_force, where="post", color=PALETTE["plan"], linewidth=1.5, label="NPV in force (re-baseline)")
    ax.plot(x, col("expected_npv"), color=PALETTE["actual"], linewidth=2.4, marker="o", markersize=5,
            label="Expected NPV")
    ax.plot(x, col("forward_npv"), color=PALETTE["forecast"], linewidth=1.6, linestyle=(0, (4, 2)), marker="s",
            markersize=4, label="Forward NPV (what remains)")
    ax.axhline(0, color=PALETTE["muted"], linewidth=0.8)
    ax.yaxis.set_major_formatter(currency_formatter(cur))
    ax.set_ylabel(_mpl(f"NPV ({cur})"))
    ax.set_title(_mpl(f"{cid}: value by review quarter"))
    ax.legend(frameon=False, fontsize=8, loc="best")
    style_axes(ax)
    real = [v * 100 for v in col("realisation_pct")]
    ax2.bar(x, [0 if math.isnan(v) else v for v in real], color=PALETTE["actual"], width=0.5, alpha=0.8)
    for xi, v in zip(x, real, strict=True):
        ax2.annotate("–" if math.isnan(v) else f"{v:.0f}%", (xi, 0 if math.isnan(v) else v), xytext=(0, 2),
                     textcoords="offset points", ha="center", va="bottom", fontsize=8, color=PALETTE["ink"])
    ax2.axhline(100, color=PALETTE["baseline"], linestyle="--", linewidth=1)
    top = max([100.0] + [v for v in real if not math.isnan(v)])
    ax2.set_ylim(0, top * 1.25)
    ax2.set_ylabel("Realised %")
    style_axes(ax2)
    thin_ticks(ax2, labels)
    ax2.set_xlim(-0.5, max(len(x) - 0.5, 0.5))
    ax2.set_xlabel("Review quarter (dashed line at 100%: benefits to date as planned)")
    return fig


def trend_alt_text(frames: Mapping[str, pd.DataFrame], case_id: str | None = None) -> str:
    """A sentence describing the trend chart for readers who cannot see it.

    >>> import pandas as pd
    >>> t = {"case_quarter": pd.DataFrame({"quarter": ["2026Q1", "2026Q2"], "case_id": ["X", "X"],
    ...      "currency": ["GBP"] * 2, "approved_npv": [100.0, 100.0], "in_force_npv": [100.0, 100.0],
    ...      "expected_npv": [100.0, 80.0], "forward_npv": [150.0, 120.0], "realisation_pct": [None, 0.8]})}
    >>> trend_alt_text(t)
    'Trend chart of X over 2 review quarters, 2026Q1 to 2026Q2: expected NPV went from £100 to £80 against an approved NPV of £100; forward NPV £120; realisation 80% in 2026Q2.'
    """
    t = mv.trend(_case(frames, case_id))
    if not len(t):
        return "No review on record."
    cur = str(t["currency"].iloc[-1] or "")
    first, last = t.iloc[0], t.iloc[-1]
    n = len(t)
    return (f"Trend chart of {last['case_id']} over {n} review quarter{'s' if n != 1 else ''}, "
            f"{first['quarter']} to {last['quarter']}: expected NPV went from {_m(first['expected_npv'], cur)} to "
            f"{_m(last['expected_npv'], cur)} against an approved NPV of {_m(last['approved_npv'], cur)}; "
            f"forward NPV {_m(last.get('forward_npv'), cur)}; realisation "
            f"{format_percent(last.get('realisation_pct'))} in {last['quarter']}.")


def trend_block(frames: Mapping[str, pd.DataFrame], case_id: str | None = None) -> Html:
    """The trend chart as an image with alt text; "first review on record" with one quarter."""
    f = _case(frames, case_id)
    if len(mv.quarters(f)) < 2:
        return _first()
    return figure_html(trend_chart(f), trend_alt_text(f),
                       "Each point is the figure of that quarter's pack (case currency, the case's own "
                       "discounting). Realisation: benefits actually measured over plan to date.")


# --------------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------------
def status_table(frames: Mapping[str, pd.DataFrame], case_id: str | None = None) -> Html:
    """Verdict, RAG, decision, lifecycle status and baseline in force by quarter (escaped)."""
    f = _case(frames, case_id)
    if len(mv.quarters(f)) < 2:
        return _first()
    s = mv.status_by_quarter(f)
    show = s[["quarter", "verdict", "rag", "decision", "case_status", "baseline_in_force", "decision_reason"]]
    return table(show.rename(columns={"rag": "RAG", "decision_reason": "why"}), rag="RAG")


_KIND_ORDER = {"status change": 0, "re-baseline": 1, "forecast revision": 2, "new line": 3, "line removed": 4,
               "new actual": 5, "actual restated": 6, "new warning": 7}


def changes_table(frames: Mapping[str, pd.DataFrame], case_id: str | None = None,
                  quarter: str | None = None) -> Html:
    """What changed since last quarter: status changes, re-baselines, forecast revisions with their
    amounts, new actuals and new warnings (the rules of :func:`vmo_lib.history.movement.what_changed`).

    Examples
    --------
    >>> import pandas as pd
    >>> cq = pd.DataFrame({"quarter": ["2026Q1", "2026Q2"], "case_id": ["X", "X"], "currency": ["GBP"] * 2,
    ...     "verdict": ["on track"] * 2, "rag": ["green"] * 2, "decision": ["continue"] * 2,
    ...     "case_status": ["live"] * 2, "baseline_in_force": ["baseline"] * 2, "in_force_npv": [1.0, 1.0],
    ...     "warnings": ["[]", '["<script>x</script>"]']})
    >>> h = changes_table({"case_quarter": cq}).html
    >>> "<script>" in h, "&lt;script&gt;x&lt;/script&gt;" in h
    (False, True)
    """
    f = _case(frames, case_id)
    qs = _quarters_upto(f, quarter)
    if len(qs) < 2:
        return _first()
    q = qs[-1]
    cur = _currency(f, q)
    ch = mv.what_changed(f, q)
    if not len(ch):
        return Html(f'<p class="vmo-empty">Nothing changed since {_e(qs[-2])}.</p>')
    ch = ch.assign(_o=ch["kind"].map(_KIND_ORDER).fillna(9), _a=-ch["amount"].abs().fillna(0))
    ch = ch.sort_values(["_o", "_a"], kind="stable")
    rows = []
    for r in ch.itertuples(index=False):
        line = "" if is_missing(r.line_id) else f"{r.line_id} {'' if is_missing(r.name) else r.name}".strip()
        if r.kind == "status change":
            what = f"{r.detail}: {r.before or '–'} → {r.after or '–'}"
            amount = ""
        elif r.kind == "re-baseline":
            what = f"{r.before or '–'} → {r.after or '–'} (NPV in force {_signed(r.amount, cur)})"
            amount = _signed(r.amount, cur)
        elif r.kind == "forecast revision":
            fc = ("forecast total unchanged" if is_missing(r.forecast_change) or abs(r.forecast_change) <= mv.TOLERANCE
                  else f"forecast total {_signed(r.forecast_change, cur)}")
            what = f"{r.detail}: {_m(r.before, cur)} → {_m(r.after, cur)}; {fc}"
            amount = _signed(r.amount, cur)
        elif r.kind in ("new actual", "actual restated"):
            what = str(r.detail) + ("" if r.kind == "new actual" else f": {_m(r.before, cur)} → {_m(r.after, cur)}")
            amount = _m(r.after, cur) if r.kind == "new actual" else _signed(r.amount, cur)
        elif r.kind in ("new line", "line removed"):
            what = str(r.detail)
            amount = _signed(r.amount, cur)
        else:
            what = str(r.detail)
            amount = ""
        change = r.kind
        if r.kind == "forecast revision" and (is_missing(r.forecast_change) or abs(r.forecast_change) <= mv.TOLERANCE):
            change = "outlook moved"  # the expected total moved with this quarter's actuals, not a new forecast
        rows.append({"change": change, "line": line or "–", "period": "" if is_missing(r.period) else r.period,
                     "what": what, "amount": amount})
    df = pd.DataFrame(rows)
    note = (f"{_NOTE}Since {_e(qs[-2])}; amounts in {_e(cur)}. A forecast revision is a line whose owner's "
            "forecast total moved; 'outlook moved' a line whose expected total (actuals, then forecast, else plan; "
            "undiscounted) moved with this quarter's actuals while its forecast stayed the same. The amount is the "
            "change of its expected total.</p>")
    return Html(table(df, max_rows=60).html + note)


def _currency(frames: Mapping[str, pd.DataFrame], quarter: str | None = None) -> str:
    cq = frames.get("case_quarter")
    if cq is None or not len(cq) or "currency" not in cq:
        return ""
    if quarter is not None and (cq["quarter"] == quarter).any():
        cq = cq[cq["quarter"] == quarter]
    v = cq["currency"].iloc[-1]
    return "" if is_missing(v) else str(v)


def drift_table(frames: Mapping[str, pd.DataFrame], case_id: str | None = None, max_quarters: int = 6) -> Html:
    """Forecast drift per benefit: its expected total and expected start each quarter (latest
    ``max_quarters``), and a flag for benefits that slipped two quarters running (rule in
    :mod:`vmo_lib.history.movement`).

    Examples
    --------
    >>> import pandas as pd
    >>> lq = pd.DataFrame({"quarter": ["2026Q1", "2026Q2", "2026Q3"], "case_id": ["X"] * 3, "line_id": ["B1"] * 3,
    ...     "kind": ["benefit"] * 3, "name": ["<i>Fees</i>"] * 3, "expected_total": [300.0, 240.0, 200.0],
    ...     "expected_start": ["2026Q3", "2026Q3", "2026Q4"]})
    >>> cq = pd.DataFrame({"quarter": ["2026Q1", "2026Q2", "2026Q3"], "case_id": ["X"] * 3, "currency": ["GBP"] * 3})
    >>> h = drift_table({"case_quarter": cq, "line_quarter": lq}).html
    >>> "slipped two quarters running" in h, "<i>" in h
    (True, False)
    """
    f = _case(frames, case_id)
    qs = mv.quarters(f)
    if len(qs) < 2:
        return _first()
    d = mv.forecast_drift(f)
    if not len(d):
        return Html('<p class="vmo-empty">No benefit lines on record.</p>')
    cur = _currency(f)
    show_q = qs[-max_quarters:]
    head = "".join(f'<th class="num">{_e(q)}</th>' for q in show_q)
    rows = []
    n_flag = 0
    for (lid, name), g in d.groupby(["line_id", "name"], sort=True, dropna=False):
        by_q = {r.quarter: r for r in g.itertuples(index=False)}
        cells = []
        for q in show_q:
            r = by_q.get(q)
            if r is None:
                cells.append('<td class="num">–</td>')
                continue
            start = f"from {r.expected_start}" if not is_missing(r.expected_start) and r.expected_start else "(none expected)"
            style = ' style="color:#c0392b;font-weight:600"' if r.slip else ""
            tip = ""
            if r.slip:
                tip = f' title="{_e(_slip_text(r, cur), quote=True)}"'
            cells.append(f'<td class="num"{style}{tip}>{_e(_m(r.expected_total, cur))}'
                         f'<span class="vmo-drift-start">{_e(start)}</span></td>')
        last = by_q.get(qs[-1])
        if last is not None and last.slipped_twice:
            n_flag += 1
            flag = '<span class="vmo-badge rag-red">slipped two quarters running</span>'
        elif last is not None and last.slip:
            flag = '<span class="vmo-badge rag-amber">slipped this quarter</span>'
        else:
            flag = "–"
        label = f"{lid} {'' if is_missing(name) else name}".strip()
        rows.append(f"<tr><td>{_e(label)}</td>{''.join(cells)}<td>{flag}</td></tr>")
    note = (f"{_NOTE}Each cell: the benefit's expected total over its life ({_e(cur)}, undiscounted: "
            "actuals, then forecast, else plan) and the first period in which money is expected, as recorded that "
            "quarter; red = a slip since the quarter before (the total fell by more than "
            f"{mv.SLIP_SHARE:.1%} or the start moved later). Flagged: a slip in each of the last two "
            f"quarter-on-quarter comparisons. {n_flag} benefit{'s' if n_flag != 1 else ''} flagged.</p>")
    return Html(f'<table class="vmo-table vmo-drift"><thead><tr><th>Benefit</th>{head}<th>Flag</th></tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table>{note}")


def _slip_text(r: Any, cur: str) -> str:
    parts = []
    if not is_missing(r.total_change) and r.total_change < 0:
        parts.append(f"total {_signed(r.total_change, cur)}")
    if not is_missing(r.start_shift) and r.start_shift > 0:
        parts.append(f"start {int(r.start_shift)} period{'s' if r.start_shift != 1 else ''} later")
    return "; ".join(parts) or "slipped"


_FOLLOWED_CLASS = {"yes": "green", "not yet": "red", "nothing needed": "grey"}


def decision_block(frames: Mapping[str, pd.DataFrame], case_id: str | None = None,
                   quarter: str | None = None) -> Html:
    """Last quarter's decision and whether it was followed (rules in :mod:`vmo_lib.history.movement`).

    Examples
    --------
    >>> import pandas as pd
    >>> cq = pd.DataFrame({"quarter": ["2026Q1", "2026Q2"], "case_id": ["X", "X"], "currency": ["GBP"] * 2,
    ...     "period": ["2026Q1", "2026Q2"], "decision": ["re-plan", "re-plan"], "decision_reason": ["<b>why</b>", ""],
    ...     "rag": ["red", "red"], "expected_npv": [1.0, 1.0], "case_status": ["live"] * 2,
    ...     "baseline_in_force": ["baseline", "rebaseline:v2"]})
    >>> h = decision_block({"case_quarter": cq}).html
    >>> "followed" in h, "&lt;b&gt;why&lt;/b&gt;" in h, "rag-green" in h
    (True, True, True)
    """
    f = _case(frames, case_id)
    d = mv.decision_followed(f, quarter, case_id=case_id)
    if d is None:
        return _first()
    reason = "" if is_missing(d.get("decision_reason")) else f" ({d['decision_reason']})"
    followed = d["followed"]
    return Html(
        f'<p>In {_e(d["previous_quarter"])} the decision was <strong>{_e(d["decision"] or "–")}</strong>'
        f"{_e(reason)}.</p><p>Followed by {_e(d['quarter'])}? "
        f'<span class="vmo-badge rag-{_FOLLOWED_CLASS.get(followed, "grey")}">{_e(followed)}</span> '
        f"{_e(d['evidence'])}.</p>"
        f"{_NOTE}Rules: stop is followed when the case is closed or cancelled or no cost was reported "
        "since; re-plan when a re-baseline was approved since; recover when the RAG improved or the expected NPV "
        "rose; continue needs nothing; otherwise not yet.</p>")


def _upto(frames: Mapping[str, pd.DataFrame] | None, quarter: str | None) -> dict[str, pd.DataFrame]:
    """The rows of quarters up to ``quarter`` (all when None): a pack never shows a later quarter."""
    if not frames:
        return {}
    if quarter is None:
        return dict(frames)
    return {k: (v[v["quarter"] <= str(quarter)] if v is not None and "quarter" in v else v)
            for k, v in frames.items()}


def case_movement(frames: Mapping[str, pd.DataFrame] | None, case_id: str | None = None,
                  quarter: str | None = None) -> Html:
    """The case pack's movement section: trend, status by quarter, what changed, forecast drift and
    last quarter's decision, up to ``quarter`` (the pack's review quarter; default all on record).
    With one quarter on record (or none): one "first review on record" line.
    """
    frames = _upto(frames, quarter)
    f = _case(frames, case_id) if frames else {}
    qs = mv.quarters(f)
    title = "<h2>Movement since last quarter</h2>"
    if len(qs) < 2:
        where = f" ({_e(qs[-1])})" if qs else ""
        return Html(f'{title}<p class="vmo-empty vmo-first-review">{_e(FIRST_REVIEW)}{where}</p>')
    parts = [title, f'<p class="vmo-sub">From the review history: {len(qs)} quarters on record, '
                    f"{_e(qs[0])} to {_e(qs[-1])}.</p>",
             "<h3>Value by quarter</h3>", trend_block(f).html,
             "<h3>Verdict, RAG and decision by quarter</h3>", status_table(f).html,
             f"<h3>What changed since {_e(qs[-2])}</h3>", changes_table(f).html,
             "<h3>Forecast drift per benefit</h3>", drift_table(f).html,
             "<h3>Last quarter's decision: followed?</h3>", decision_block(f).html]
    return Html("".join(parts))


# --------------------------------------------------------------------------------------------------
# index: sparkline and one line of movement per case
# --------------------------------------------------------------------------------------------------
def sparkline_svg(values: list[float], reference: list[float] | None = None, *, width: int = 96,
                  height: int = 24, label: str = "") -> str:
    """A small inline SVG line of ``values`` (oldest first), ``reference`` dashed behind it.

    The label becomes the SVG's ``<title>`` and ``aria-label`` (escaped). Missing values are skipped.

    Examples
    --------
    >>> s = sparkline_svg([1.0, 3.0, 2.0], [2.0, 2.0, 2.0], label="<x>")
    >>> s.startswith("<svg") and "&lt;x&gt;" in s and "<x>" not in s
    True
    """
    pts = [(i, float(v)) for i, v in enumerate(values) if not is_missing(v)]
    ref = [(i, float(v)) for i, v in enumerate(reference or []) if not is_missing(v)]
    lab = _e(label, quote=True)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{lab}" class="vmo-spark">'
            f"<title>{lab}</title>")
    if not pts:
        return head + "</svg>"
    ys = [y for _, y in pts + ref]
    lo, hi = min(ys), max(ys)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    n = max(len(values) - 1, 1)
    pad = 3.0

    def xy(i: int, y: float) -> str:
        px = pad + (width - 2 * pad) * (i / n if len(values) > 1 else 0.5)
        py = pad + (height - 2 * pad) * (1 - (y - lo) / (hi - lo))
        return f"{px:.1f},{py:.1f}"

    # the line's colour says the direction of the last move: a fall is never drawn in the "rise" colour
    last_move = pts[-1][1] - pts[-2][1] if len(pts) > 1 else 0.0
    scale = max(abs(pts[-1][1]), abs(pts[-2][1]) if len(pts) > 1 else 0.0, 1.0)
    colour = (PALETTE["gain"] if last_move > 1e-6 * scale else PALETTE["loss"] if last_move < -1e-6 * scale
              else PALETTE["ink"])
    body = ""
    if len(ref) > 1:
        body += (f'<polyline points="{" ".join(xy(i, y) for i, y in ref)}" fill="none" '
                 f'stroke="{PALETTE["baseline"]}" stroke-width="1" stroke-dasharray="3,2"/>')
    if len(pts) > 1:
        body += (f'<polyline points="{" ".join(xy(i, y) for i, y in pts)}" fill="none" '
                 f'stroke="{colour}" stroke-width="1.6"/>')
    cx, cy = xy(*pts[-1]).split(",")
    body += f'<circle cx="{cx}" cy="{cy}" r="2.4" fill="{colour}"/>'
    return head + body + "</svg>"


def index_cells(movement: Mapping[str, Mapping[str, Any]]) -> dict[str, Html]:
    """Per case, the index's movement cell: a sparkline of the expected NPV by quarter (the approved
    NPV dashed) and one line of text, from :func:`vmo_lib.history.movement.index_movement`.

    Examples
    --------
    >>> m = {"<X>": {"quarters": ["2026Q1", "2026Q2"], "expected_npv": [100.0, 60.0], "approved_npv": [100.0, 100.0],
    ...      "currency": "GBP", "quarter": "2026Q2", "previous_quarter": "2026Q1", "change": -40.0,
    ...      "n_changes": 3, "flagged": 1, "followed": "not yet", "first_review": False}}
    >>> c = index_cells(m)["<X>"].html
    >>> "−£40 since 2026Q1" in c, "1 benefit slipping" in c, "decision not yet followed" in c
    (True, True, True)
    """
    out = {}
    for cid, d in movement.items():
        cur = str(d.get("currency") or "")
        if d.get("first_review"):
            text = "first review on record"
        else:
            bits = [f"{_signed(d.get('change'), cur)} since {d.get('previous_quarter')}"]
            if d.get("flagged"):
                n = int(d["flagged"])
                bits.append(f"{n} benefit{'s' if n != 1 else ''} slipping")
            if d.get("followed") == "not yet":
                bits.append("decision not yet followed")
            text = "; ".join(bits)
        qs = list(d.get("quarters") or [])
        label = (f"{cid}: expected NPV by quarter {qs[0]} to {qs[-1]}: "
                 + ", ".join(_m(v, cur) for v in d.get("expected_npv") or [])) if qs else str(cid)
        svg = sparkline_svg(list(d.get("expected_npv") or []), list(d.get("approved_npv") or []), label=label)
        out[str(cid)] = Html(f'<span class="vmo-movement">{svg}<span class="vmo-note" style="display:block;font-size:0.85em;color:#595959;max-width:22em">'
                             f"{_e(text)}</span></span>")
    return out


def index_movement_cells(frames_by_case: Mapping[str, Any], quarter: str | None = None) -> dict[str, Html]:
    """:func:`index_cells` of :func:`vmo_lib.history.movement.index_movement`: what the batch passes to
    ``render_index(..., movement=...)`` (``frames_by_case``: ``{case_id: frames}`` as handed to each case
    notebook, or one all-cases frames mapping)."""
    return index_cells(mv.index_movement(frames_by_case, quarter))


# --------------------------------------------------------------------------------------------------
# portfolio
# --------------------------------------------------------------------------------------------------
def portfolio_chart(frames: Mapping[str, pd.DataFrame], currency: str | None = None) -> Figure:
    """The portfolio's approved, expected and realised value by quarter, in one currency.

    Examples
    --------
    >>> import pandas as pd
    >>> cq = pd.DataFrame({"quarter": ["2026Q1", "2026Q2"], "case_id": ["A", "A"], "currency": ["GBP"] * 2,
    ...     "approved_npv": [10.0, 10.0], "in_force_npv": [10.0, 10.0], "expected_npv": [9.0, 8.0],
    ...     "benefit_actual_to_date": [0.0, 2.0], "benefit_plan_to_date": [0.0, 3.0]})
    >>> portfolio_chart({"case_quarter": cq}).axes[0].get_title()
    'Portfolio value by review quarter (GBP)'
    """
    p = mv.portfolio_by_quarter(frames)
    curs = sorted(set(p["currency"]))
    cur = currency if currency is not None else (curs[0] if curs else "")
    p = p[p["currency"] == cur]
    fig, ax = figure_and_axes(None, (8, 3.8))
    x = list(range(len(p)))
    ax.plot(x, p["approved_npv"], color=PALETTE["baseline"], linestyle="--", linewidth=1.5,
            label="Approved NPV (sum)")
    ax.plot(x, p["expected_npv"], color=PALETTE["actual"], linewidth=2.4, marker="o", markersize=5,
            label="Expected NPV (sum)")
    ax.bar(x, p["realised"], color=PALETTE["forecast"], width=0.45, alpha=0.6,
           label="Benefits realised to date (undiscounted)")
    ax.axhline(0, color=PALETTE["muted"], linewidth=0.8)
    ax.yaxis.set_major_formatter(currency_formatter(cur))
    ax.set_ylabel(_mpl(cur))
    thin_ticks(ax, [str(q) for q in p["quarter"]])
    ax.set_title(_mpl(f"Portfolio value by review quarter ({cur})"))
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.1), ncol=3)
    style_axes(ax)
    return fig


def portfolio_movement(frames: Mapping[str, pd.DataFrame] | None, quarter: str | None = None,
                       totals: pd.DataFrame | None = None) -> Html:
    """The portfolio pack's block: approved, expected and realised value by quarter (per currency),
    with the basis stated; "first review on record" with one quarter.

    ``totals`` (:attr:`vmo_lib.portfolio.review.PortfolioReview.totals`) adds, per currency, the review
    quarter's figures on the portfolio's one basis (the headline), so the two sums of the latest quarter
    are read together.

    Examples
    --------
    >>> import pandas as pd
    >>> cq = pd.DataFrame({"quarter": ["2026Q3"], "case_id": ["A"], "currency": ["GBP"],
    ...     "approved_npv": [10.0], "in_force_npv": [10.0], "expected_npv": [9.0],
    ...     "benefit_actual_to_date": [2.0], "benefit_plan_to_date": [3.0]})
    >>> "first review on record" in portfolio_movement({"case_quarter": cq}).html.lower()
    True
    """
    title = "<h2>Portfolio value by quarter</h2>"
    frames = _upto(frames, quarter)
    qs = mv.quarters(frames)
    if len(qs) < 2:
        where = f" ({_e(qs[-1])})" if qs else ""
        return Html(f'{title}<p class="vmo-empty vmo-first-review">{_e(FIRST_REVIEW)}{where}</p>')
    p = mv.portfolio_by_quarter(frames or {})
    parts = [title, f"{_NOTE}Basis: each case's figures as its own pack recorded them that quarter "
             "(its own currency, discount date, rate and price base), added up per currency; not restated to "
             "the portfolio's one basis, so these sums are a trend, not the register's totals. Realised = "
             "benefits actually measured to date, undiscounted.</p>"]
    if totals is not None and len(totals) and "restated" in totals:
        for t in totals[totals["restated"]].to_dict(orient="records"):
            cur = str(t["currency"])
            last = p[p["currency"] == cur]
            if not len(last):
                continue
            last = last.iloc[-1]
            parts.append(f"{_NOTE}{_e(str(last['quarter']))} in {_e(cur)}: the sums below (approved "
                         f"{_e(_m(last['approved_npv'], cur))}, expected {_e(_m(last['expected_npv'], cur))}) add up "
                         "each case's figures on its own basis; on the portfolio's one basis, as in the headline, the "
                         f"same cases are approved {_e(_m(t['approved_npv_pb'], cur))} and expected "
                         f"{_e(_m(t['expected_npv_pb'], cur))}.</p>")
    for cur in sorted(set(p["currency"])):
        sub = p[p["currency"] == cur]
        if len(sub) >= 2:
            fig = portfolio_chart(frames or {}, cur)
            last, first = sub.iloc[-1], sub.iloc[0]
            alt = (f"Portfolio value in {cur} by quarter, {first['quarter']} to {last['quarter']}: expected NPV "
                   f"{_m(first['expected_npv'], cur)} to {_m(last['expected_npv'], cur)} against approved "
                   f"{_m(last['approved_npv'], cur)}; realised to date {_m(last['realised'], cur)}.")
            parts.append(figure_html(fig, alt).html)
    show = p.rename(columns={"realised": "realised_to_date", "benefit_plan_to_date": "benefit_plan_to_date"})
    parts.append(table(show, money=["approved_npv", "in_force_npv", "expected_npv", "realised_to_date",
                                    "benefit_plan_to_date"], currency="currency").html)
    return Html("".join(parts))

