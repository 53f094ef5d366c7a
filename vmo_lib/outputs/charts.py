"""Charts of the workbench (matplotlib), in one house style.

Every chart function takes the tables or result objects an analysis returned (it computes no figure
of its own), draws on ``ax`` when given (else on a new :class:`~matplotlib.figure.Figure` that is not
registered with pyplot, so batch runs do not accumulate open figures), and returns the Figure. Nothing
here calls ``plt.show()`` or writes files. In a notebook, a returned Figure displays itself.

House style, for every engineer adding a chart here: colours from :data:`PALETTE` only; call
:func:`style_axes` on every axes; money axes use :func:`currency_formatter` (``£1.2m``, ``£350k``);
say what the reader is looking at in the title and the axis labels, not in a legend where avoidable.

Examples
--------
>>> from vmo_lib.model import make_case
>>> from vmo_lib.analysis.realisation import case_status
>>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 4},
...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0]}],
...     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 60, 60, 60]}],
...     actuals=[{"period": "2026Q2", "line_id": "B1", "amount": 70}])
>>> s = case_status(case, "2026Q2")
>>> fig = realisation_curve(s)
>>> fig.axes[0].get_title()
'X: cumulative benefits'
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from vmo_lib.formatting import format_money as _format_money
from vmo_lib.formatting import format_percent

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes

    from vmo_lib.analysis.realisation import CaseStatus, ValueBridge
    from vmo_lib.analysis.risk import MonteCarloResult

__all__ = [
    "PALETTE",
    "alt_text",
    "currency_formatter",
    "efficient_frontier_chart",
    "format_money",
    "npv_distribution_chart",
    "npv_s_curve",
    "place_labels",
    "portfolio_mix_chart",
    "rag_table",
    "set_alt",
    "realisation_curve",
    "tornado_chart",
    "value_bridge_chart",
    "value_risk_map",
]

#: The only colours charts use (colour-blind-safe where it matters: gains blue, losses orange).
PALETTE: dict[str, str] = {
    "ink": "#262626",
    "muted": "#8c8c8c",
    "grid": "#e5e5e5",
    "baseline": "#8c8c8c",      # original approved baseline
    "plan": "#1f4e78",          # baseline in force (re-baseline)
    "actual": "#1b7837",        # measured
    "forecast": "#5aae61",      # today's estimate
    "total": "#7a7a7a",         # totals in a waterfall: neutral, never the "rises" colour
    "gain": "#2166ac",
    "loss": "#d6604d",
    "green": "#3a9d5d",
    "amber": "#f0a202",
    "red": "#c0392b",
    "grey": "#bdbdbd",
}


def format_money(x: float | None, currency: str = "", decimals: int | None = None) -> str:
    """Compact money for axes, labels and sentences: ``£1.23m``, ``£350k``, ``−£40.0k``.

    The one money format of the workbench (:func:`vmo_lib.formatting.format_money` with
    ``compact=True``), kept here under the name charts, widgets and the CLI import.

    Examples
    --------
    >>> format_money(1_234_567, "GBP"), format_money(-350_000, "GBP"), format_money(900, "USD")
    ('£1.23m', '−£350k', '$900')
    >>> format_money(12_500, "CHF"), format_money(float("nan"), "GBP")
    ('CHF 12.5k', '–')
    """
    return _format_money(x, currency, compact=True, decimals=decimals)


def currency_formatter(currency: str = "") -> FuncFormatter:
    """An axis formatter in k/m of ``currency`` (``ax.yaxis.set_major_formatter(currency_formatter("GBP"))``).

    Millions keep one decimal only when the tick needs it (``£2.5m``, ``£3m``); thousands none.

    Examples
    --------
    >>> currency_formatter("GBP")(2_500_000, 0), currency_formatter("GBP")(250_000, 0)
    ('£2.5m', '£250k')
    """
    def fmt(x: float, _pos: int) -> str:
        return format_money(x, currency, 1 if abs(x) >= 1e6 and abs(x) % 1e6 else 0)

    return FuncFormatter(fmt)


def alt_text(fig: Figure) -> str:
    """The text alternative of a chart drawn here: what it shows, in a sentence or two (set by every
    chart function with :func:`set_alt`; else the titles of its axes).

    Examples
    --------
    >>> fig = Figure()
    >>> _ = fig.add_subplot().set_title("NPV by case")
    >>> alt_text(fig)
    'Chart: NPV by case'
    """
    alt = getattr(fig, "vmo_alt", "")
    if alt:
        return str(alt)
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    return "Chart: " + "; ".join(titles) if titles else "Chart"


def set_alt(fig: Figure, text: str) -> Figure:
    """Attach the chart's text alternative (read back by :func:`alt_text`; the packs put it on the image)."""
    fig.vmo_alt = " ".join(str(text).split())
    return fig


