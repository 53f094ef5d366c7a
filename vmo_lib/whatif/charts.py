"""The chart of a what-if: cumulative net cash flow against the base scenario without changes.

Drawn in the house style of :mod:`vmo_lib.outputs.charts`; the explorer (:mod:`vmo_lib.whatif.widgets`)
shows it under its controls, and a notebook can draw it for any :class:`~vmo_lib.whatif.engine.WhatIfResult`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from vmo_lib.outputs.charts import (
    PALETTE,
    currency_formatter,
    figure_and_axes,
    format_money,
    style_axes,
    thin_ticks,
)
from vmo_lib.whatif.engine import WhatIfResult, period_at

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["cumulative_cash_flow_chart"]


def cumulative_cash_flow_chart(result: WhatIfResult, ax: Axes | None = None) -> Figure:
    """Cumulative net cash flow of a what-if against its base scenario without changes.

    Draws the what-if's cumulative net flow (solid), its discounted twin (dotted, ending at the NPV,
    which its legend entry states), the base scenario without changes (dashed) and the payback point, in the
    house style of :mod:`vmo_lib.outputs.charts`; the subtitle states the what-if
    (:meth:`~vmo_lib.whatif.engine.WhatIfSettings.describe`).

    Parameters
    ----------
    result : WhatIfResult
    ax : matplotlib Axes, optional
        Drawn into when given; otherwise a new figure (not attached to pyplot).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.whatif.engine import WhatIfEngine
    >>> case = make_case({"case_id": "Y", "first_period": "2026", "period_length": "year", "horizon": 2},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 150]}])
    >>> fig = cumulative_cash_flow_chart(WhatIfEngine(case).evaluate(delay_periods=1))  # 150 slips out: NPV −100
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['this what-if', 'this what-if, discounted (ends at the NPV, −£100)', 'approved baseline without changes']
    >>> fig.axes[0].get_title().splitlines()
    ['Y: cumulative net cash flow', 'benefits 1 year late']
    """
    fig, ax = figure_and_axes(ax, (5.8, 3.4))
    x = np.arange(len(result.periods))
    cum = result.cumulative
    cur = result.currency
    gain, loss = PALETTE["gain"], PALETTE["loss"]
    ax.axhline(0, color=PALETTE["muted"], linewidth=0.8)
    ax.fill_between(x, cum, 0, where=cum < 0, color=loss, alpha=0.12, linewidth=0, interpolate=True)
    ax.fill_between(x, cum, 0, where=cum >= 0, color=gain, alpha=0.12, linewidth=0, interpolate=True)
    ax.plot(x, cum, color=PALETTE["plan"], linewidth=2.2, label="this what-if")
    pv = result.cumulative_pv
    ax.plot(x, pv, color=PALETTE["plan"], linewidth=1.2, linestyle=":",
            label=f"this what-if, discounted (ends at the NPV, {format_money(result.npv, cur)})")
    ax.plot([x[-1]], [pv[-1]], marker="o", color=PALETTE["plan"], markersize=4, zorder=5)
    ax.plot(x, result.reference_cumulative, color=PALETTE["baseline"], linewidth=1.4, linestyle="--",
            label=result.reference_label)
    if math.isfinite(result.payback):
        at = period_at(result, result.payback)
        ax.plot([result.payback], [0], marker="o", color=PALETTE["actual"], markersize=6, zorder=5)
        ax.annotate(f"payback {at} ({result.payback_years:.1f} yrs)", (result.payback, 0),
                    textcoords="offset points", xytext=(6, -14), fontsize=8, color=PALETTE["actual"])
    thin_ticks(ax, list(result.periods), max_labels=8)
    ax.yaxis.set_major_formatter(currency_formatter(cur))
    ax.set_ylabel(f"cumulative net cash flow{f' ({cur})' if cur else ''}", fontsize=9, color=PALETTE["ink"])
    ax.set_title(f"{result.case_id}: cumulative net cash flow\n"
                 f"{result.settings.describe('quarter' if result.periods_per_year == 4 else 'year')}")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    style_axes(ax)
    ax.title.set_fontsize(11)
    return fig
