"""The benefits dependency network drawn (matplotlib) and the pack blocks that show it.

:func:`network_chart` draws a :class:`~vmo_lib.analysis.network.BenefitNetwork` left to right in five
columns (enablers, business changes, benefits, investment objectives, strategic objectives), nodes ordered
within a column by the mean position of what feeds them (fewer crossing arrows), the figure growing with the
tallest column so that 40 nodes stay readable. Marked: a late enabler (red outline, "LATE" and the days),
the arrows leaving it, the benefits it puts at risk (dashed red outline, "at risk") and each benefit's RAG
(fill; red benefits also say "RED"). No graphviz: no system dependency.

:func:`benefit_map_block` is the case pack's section (the chart as an image with its alt text, the
findings in words, the late enablers and the value by objective); :func:`strategic_rollup_block` the
portfolio pack's roll-up by strategic objective. Both compute no figure: they render
:mod:`vmo_lib.analysis.network` and :mod:`vmo_lib.portfolio.network`. Every text a workbook author typed is
escaped.
"""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from vmo_lib.formatting import format_money
from vmo_lib.outputs.charts import PALETTE
from vmo_lib.outputs.html import Html, table

if TYPE_CHECKING:  # pragma: no cover
    from vmo_lib.analysis.network import BenefitNetwork

__all__ = ["benefit_map_block", "figure_html", "network_alt_text", "network_chart", "strategic_rollup_block",
           "strategic_rollup_chart"]

_COLUMNS = ("Enablers", "Business changes", "Benefits", "Investment objectives", "Strategic objectives")
_KINDS = ("enabler", "business change", "benefit", "investment objective", "strategic objective")
_FILL = {"enabler": "#dbe5f1", "business change": "#e8eef6", "investment objective": "#eeeeee",
         "strategic objective": "#e0e0e0"}
_RAG_FILL = {"green": "#d8eedf", "amber": "#fde9bf", "red": "#f4cfcb"}
_BOX_W, _BOX_H = 0.82, 0.88  # in column units / row units


def _order(net: BenefitNetwork) -> dict[str, list[str]]:
    """Nodes per column, ordered by the barycentre of their neighbours (one pass down, one pass up)."""
    g = net.graph
    cols: dict[str, list[str]] = {k: [] for k in _KINDS}
    for n in net.nodes["node_id"]:
        k = g.nodes[n].get("kind")
        cols.setdefault(k if k in cols else "enabler", []).append(n)
    for sweep in (list(_KINDS[1:]), list(reversed(_KINDS[:-1]))):
        for k in sweep:
            pos = {n: i for col in cols.values() for i, n in enumerate(col)}
            neighbours = g.predecessors if sweep[0] == _KINDS[1] else g.successors

            def key(n: str, neighbours=neighbours, pos=pos) -> tuple[float, str]:
                near = [pos[m] for m in neighbours(n) if m in pos]
                return (sum(near) / len(near) if near else math.inf, n)

            cols[k] = sorted(cols[k], key=key)
    return cols


def _label(node_id: str, name: Any, width: int = 24) -> str:
    text = f"{node_id} · {name}" if name else str(node_id)
    lines = textwrap.wrap(text, width) or [str(node_id)]
    if len(lines) > 2:
        lines = [lines[0], lines[1][: width - 1] + "…"]
    return "\n".join(lines)