def figure_and_axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def style_axes(ax: Axes) -> None:
    """The house style: light horizontal grid behind the data, no top/right frame, readable ticks."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(PALETTE["muted"])
    ax.grid(axis="y", color=PALETTE["grid"], linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(colors=PALETTE["ink"], labelsize=9)
    ax.title.set_color(PALETTE["ink"])
    ax.title.set_fontsize(12)
    ax.title.set_horizontalalignment("left")
    ax.title.set_position((0.0, 1.0))


def thin_ticks(ax: Axes, labels: list[str], max_labels: int = 12) -> None:
    step = max(1, math.ceil(len(labels) / max_labels))
    if step > 1 and all(len(p) == 6 and p[4] == "Q" for p in labels):
        step = 4 * math.ceil(step / 4)       # label whole years of quarters: 2026Q1, 2027Q1, ...
    pos = list(range(0, len(labels), step))
    ax.set_xticks(pos)
    ax.set_xticklabels([labels[i] for i in pos], rotation=0)


# --------------------------------------------------------------------------------------------------
# realisation
# --------------------------------------------------------------------------------------------------
def realisation_curve(status: CaseStatus, ax: Axes | None = None) -> Figure:
    """Cumulative benefits: approved baseline, baseline in force, actual to date and the outlook.

    Parameters
    ----------
    status : CaseStatus
        From :func:`vmo_lib.analysis.realisation.case_status` (its ``by_period`` table).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Undiscounted cumulative monetised benefits in the status's view, net of dis-benefits. The solid
    green line is what was measured up to the review period (marked); the dashed green line continues
    it with the owner's forecast (else the plan).

    Examples
    --------
    See the module docstring.
    """
    fig, ax = figure_and_axes(ax, (8, 4.2))
    t = status.by_period
    x = np.arange(len(t))
    rebaselined = status.baseline_in_force != "baseline"
    ax.plot(x, t["cum_benefit_original"], color=PALETTE["baseline"], linestyle="--", linewidth=1.5,
            label="Approved baseline" if not rebaselined else "Original baseline")
    if rebaselined:
        version = status.baseline_in_force.split(":", 1)[-1]
        ax.plot(x, t["cum_benefit_plan"], color=PALETTE["plan"], linewidth=1.5, label=f"Re-baseline {version}")
    past = t["reported"].to_numpy()
    if past.any():
        last = int(np.flatnonzero(past)[-1])
        ax.plot(x[:last + 1], t["cum_benefit_expected"].to_numpy()[:last + 1], color=PALETTE["actual"],
                linewidth=2.4, label="Actual to date")
        if last + 1 < len(t):
            ax.plot(x[last:], t["cum_benefit_expected"].to_numpy()[last:], color=PALETTE["forecast"],
                    linewidth=2.0, linestyle=(0, (4, 2)), label="Outlook (forecast, else plan)")
        ax.axvline(last, color=PALETTE["muted"], linewidth=1, linestyle=":")
        ax.annotate(f"Review {status.as_of}", xy=(last, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(4, -4), textcoords="offset points", va="top", fontsize=8, color=PALETTE["muted"])
    else:
        ax.plot(x, t["cum_benefit_expected"], color=PALETTE["forecast"], linewidth=2.0, linestyle=(0, (4, 2)),
                label="Outlook (no actuals yet)")
    ax.set_title(f"{status.case_id}: cumulative benefits")
    ax.set_ylabel(f"Cumulative benefit ({status.currency}, undiscounted)")
    ax.yaxis.set_major_formatter(currency_formatter(status.currency))
    thin_ticks(ax, list(t["period"]))
    ax.set_xlim(0, max(len(t) - 1, 1))
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.1), ncol=4)
    style_axes(ax)
    t_last = t.iloc[-1]
    set_alt(fig, f"Line chart of {status.case_id}'s cumulative benefits by period from {t['period'].iloc[0]} to "
                 f"{t['period'].iloc[-1]}: the approved baseline reaches {format_money(t_last['cum_benefit_original'], status.currency)}"
                 f" and the outlook {format_money(t_last['cum_benefit_expected'], status.currency)}"
                 + (f"; actuals are shown up to {status.as_of}." if past.any() else "; no actuals yet."))
    return fig


def value_bridge_chart(bridge: ValueBridge, currency: str = "", ax: Axes | None = None,
                       start_label: str | None = None) -> Figure:
    """Waterfall from the baseline NPV through cost, benefit and timing effects to the expected NPV.

    Parameters
    ----------
    bridge : ValueBridge
        From :func:`vmo_lib.analysis.realisation.value_bridge` (or ``CaseStatus.bridge``).
    currency : str
        ISO code for the labels.
    ax : matplotlib.axes.Axes, optional
    start_label : str, optional
        Name of the first bar (default "Approved NPV", or "Re-baselined NPV").

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from vmo_lib.analysis.realisation import ValueBridge
    >>> import pandas as pd
    >>> b = ValueBridge("baseline", 1000.0, -200.0, 300.0, -50.0, 1050.0, pd.DataFrame())
    >>> fig = value_bridge_chart(b, "GBP")
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['Approved NPV', 'Cost', 'Benefit', 'Timing', 'Expected NPV']
    """
    fig, ax = figure_and_axes(ax, (7, 4.2))
    first = start_label or ("Approved NPV" if bridge.reference == "baseline" else "Re-baselined NPV")
    names = [first, "Cost", "Benefit", "Timing", "Expected NPV"]
    steps = [bridge.cost, bridge.benefit, bridge.timing]
    bottoms, heights, colours = [0.0], [bridge.start], [PALETTE["total"]]
    level = bridge.start
    for v in steps:
        bottoms.append(level if v >= 0 else level + v)
        heights.append(abs(v))
        colours.append(PALETTE["gain"] if v >= 0 else PALETTE["loss"])
        level += v
    bottoms.append(0.0)
    heights.append(bridge.end)
    colours.append(PALETTE["total"])
    x = np.arange(len(names))
    ax.bar(x, heights, bottom=bottoms, color=colours, width=0.6)
    # connectors between bars
    levels = [bridge.start, bridge.start + steps[0], bridge.start + steps[0] + steps[1], bridge.end]
    for i, lv in enumerate(levels):
        ax.plot([i + 0.3, i + 0.7], [lv, lv], color=PALETTE["muted"], linewidth=0.8)
    span = max(abs(bridge.start), abs(bridge.end), *(abs(v) for v in steps), 1.0)
    for i, (b, h) in enumerate(zip(bottoms, heights, strict=True)):
        value = [bridge.start, *steps, bridge.end][i]
        text = format_money(value, currency) if i in (0, 4) else ("+" if value > 0 else "") + format_money(value, currency)
        top = max(b + h, b) if (i in (0, 4) and value >= 0) or (i not in (0, 4)) else b + h
        y = top + 0.02 * span if not (i in (0, 4) and value < 0) else value - 0.02 * span
        ax.text(i, y, text, ha="center", va="bottom" if y >= top else "top", fontsize=9, color=PALETTE["ink"])
    ax.axhline(0, color=PALETTE["ink"], linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(names)
    ax.set_ylabel(f"NPV ({currency}, discounted to period 0)")
    ax.yaxis.set_major_formatter(currency_formatter(currency))
    ax.set_title("Value bridge: why the expected NPV differs from the promise")
    lo = min(0.0, min(bottoms), bridge.end)
    hi = max(max(b + h for b, h in zip(bottoms, heights, strict=True)), 0.0)
    ax.set_ylim(lo - 0.1 * span if lo < 0 else 0, hi + 0.12 * span)
    ax.legend(handles=[Patch(color=PALETTE["total"], label="NPV (start and end)"),
                       Patch(color=PALETTE["gain"], label="raises NPV"), Patch(color=PALETTE["loss"], label="lowers NPV")],
              frameon=False, fontsize=8, loc="upper right", bbox_to_anchor=(1.0, -0.1), ncol=3)
    style_axes(ax)

    def signed(v: float) -> str:
        return ("+" if v > 0 else "") + format_money(v, currency)

    set_alt(fig, f"Waterfall chart from the {first} of {format_money(bridge.start, currency)} to the expected NPV of "
                 f"{format_money(bridge.end, currency)}: cost effect {signed(bridge.cost)}, benefit effect "
                 f"{signed(bridge.benefit)}, timing effect {signed(bridge.timing)}.")
    return fig


_RAG_TEXT = {"green": "Green", "amber": "Amber", "red": "Red", "grey": "Not started / no data"}


def rag_table(lines: pd.DataFrame, currency: str = "", ax: Axes | None = None, title: str | None = None) -> Figure:
    """A RAG table of benefits (or any :func:`~vmo_lib.analysis.realisation.realisation_by_line` rows).

    Columns: line, type, plan to date, actual to date, variance (positive = better than plan),
    realisation %, KPI progress and the RAG status, its cell coloured.

    Parameters
    ----------
    lines : pandas.DataFrame
        ``CaseStatus.benefits`` (or ``.costs``).
    currency : str
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.realisation import realisation_by_benefit
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 2},
    ...               benefits=[{"line_id": "B1", "name": "Saving", "amounts": [50, 50]}],
    ...               actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 40}])
    >>> fig = rag_table(realisation_by_benefit(c, "2026Q1"), "GBP")
    >>> len(fig.axes[0].tables)
    1
    """
    header = ["Line", "Type", "Plan\nto date", "Actual\nto date", "Variance*", "Realised\n%", "KPI\nprogress", "RAG"]
    rows, colours = [], []
    for r in lines.itertuples(index=False):
        name = str(r.name or r.line_id)
        name = name if len(name) <= 34 else name[:33] + "…"
        rows.append([
            f"{r.line_id}  {name}", str(r.type or ""), format_money(r.plan_to_date, currency),
            format_money(r.actual_to_date, currency), format_money(r.variance_to_date, currency),
            format_percent(r.realisation_pct), format_percent(r.kpi_progress_pct),
            _RAG_TEXT.get(r.rag, r.rag),
        ])
        colours.append(PALETTE.get(r.rag, PALETTE["grey"]))
    n = max(len(rows), 1)
    fig, ax = figure_and_axes(ax, (10.5, 0.75 + 0.3 * (n + 2)))
    ax.axis("off")
    if not rows:
        ax.text(0.5, 0.5, "No lines", ha="center", va="center", color=PALETTE["muted"])
        return fig
    foot = 0.55 / (n + 2.5)          # room for the footnote under the table, in axes fraction
    table = ax.table(cellText=rows, colLabels=header, cellLoc="left", bbox=[0, foot, 1, 1 - foot],
                     colWidths=[0.31, 0.15, 0.09, 0.09, 0.09, 0.07, 0.07, 0.13])
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (row, col), cell in table.get_celld().items():
        cell.set_edgecolor(PALETTE["grid"])
        if row == 0:
            cell.set_facecolor(PALETTE["plan"])
            cell.get_text().set_color("white")
            cell.get_text().set_fontweight("bold")
        elif col == len(header) - 1:
            cell.set_facecolor(colours[row - 1])
            cell.get_text().set_color("white" if colours[row - 1] != PALETTE["grey"] else PALETTE["ink"])
        if col >= 2 and col <= 6:
            cell.get_text().set_horizontalalignment("right")
            cell._loc = "right"
    ax.set_title(title or "Benefits: realisation to date and RAG", loc="left", fontsize=12, color=PALETTE["ink"])
    ax.text(0.0, 0.0, "* Variance: positive = better than plan (benefits actual − plan, costs plan − actual); "
            "to date on reported periods.", transform=ax.transAxes, fontsize=7, color=PALETTE["muted"], va="top")
    set_alt(fig, f"Table of {len(rows)} lines with plan and actual to date, variance, realisation, KPI progress and "
                 "RAG: " + "; ".join(f"{r[0]} {r[-1]}" for r in rows[:12]) + ".")
    return fig


# --------------------------------------------------------------------------------------------------
# risk (vmo_lib.analysis.risk)
# --------------------------------------------------------------------------------------------------
def tornado_chart(table: pd.DataFrame, currency: str = "", ax: Axes | None = None, title: str | None = None,
                  max_bars: int = 12, base_label: str = "as planned") -> Figure:
    """Tornado of one-way sensitivities: NPV at the low and high setting of each driver.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`vmo_lib.analysis.risk.tornado` (largest swing first); drivers with no swing are left out.
    currency : str
    ax : matplotlib Axes, optional
    title : str, optional
    max_bars : int, default 12
        Largest swings shown.
    base_label : str, default "as planned"
        What the centre line is (the case pack's tornado is of the expected outlook: "expected NPV").

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.risk import tornado
    >>> case = make_case({"horizon": 3, "discount_rate": 0},
    ...     costs=[{"line_id": "C1", "name": "x", "amounts": [100], "low": 90, "likely": 100, "high": 150}],
    ...     benefits=[{"line_id": "B1", "name": "y", "amounts": [0, 200], "low": 180, "likely": 200, "high": 210}])
    >>> fig = tornado_chart(tornado(case, delay_periods=1))
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()][:2]
    ['benefit realisation', 'capex']
    """
    t = table[table["swing"] > 0].head(max_bars)
    fig, ax = figure_and_axes(ax, (7.5, 0.62 * len(t) + 1.8))
    base = float(table["base_npv"].iloc[0]) if len(table) else 0.0
    y = np.arange(len(t))[::-1]
    # Each driver gets two thin bars, its low setting above its high setting, each labelled at its own
    # end: the two labels never share a line, even when both settings move NPV the same way.
    for yi, row in zip(y, t.itertuples(), strict=True):
        for value, setting, dy in ((row.npv_low, row.low, 0.19), (row.npv_high, row.high, -0.19)):
            colour = PALETTE["gain"] if value >= base else PALETTE["loss"]
            ax.barh(yi + dy, value - base, left=base, color=colour, height=0.34)
            ax.annotate(str(setting), (value, yi + dy), xytext=(4 if value >= base else -4, 0),
                        textcoords="offset points", va="center", ha="left" if value >= base else "right",
                        fontsize=7.5, color=PALETTE["muted"])
    ax.axvline(base, color=PALETTE["ink"], linewidth=1)
    ax.axvline(0, color=PALETTE["red"], linewidth=0.8, linestyle=":")
    ax.set_yticks(y)
    ax.set_yticklabels([str(d) for d in t["driver"]])
    ax.xaxis.set_major_formatter(currency_formatter(currency))
    ax.set_xlabel(f"NPV (solid line: {base_label}, {format_money(base, currency)}; dotted: zero)\n"
                  "each driver: upper bar its low setting, lower bar its high setting")
    ax.set_title(title or "NPV sensitivity: each driver at its low and high setting (blue raises NPV)")
    style_axes(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color=PALETTE["grid"], linewidth=0.8)
    ax.margins(x=0.3)
    parts = [f"{r.driver} {format_money(r.npv_low, currency)} ({r.low}) to {format_money(r.npv_high, currency)} ({r.high})"
             for r in t.head(6).itertuples()]
    set_alt(fig, f"Tornado chart of the NPV (as planned {format_money(base, currency)}) with each of {len(t)} drivers "
                 f"at its low and high setting, largest swing first: " + "; ".join(parts) + ".")
    return fig


def _percentile_lines(ax: Axes, result: MonteCarloResult, currency: str, reference: float | None = None,
                      reference_label: str = "approved") -> None:
    """P10 / P50 / P90 (and the reference NPV) as vertical lines, their values in a legend (no labels colliding)."""
    for q, style in ((10, ":"), (50, "-"), (90, "--")):
        v = result.percentile(q)
        ax.axvline(v, color=PALETTE["plan"], linestyle=style, linewidth=1.2, label=f"P{q} {format_money(v, currency)}")
    if reference is not None and math.isfinite(reference):
        ax.axvline(reference, color=PALETTE["amber"], linestyle="-", linewidth=2.0,
                   label=f"{reference_label.capitalize()} NPV {format_money(reference, currency)}")
    ax.legend(loc="best", fontsize=8, framealpha=0.9, edgecolor=PALETTE["grid"])


def _shown_range(x: np.ndarray, reference: float | None) -> tuple[float, float]:
    """P0.5 to P99.5 of the outcomes, widened to take in zero and the reference when they are near."""
    lo, hi = (float(v) for v in np.percentile(x, [0.5, 99.5]))
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    width = hi - lo
    for mark in (0.0, reference):
        if mark is not None and math.isfinite(mark) and lo - 1.5 * width <= mark <= hi + 1.5 * width:
            lo, hi = min(lo, mark - 0.03 * width), max(hi, mark + 0.03 * width)
    return lo, hi


def _beyond(mark: float | None, lo: float, hi: float, name: str, currency: str) -> str:
    if mark is None or not math.isfinite(mark) or lo <= mark <= hi:
        return ""
    return f"; {name} {format_money(mark, currency)} is off the axis, {'above' if mark > hi else 'below'} every shown outcome"


def npv_distribution_chart(result: MonteCarloResult, currency: str = "", ax: Axes | None = None,
                           bins: int = 60, reference: float | None = None, reference_label: str = "approved",
                           title: str | None = None) -> Figure:
    """Histogram of the Monte Carlo NPVs with P10, P50, P90, zero and the reference (approved) NPV marked.

    The horizontal range is P0.5 to P99.5 (widened to show zero and the reference when they are near)
    so a fat tail does not squash the body; the title says how many iterations fall outside it.

    Parameters
    ----------
    result : MonteCarloResult
    currency : str
    ax : matplotlib Axes, optional
    bins : int
    reference : float, optional
        The NPV to get back to (the NPV in force), drawn as a thick amber line.
    reference_label : str
        Its name in the legend (default "approved").
    title : str, optional

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.risk import monte_carlo
    >>> case = make_case({"case_id": "X", "horizon": 2, "discount_rate": 0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100], "low": 90, "likely": 100, "high": 160}],
    ...     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 150]}])
    >>> fig = npv_distribution_chart(monte_carlo(case, iterations=2_000), reference=50.0)
    >>> len(fig.axes[0].patches) > 10, "Approved NPV" in alt_text(fig) or "approved NPV" in alt_text(fig)
    (True, True)
    """
    fig, ax = figure_and_axes(ax, (7.5, 3.8))
    x = np.asarray(result.npv, dtype=float)
    lo, hi = _shown_range(x, reference)
    edges = np.linspace(lo, hi, bins + 1)
    counts, _ = np.histogram(x, bins=edges)
    centres = (edges[:-1] + edges[1:]) / 2
    colours = [PALETTE["loss"] if c < 0 else PALETTE["gain"] for c in centres]
    ax.bar(centres, counts / len(x), width=np.diff(edges), color=colours, alpha=0.85, linewidth=0)
    _percentile_lines(ax, result, currency, reference, reference_label)
    if lo < 0 < hi:
        ax.axvline(0, color=PALETTE["red"], linewidth=0.8, linestyle=":")
    ax.xaxis.set_major_formatter(currency_formatter(currency))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v * 100:.1f}%"))
    ax.set_xlabel("expected NPV (orange: below zero; dotted red line: zero)")
    ax.set_ylabel("share of simulated outcomes")
    outside = int(((x < lo) | (x > hi)).sum())
    ax.set_title(title or f"How the expected NPV could turn out: chance below zero {result.prob_negative:.1%}"
                 + (f"\n{outside:,} of {len(x):,} outcomes lie beyond the axis" if outside else ""))
    style_axes(ax)
    ref = ""
    if reference is not None and math.isfinite(reference):
        share = float((x >= reference).mean())
        ref = (f"; the {reference_label} NPV {format_money(reference, currency)} is marked, "
               f"reached or beaten in {share:.1%} of outcomes")
    set_alt(fig, f"Histogram of {len(x):,} simulated expected NPVs: P10 {format_money(result.percentile(10), currency)}, "
                 f"P50 {format_money(result.percentile(50), currency)}, P90 {format_money(result.percentile(90), currency)}, "
                 f"chance below zero {result.prob_negative:.1%}{ref}{_beyond(reference, lo, hi, reference_label + ' NPV', currency)}.")
    return fig


def npv_s_curve(result: MonteCarloResult, currency: str = "", ax: Axes | None = None,
                reference: float | None = None, reference_label: str = "approved",
                title: str | None = None) -> Figure:
    """Cumulative probability of the NPV (S-curve): the chance that NPV is at most x, with P10/P50/P90,
    zero and the reference (approved) NPV marked.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.risk import monte_carlo
    >>> case = make_case({"case_id": "X", "horizon": 2, "discount_rate": 0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100], "low": 90, "likely": 100, "high": 160}],
    ...     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 150]}])
    >>> npv_s_curve(monte_carlo(case, iterations=2_000)).axes[0].get_title()
    'Chance the expected NPV is at most x (2,000 simulated outcomes)'
    """
    fig, ax = figure_and_axes(ax, (7.5, 3.8))
    x = np.sort(np.asarray(result.npv, dtype=float))
    n = len(x)
    step = max(1, n // 2000)                     # plot ~2,000 points, keep both ends
    idx = np.unique(np.r_[np.arange(0, n, step), n - 1])
    ax.plot(x[idx], (idx + 1) / n, color=PALETTE["plan"], linewidth=1.8)
    _percentile_lines(ax, result, currency, reference, reference_label)
    if x[0] < 0 < x[-1]:
        ax.axvline(0, color=PALETTE["red"], linewidth=0.8, linestyle=":")
        ax.axhline(result.prob_negative, color=PALETTE["red"], linewidth=0.8, linestyle=":")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0%}"))
    ax.xaxis.set_major_formatter(currency_formatter(currency))
    ax.set_xlabel("expected NPV")
    ax.set_ylabel("chance NPV ≤ x")
    lo, hi = _shown_range(x, reference)
    ax.set_xlim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.set_title(title or f"Chance the expected NPV is at most x ({n:,} simulated outcomes)")
    style_axes(ax)
    ref = ""
    if reference is not None and math.isfinite(reference):
        ref = (f"; chance of reaching the {reference_label} NPV {format_money(reference, currency)}: "
               f"{float((x >= reference).mean()):.1%}")
    set_alt(fig, f"S-curve of {n:,} simulated expected NPVs rising from {format_money(x[0], currency)} to "
                 f"{format_money(x[-1], currency)}: P10 {format_money(result.percentile(10), currency)}, "
                 f"P50 {format_money(result.percentile(50), currency)}, P90 {format_money(result.percentile(90), currency)}, "
                 f"chance below zero {result.prob_negative:.1%}{ref}.")
    return fig


# --------------------------------------------------------------------------------------------------
# portfolio charts (vmo_lib.portfolio.core)
# --------------------------------------------------------------------------------------------------
def _one_currency(table: pd.DataFrame) -> str:
    cur = sorted({str(c) for c in table["currency"].dropna()}) if "currency" in table else []
    if len(cur) > 1:
        raise ValueError(f"the cases are in several currencies ({', '.join(cur)}): chart one currency at a time")
    return cur[0] if cur else ""


def value_risk_map(register: pd.DataFrame, x: str = "risk_spread", y: str = "expected_npv", size: str = "budget",
                   colour: str = "rag", ax: Axes | None = None, title: str | None = None) -> Figure:
    """The portfolio's value/risk map: one bubble per case (x = risk, y = NPV, size = investment).

    Labels are placed beside their bubble where they collide with no other label
    (:func:`place_labels`); a key gives the bubble sizes; the value axis always has a tick below
    £0 when a case is below zero.

    Parameters
    ----------
    register : pandas.DataFrame
        :attr:`vmo_lib.portfolio.core.Register.cases` (one currency).
    x, y, size : str
        Columns for risk (default the Monte Carlo P90 − P10 spread), value and investment (PV capex).
    colour : {"rag", "strategic_objective", ...}
        ``rag`` uses the RAG colours; any other column gets one palette colour per value.
    title : str, optional

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"case_id": ["A", "B"], "currency": ["GBP"] * 2, "risk_spread": [1e5, 4e5],
    ...                   "expected_npv": [2e6, -1e5], "budget": [1e6, 3e6], "rag": ["green", "red"]})
    >>> fig = value_risk_map(r)
    >>> fig.axes[0].get_title(), len(fig.axes[0].collections[0].get_offsets())
    ('Value and risk of 2 cases: expected NPV against its spread', 2)
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    cur = _one_currency(register)
    fig, ax = figure_and_axes(ax, (8.0, 5.6))
    t = register.dropna(subset=[x, y]).reset_index(drop=True)
    s = t[size].clip(lower=0).fillna(0).to_numpy(dtype=float)
    s_max = float(s.max()) if len(s) else 0.0
    area = 40 + 1200 * s / s_max if s_max > 0 else np.full(len(t), 80.0)
    if colour == "rag":
        names = {"green": "green", "amber": "amber", "red": "red", "grey": "not yet rated"}
        keys = [str(v) if str(v) in names else "grey" for v in t[colour]]
        colours = [PALETTE[k] for k in keys]
        handles = [Patch(color=PALETTE[k], label=names[k]) for k in names if k in set(keys)]
        legend_title = "RAG rating"
    else:
        cycle = [PALETTE[k] for k in ("plan", "actual", "amber", "loss", "gain", "forecast", "muted", "red")]
        cats = sorted({str(v) for v in t[colour]})
        colours = [cycle[cats.index(str(v)) % len(cycle)] for v in t[colour]]
        handles = [Patch(color=cycle[i % len(cycle)], label=c) for i, c in enumerate(cats)]
        legend_title = colour.replace("_", " ")
    ax.scatter(t[x], t[y], s=area, c=colours, alpha=0.75, edgecolors=PALETTE["ink"], linewidths=0.5)
    ax.axhline(0, color=PALETTE["muted"], linewidth=0.8)
    ax.yaxis.set_major_formatter(currency_formatter(cur))
    ax.xaxis.set_major_formatter(currency_formatter(cur))
    ax.set_xlabel({"risk_spread": "risk: spread of simulated NPV, P90 − P10 (further right = less certain)"}.get(
        x, x.replace("_", " ")))
    ax.set_ylabel({"expected_npv": "expected NPV"}.get(y, y.replace("_", " ").replace("npv", "NPV")))
    if len(t):
        yv = t[y].to_numpy(dtype=float)
        lo, hi = float(min(yv.min(), 0.0)), float(max(yv.max(), 0.0))
        pad = 0.12 * (hi - lo or 1.0)
        lo, hi = lo - (pad if lo < 0 else 0.0), hi + pad
        ticks = MaxNLocator(nbins=7).tick_values(lo, hi)
        if yv.min() < 0:                         # a tick below £0 when a case is below zero
            below = ticks[ticks < 0]
            lo = min(lo, float(below.max()) if len(below) else lo) if len(below) else lo
            if not len(below):
                lo = -float(ticks[1] - ticks[0])
        ax.set_ylim(lo, hi)
        xv = t[x].to_numpy(dtype=float)
        xr = float(xv.max() - min(xv.min(), 0.0)) or 1.0
        ax.set_xlim(min(xv.min(), 0.0) - 0.06 * xr, xv.max() + 0.12 * xr)
    legend = ax.legend(handles=handles, frameon=True, framealpha=0.9, edgecolor=PALETTE["grid"], fontsize=8,
                       title=legend_title, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.add_artist(legend)
    if s_max > 0:
        steps = [v for v in (s_max / 4, s_max / 2, s_max)]
        size_handles = [Line2D([], [], linestyle="", marker="o", markersize=math.sqrt(40 + 1200 * v / s_max),
                               markerfacecolor="none", markeredgecolor=PALETTE["ink"], label=format_money(v, cur))
                        for v in steps]
        ax.legend(handles=size_handles, frameon=True, framealpha=0.9, edgecolor=PALETTE["grid"], fontsize=8,
                  title="bubble size:\ninvestment (PV capex)", title_fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.01, 0.55), labelspacing=1.8, borderpad=1.0, handletextpad=2.2)
    ax.set_title(title or f"Value and risk of {len(t)} cases: expected NPV against its spread")
    style_axes(ax)
    texts = [ax.annotate(str(r[0]), (float(r[1]), float(r[2])), fontsize=8, color=PALETTE["ink"],
                         xytext=(0, 0), textcoords="offset points")
             for r in t[["case_id", x, y]].itertuples(index=False)]
    place_labels(ax, texts, radii=[math.sqrt(a) / 2 for a in area])
    top = t.sort_values(y, ascending=False)
    below = t[t[y] < 0]
    set_alt(fig, f"Bubble chart of {len(t)} cases, expected NPV ({cur}) against the spread of simulated NPV, "
                 f"bubble size the investment, colour the RAG rating. Highest: "
                 + ", ".join(f"{r['case_id']} {format_money(r[y], cur)}" for _, r in top.head(3).iterrows())
                 + (". Below zero: " + ", ".join(f"{r['case_id']} {format_money(r[y], cur)}"
                                                 for _, r in below.iterrows()) if len(below) else ". None below zero")
                 + ".")
    return fig