def network_chart(net: BenefitNetwork, ax: Any = None, title: str | None = None) -> Figure:
    """Draw the network left to right (module notes); returns the Figure (not registered with pyplot).

    Parameters
    ----------
    net : BenefitNetwork
    ax : matplotlib Axes, optional
    title : str, optional
        Default: "<case>: benefits dependency network".
    """
    cols = _order(net)
    tallest = max([len(c) for c in cols.values()] + [1])
    if ax is None:
        fig = Figure(figsize=(15, max(3.2, 0.62 * tallest + 1.6)))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    g = net.graph
    at_risk = set(net.benefits_at_risk["node_id"]) if len(net.benefits_at_risk) else set()
    late = dict(zip(net.late_enablers["node_id"], net.late_enablers["days_late"], strict=True)) \
        if len(net.late_enablers) else {}
    orphans, idle, unserved = (set(net.orphan_benefits), set(net.enablers_without_benefit),
                               set(net.objectives_without_benefit))
    xy: dict[str, tuple[float, float]] = {}
    for x, k in enumerate(_KINDS):
        col = cols.get(k, [])
        offset = (tallest - len(col)) / 2
        for i, n in enumerate(col):
            xy[n] = (float(x), -(offset + i))
    # arrows first, under the boxes
    for a, b in g.edges():
        (x0, y0), (x1, y1) = xy[a], xy[b]
        same = abs(x0 - x1) < 1e-9
        start = (x0 + _BOX_W / 2, y0) if not same else (x0 + _BOX_W / 2, y0)
        end = (x1 - _BOX_W / 2, y1) if not same else (x1 + _BOX_W / 2, y1)
        colour = PALETTE["red"] if a in late else PALETTE["muted"]
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, lw=1.6 if a in late else 0.9,
                                     color=colour, connectionstyle="arc3,rad=-0.5" if same else "arc3,rad=0.0",
                                     shrinkA=1, shrinkB=1, zorder=1))
    for n, (x, y) in xy.items():
        d = g.nodes[n]
        kind = d.get("kind")
        rag = str(d.get("rag") or "").lower()
        fill = _RAG_FILL.get(rag, "#f2f2f2") if kind == "benefit" else _FILL.get(kind, "#f2f2f2")
        edge, lw, style = PALETTE["ink"], 0.8, "solid"
        tag = ""
        if n in late:
            edge, lw = PALETTE["red"], 2.4
            days = late[n]
            tag = "LATE" + (f" +{int(days)}d" if days == days and days > 0 else "")
        elif kind == "enabler":
            status = d.get("delivery_status")
            tag = {"delivered on time": "delivered", "no planned date": "no planned date"}.get(
                status, f"due {d['planned_delivery'].isoformat()}" if status == "due" else "")
            if n in idle:
                tag = " · ".join(t for t in (tag, "no benefit") if t)
        if kind == "benefit":
            bits = []
            if rag == "red":
                bits.append("RED")
            if n in at_risk:
                edge, lw, style = PALETTE["red"], 2.0, "dashed"
                bits.append("at risk")
            if n in orphans:
                bits.append("orphan")
            if not d.get("listed", True):
                bits.append("not on the map")
            v = d.get("value")
            if v is not None and v == v:
                bits.append(format_money(v, net.currency, compact=True))
            tag = " · ".join(bits)
        elif kind in ("investment objective", "strategic objective"):
            v = d.get("value")
            tag = format_money(v, net.currency, compact=True) if v is not None and v == v else ""
            if n in unserved:
                tag = "no benefit"
        ax.add_patch(FancyBboxPatch((x - _BOX_W / 2, y - _BOX_H / 2), _BOX_W, _BOX_H,
                                    boxstyle="round,pad=0.0,rounding_size=0.06", fc=fill, ec=edge, lw=lw,
                                    ls=style, zorder=2))
        ax.text(x, y + (0.13 if tag else 0.0), _label(n, d.get("name")), ha="center", va="center", fontsize=7.5,
                color=PALETTE["ink"], zorder=3)
        if tag:
            ax.text(x, y - _BOX_H / 2 + 0.06, tag, ha="center", va="bottom", fontsize=7, zorder=3,
                    color=PALETTE["red"] if any(w in tag for w in ("LATE", "RED", "at risk", "orphan", "no benefit"))
                    else PALETTE["muted"],
                    fontweight="bold" if ("LATE" in tag or "RED" in tag) else "normal")
    for x, head in enumerate(_COLUMNS):
        ax.text(x, 0.75, head, ha="center", va="bottom", fontsize=9, fontweight="bold", color=PALETTE["ink"])
    ax.set_xlim(-0.55, len(_KINDS) - 0.45)
    ax.set_ylim(-(tallest - 1) - 0.65, 1.15)
    ax.axis("off")
    ax.set_title(title or f"{net.case_id}: benefits dependency network (as of {net.as_of})", loc="left",
                 fontsize=11, color=PALETTE["ink"])
    handles = [Patch(fc=_RAG_FILL["green"], ec=PALETTE["ink"], label="benefit green"),
               Patch(fc=_RAG_FILL["amber"], ec=PALETTE["ink"], label="benefit amber"),
               Patch(fc=_RAG_FILL["red"], ec=PALETTE["ink"], label="benefit red"),
               Patch(fc="white", ec=PALETTE["red"], lw=2.4, label="late enabler"),
               Patch(fc="white", ec=PALETTE["red"], lw=2.0, ls="--", label="benefit at risk")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=5, frameon=False, fontsize=8)
    if not net.mapped:
        ax.text(2, -(tallest - 1) / 2, "not mapped", ha="center", va="center", fontsize=14, color=PALETTE["muted"])
    return fig


def network_alt_text(net: BenefitNetwork) -> str:
    """What the chart shows, in words (the image's alt text)."""
    kinds = net.nodes["kind"].value_counts().to_dict() if len(net.nodes) else {}
    counts = ", ".join(f"{kinds.get(k, 0)} {k}{'s' if kinds.get(k, 0) != 1 else ''}" for k in _KINDS)
    head = f"Benefits dependency network of {net.case_id} as of {net.as_of}, left to right: {counts}."
    if not net.mapped:
        return head + " The network is not mapped."
    red = [n for n, r in zip(net.nodes["node_id"], net.nodes["rag"], strict=True) if str(r).lower() == "red"]
    return " ".join([head, *net.sentences(), f"Red benefits: {', '.join(red) if red else 'none'}."])


def figure_html(fig: Figure, alt: str, dpi: int = 110) -> Html:
    """A figure as an embedded PNG with alt text (the pack stays one self-contained file)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    e = html.escape(alt, quote=True)
    return Html(f'<figure class="vmo-figure"><img src="data:image/png;base64,{data}" alt="{e}" '
                f'style="max-width:100%;height:auto"/></figure>')


def _dates(df: Any) -> Any:
    out = df.copy()
    for c in ("planned_delivery", "forecast_delivery", "actual_delivery"):
        if c in out:
            out[c] = [v.isoformat() if hasattr(v, "isoformat") else v for v in out[c]]
    for c in ("benefits_at_risk", "late_enablers", "benefits"):
        if c in out:
            out[c] = [", ".join(v) if isinstance(v, (list, tuple)) else v for v in out[c]]
    return out


def benefit_map_block(review: Any, net: BenefitNetwork | None = None) -> Html:
    """The case pack's benefits dependency network: the chart, the findings, late enablers, value by objective.

    Parameters
    ----------
    review : CaseReview
    net : BenefitNetwork, optional
        Default: :func:`vmo_lib.analysis.network.network_of_review` of ``review``.
    """
    from vmo_lib.analysis.network import network_of_review

    net = net if net is not None else network_of_review(review)
    head = Html("<h2>Benefits dependency network</h2><p>What each benefit depends on (enablers, business "
                "changes) and what it serves (investment and strategic objectives), as of the review date "
                f"{html.escape(net.review_date.isoformat())}.</p>")
    findings = Html.paragraphs(net.sentences())
    if not net.mapped:
        return Html(str(head) + str(findings))
    parts = [head, figure_html(network_chart(net), network_alt_text(net)), findings]
    cur = net.currency
    if len(net.late_enablers):
        parts.append(Html("<h4>Late enablers</h4>"))
        parts.append(table(_dates(net.late_enablers), digits={"days_late": 0}))
    parts.append(Html(f"<h4>Expected value by objective</h4><p class=\"vmo-note\">Each benefit's expected PV "
                      f"(actuals, then forecast, then plan, discounted to the first period), split equally along its "
                      f"arrows. Total {html.escape(format_money(net.total_value, cur))}; reaching no strategic "
                      f"objective {html.escape(format_money(net.unallocated_value, cur))}.</p>"))
    parts.append(table(_dates(net.by_strategic_objective), money=["value"], currency=cur,
                       empty="No strategic objective on the map."))
    parts.append(table(_dates(net.by_investment_objective), money=["value"], currency=cur,
                       empty="No investment objective on the map."))
    return Html("".join(str(p) for p in parts))


def strategic_rollup_chart(rollup: Any, currency: str = "GBP", ax: Any = None) -> Figure:
    """Horizontal bars of value by strategic objective in one currency: mapped value solid, value of cases not
    mapped hatched."""
    df = rollup[rollup["currency"] == currency] if len(rollup) else rollup
    if ax is None:
        fig = Figure(figsize=(9, max(2.2, 0.5 * len(df) + 1.2)))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    names = [textwrap.shorten(str(s), 40) for s in df["strategic_objective"]][::-1]
    mapped = df["value_mapped"].to_numpy()[::-1]
    unmapped = df["value_not_mapped"].to_numpy()[::-1]
    y = range(len(names))
    ax.barh(list(y), mapped, color=PALETTE["plan"], label="mapped (Benefit map)")
    ax.barh(list(y), unmapped, left=mapped, color="white", edgecolor=PALETTE["plan"], hatch="//",
            label="not mapped (Case sheet objective)")
    ax.set_yticks(list(y), names, fontsize=8)
    from vmo_lib.outputs.charts import currency_formatter, style_axes

    style_axes(ax)
    ax.xaxis.set_major_formatter(currency_formatter(currency))
    ax.set_xlabel(f"Expected PV of benefits ({currency})")
    ax.set_title("Benefits' expected value by strategic objective", loc="left", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return fig


def strategic_rollup_block(portfolio_review: Any) -> Html:
    """The portfolio pack's roll-up by strategic objective (:func:`vmo_lib.portfolio.network.strategic_rollup`):
    a bar chart per currency (with alt text) and the table."""
    from vmo_lib.portfolio.network import portfolio_networks, strategic_rollup

    nets = portfolio_networks(portfolio_review.reviews.values())
    df = strategic_rollup(nets)
    mapped = sorted(n.case_id for n in nets if n.mapped)
    note = Html.paragraphs([
        f"{len(mapped)} of {len(nets)} cases have a benefit map ({', '.join(mapped) or 'none'}): their benefits' "
        "value follows the map's arrows to its strategic objectives. The other cases are not mapped: their whole "
        "benefit value is shown under the strategic objective of their Case sheet, in its own column.",
        *[f"{n.case_id}: {s}" for n in nets if n.mapped for s in n.sentences()
          if s.startswith(("Enabler", "Orphan"))],
    ])
    parts: list[Any] = [Html("<h2>Benefits by strategic objective</h2>"), note]
    for cur in sorted(set(df["currency"])) if len(df) else []:
        sub = df[df["currency"] == cur]
        alt = "Expected value of benefits by strategic objective (" + cur + "): " + "; ".join(
            f"{r.strategic_objective} {format_money(r.value_total, cur, compact=True)} "
            f"({format_money(r.value_mapped, cur, compact=True)} mapped)" for r in sub.itertuples(index=False)) + "."
        parts.append(figure_html(strategic_rollup_chart(df, cur), alt))
    parts.append(table(df, money=["value_mapped", "value_not_mapped", "value_total"], currency="currency",
                       empty="No case has a benefit."))
    return Html("".join(str(p) for p in parts))