def _renderer(fig: Figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    return canvas.get_renderer()


def place_labels(ax: Axes, texts: list, radii: list[float] | None = None) -> None:
    """Put each label beside its point where it overlaps no label placed before it (and no other point's
    centre), trying the eight compass positions at growing distances; labels are placed largest
    bubble first. ``radii`` are the bubbles' radii in points.

    Examples
    --------
    >>> fig = Figure(figsize=(3, 3))
    >>> ax = fig.add_subplot()
    >>> ts = [ax.annotate(n, (0.5, 0.5), xytext=(0, 0), textcoords="offset points") for n in ("AAA", "BBB")]
    >>> place_labels(ax, ts)
    >>> r = _renderer(fig)
    >>> bool(ts[0].get_window_extent(r).overlaps(ts[1].get_window_extent(r)))
    False
    """
    if not texts:
        return
    fig = ax.figure
    renderer = _renderer(fig)
    fig.canvas.draw()                                        # the layout the labels will be seen in
    radii = list(radii) if radii is not None else [3.0] * len(texts)
    ppd = fig.dpi / 72.0                                     # pixels per point
    centres = [ax.transData.transform(tx.xy) for tx in texts]
    order = sorted(range(len(texts)), key=lambda i: -radii[i])
    placed: list = []
    axes_box = ax.get_window_extent(renderer)
    for i in order:
        tx = texts[i]
        tx.set_ha("left")
        tx.set_va("bottom")
        w0 = tx.get_window_extent(renderer)
        w, h = w0.width / ppd, w0.height / ppd
        best, best_cost = None, None
        for grow in (1.0, 1.6, 2.4, 3.4, 4.6):
            r = radii[i] * 0.75 + 2 + (grow - 1.0) * (h + 2)
            for dx, dy in ((r, r * 0.3), (r, -h - r * 0.3), (-w - r, r * 0.3), (-w - r, -h - r * 0.3),
                           (-w / 2, r + 1), (-w / 2, -h - r - 1), (r, -h / 2), (-w - r, -h / 2)):
                tx.xyann = (dx, dy)
                box = tx.get_window_extent(renderer)
                cost = sum(1 for b in placed if box.overlaps(b))
                cost += sum(1 for j, c in enumerate(centres) if j != i and box.contains(*c))
                cost += 0 if (axes_box.x0 <= box.x0 and box.x1 <= axes_box.x1 and axes_box.y0 <= box.y0
                              and box.y1 <= axes_box.y1) else 1
                if best_cost is None or cost < best_cost:
                    best, best_cost = (dx, dy), cost
                if cost == 0:
                    break
            if best_cost == 0:
                break
        tx.xyann = best
        placed.append(tx.get_window_extent(renderer))
        if best_cost:
            ax.annotate("", xy=tx.xy, xytext=best, textcoords="offset points",
                        arrowprops={"arrowstyle": "-", "color": PALETTE["muted"], "linewidth": 0.6})


def portfolio_mix_chart(mix: pd.DataFrame, by: str, value: str = "count", ax: Axes | None = None) -> Figure:
    """Horizontal bars of a :func:`vmo_lib.portfolio.core.portfolio_mix` table (one currency for money).

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"status": ["live", "proposed"], "currency": ["GBP"] * 2, "count": [3, 1]})
    >>> [t.get_text() for t in portfolio_mix_chart(m, "status").axes[0].get_yticklabels()]
    ['live', 'proposed']
    """
    money = value != "count"
    cur = _one_currency(mix) if money else ""
    fig, ax = figure_and_axes(ax, (7.0, 0.5 + 0.45 * max(1, mix[by].nunique())))
    t = mix.groupby(by, sort=True)[value].sum()
    pos = np.arange(len(t))
    ax.barh(pos, t.to_numpy(dtype=float), color=PALETTE["plan"])
    ax.set_yticks(pos)
    ax.set_yticklabels([str(i) for i in t.index])
    ax.invert_yaxis()
    if money:
        ax.xaxis.set_major_formatter(currency_formatter(cur))
    ax.set_xlabel(value.replace("_", " ").replace("npv", "NPV"))
    ax.set_title(f"Portfolio mix by {by.replace('_', ' ')}")
    style_axes(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color=PALETTE["grid"], linewidth=0.8)
    return fig


def efficient_frontier_chart(frontier: pd.DataFrame, currency: str = "", budget: float | None = None,
                             ax: Axes | None = None) -> Figure:
    """The efficient frontier: best value against the annual budget, a step at each breakpoint.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"budget": [0.0, 4.0, 9.0], "value": [0.0, 5.0, 11.0], "selected": ["", "C", "B,C"]})
    >>> efficient_frontier_chart(f, "GBP", budget=9).axes[0].get_title()
    'Efficient frontier: best value for each annual budget'
    """
    fig, ax = figure_and_axes(ax, (7.5, 4.0))
    b = frontier["budget"].to_numpy(dtype=float)
    v = frontier["value"].to_numpy(dtype=float)
    ax.step(np.r_[b, b[-1] * 1.1 if len(b) else 0.0], np.r_[v, v[-1] if len(v) else 0.0], where="post",
            color=PALETTE["plan"], linewidth=1.8)
    ax.scatter(b, v, color=PALETTE["plan"], s=18, zorder=3)
    if budget is not None:
        ax.axvline(budget, color=PALETTE["amber"], linewidth=1.0, linestyle="--")
        ax.annotate("budget", (budget, ax.get_ylim()[1]), fontsize=8, color=PALETTE["ink"], va="top",
                    xytext=(3, -3), textcoords="offset points")
    ax.xaxis.set_major_formatter(currency_formatter(currency))
    ax.yaxis.set_major_formatter(currency_formatter(currency))
    ax.set_xlabel("budget per year")
    ax.set_ylabel("value of the best selection")
    ax.set_title("Efficient frontier: best value for each annual budget")
    style_axes(ax)
    return fig
