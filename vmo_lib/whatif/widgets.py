"""Interactive what-if explorer for challenge sessions (the only module that imports ipywidgets).

At a gate review the board asks "what if benefits arrive two quarters late?", "what if the cloud
costs are 30% higher?". :class:`WhatIfExplorer` answers on the spot in JupyterLab: pick a case,
move the controls, and NPV, IRR, payback, the verdict, the switching value of every control and
the cumulative cash-flow chart follow at once.

The logic is the pure core :mod:`vmo_lib.whatif.engine` (usable and tested without a browser) and
the chart is :mod:`vmo_lib.whatif.charts`; the explorer (ipywidgets, imported lazily) only wires
controls to :meth:`~vmo_lib.whatif.engine.WhatIfEngine.evaluate`. The engine's public names and the
chart are importable from here too (``from vmo_lib.whatif.widgets import WhatIfEngine``).
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from vmo_lib.analysis import appraisal
from vmo_lib.analysis.realisation import EXPECTED
from vmo_lib.analysis.scenarios import WhatIf
from vmo_lib.errors import AnalysisError
from vmo_lib.model import BusinessCase
from vmo_lib.outputs.charts import format_money
from vmo_lib.whatif.charts import cumulative_cash_flow_chart
from vmo_lib.whatif.engine import (
    WHAT_IF_CONTROLS,
    SwitchingValues,
    WhatIfEngine,
    WhatIfResult,
    WhatIfSettings,
    period_at,
    switching_labels,
)
from vmo_lib.whatif.saved import load_scenarios, save_scenario

__all__ = [
    "WHAT_IF_CONTROLS",
    "SwitchingValues",
    "WhatIfEngine",
    "WhatIfExplorer",
    "WhatIfResult",
    "WhatIfSettings",
    "cumulative_cash_flow_chart",
    "switching_labels",
]

#: Control ranges of the explorer (in the units the user sees).
BENEFIT_RANGE = (0.0, 150.0, 5.0)       # % of planned benefits realised
COST_RANGE = (-50.0, 300.0, 5.0)        # % cost overrun
DELAY_RANGE = (0, 8, 1)                 # periods
RATE_RANGE = (0.0, 20.0, 0.25)          # % a year


def _figure_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------
# the ipywidgets explorer
# --------------------------------------------------------------------------------------------------
_CSS = """
<style>
.vmo-whatif {font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1400px;}
.vmo-title {font-size: 1.3em; font-weight: 600; margin: 2px 0 0 0;}
.vmo-sub {color: #666; font-size: 0.9em;}
.vmo-cards {display: flex; gap: 10px; flex-wrap: wrap; margin: 4px 0;}
.vmo-card {border: 1px solid #dde3ea; border-radius: 6px; padding: 6px 12px; min-width: 120px; background: #fafbfc;}
.vmo-card .vmo-label {color: #666; font-size: 0.75em; text-transform: uppercase; letter-spacing: .04em;}
.vmo-card .vmo-value {font-size: 1.35em; font-weight: 600; white-space: nowrap;}
.vmo-card .vmo-value .vmo-sub {font-size: 0.6em; font-weight: 400;}
.vmo-pos {color: #1e7d3c;} .vmo-neg {color: #b03a2e;}
.vmo-verdict {padding: 6px 10px; border-radius: 6px; margin: 4px 0; line-height: 1.3;}
.vmo-verdict.vmo-pos {background: #e8f5ec;} .vmo-verdict.vmo-neg {background: #fbeaea;}
.vmo-switch {color: #555; font-size: 0.82em; line-height: 1.2;}
.vmo-status {color: #555; font-size: 0.85em;}
</style>
"""
_CONTROL_ORDER = ("benefit_realisation", "cost_overrun", "delay_periods", "discount_rate", "optimism_bias")


class WhatIfExplorer:
    """The challenge-session UI: figures on top, controls with their switching values, the chart.

    Parameters
    ----------
    folder_or_case : path-like or BusinessCase
        A folder of case workbooks (a case picker lists them), one workbook, or a loaded case
        (saving scenarios then needs ``case.source``).
    case_id : str, optional
        In a folder, the case to open first (its file stem or case id); default the first.
    view : {"economic", "cash"}
    as_of : period label, optional
        Review date; offers the base scenario "Expected (actuals + forecast)".

    Attributes
    ----------
    engine : WhatIfEngine
        The engine of the current case (loaded once, kept while the explorer lives).
    settings : WhatIfSettings
        The current controls.
    result : WhatIfResult
        The figures on display (recomputed on every change).
    controls : dict
        The input widgets by setting name (sliders in the percent / period units shown).
    widget : ipywidgets.VBox
        The whole UI; a notebook displays the explorer as this.

    Notes
    -----
    Sliders only report when released or moved with the keyboard (``continuous_update=False``):
    one recomputation per decision, not one per pixel dragged. Amounts shown in the NPV card carry
    the unrounded value in ``data-value`` of ``span.vmo-npv`` (what the browser test reads).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "Y", "first_period": "2026", "period_length": "year",
    ...                   "horizon": 2, "discount_rate": 0.0},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 150]}])
    >>> ex = WhatIfExplorer(case)
    >>> ex.controls["benefit_realisation"].value = 80     # the slider, in percent
    >>> ex.result.npv
    20.0
    """

    def __init__(self, folder_or_case: str | os.PathLike[str] | BusinessCase, case_id: str | None = None,
                 view: str = "economic", as_of: object = None) -> None:
        import ipywidgets

        self._w = ipywidgets
        self.view = view
        self.as_of = as_of
        self._engines: dict[str, WhatIfEngine] = {}
        self._holding = False
        self._rate_moved = False
        self._base_scenario = EXPECTED if as_of is not None else "baseline"
        self._saved: dict[str, WhatIfSettings] = {}
        self._paths: dict[str, Path] = {}
        self.case_path: Path | None = None
        case: BusinessCase | None = None
        if isinstance(folder_or_case, BusinessCase):
            case = folder_or_case
            self.case_path = Path(case.source) if case.source else None
        else:
            from vmo_lib.intake.loader import workbook_files  # lists no saved-scenario files

            p = Path(folder_or_case)
            books = workbook_files(p) if p.is_dir() else [p]
            if not books:
                from vmo_lib.errors import WorkbookError

                raise WorkbookError(p, "contains no case workbook (*.xlsx)")
            self._paths = {b.stem: b for b in books}
        self._build_ui()
        if case is not None:
            self._set_engine(WhatIfEngine(case, view, as_of), key=case.case_id)
        else:
            first = self._pick_first(case_id)
            self._holding = True
            self.case_picker.value = first
            self._holding = False
            self._open(first, raise_errors=True)

    # --- construction -------------------------------------------------------------------------
    def _pick_first(self, case_id: str | None) -> str:
        if case_id is None:
            return next(iter(self._paths))
        for stem in self._paths:  # file stem, case-insensitively (case ids name the sample files)
            if stem.lower() == str(case_id).lower():
                return stem
        raise ValueError(f"no workbook for case {case_id!r}; found {list(self._paths)}")

    def _build_ui(self) -> None:
        w = self._w
        style = {"description_width": "135px"}
        wide = w.Layout(width="360px")
        self.case_picker = w.Dropdown(options=list(self._paths), description="Case", style=style,
                                      layout=w.Layout(width="360px", display="" if len(self._paths) > 1 else "none"))
        self.scenario_picker = w.Dropdown(options=[("Approved baseline", "baseline")], value="baseline",
                                          description="Scenario", style=style, layout=wide)
        slider = {"continuous_update": False, "style": style, "layout": wide}
        self.controls: dict[str, Any] = {
            "benefit_realisation": w.FloatSlider(value=100, min=BENEFIT_RANGE[0], max=BENEFIT_RANGE[1],
                                                 step=BENEFIT_RANGE[2], readout_format=".0f",
                                                 description="Benefits realised %", **slider),
            "cost_overrun": w.FloatSlider(value=0, min=COST_RANGE[0], max=COST_RANGE[1], step=COST_RANGE[2],
                                          readout_format="+.0f", description="Cost overrun %", **slider),
            "delay_periods": w.IntSlider(value=0, min=DELAY_RANGE[0], max=DELAY_RANGE[1], step=DELAY_RANGE[2],
                                         description="Benefit delay", **slider),
            "discount_rate": w.FloatSlider(value=0, min=RATE_RANGE[0], max=RATE_RANGE[1], step=RATE_RANGE[2],
                                           readout_format=".2f", description="Discount rate %/yr", **slider),
            "optimism_bias": w.Checkbox(value=False, description="Optimism bias (Green Book)",
                                        indent=False, layout=w.Layout(width="360px", padding="0 0 0 24px")),
        }
        self.switch_labels = {n: w.HTML(layout=w.Layout(width="225px")) for n in _CONTROL_ORDER}
        self.header = w.HTML()
        self.cards = w.HTML()
        self.verdict = w.HTML()
        # An <img> in HTML rather than an Image widget: the picture, its description (alt text) and
        # the NPV it shows arrive in one update, so a page never pairs new figures with an old chart.
        self.chart = w.HTML(layout=w.Layout(width="560px", max_width="100%"))
        self.scenario_name = w.Text(placeholder="e.g. Board: 2Q late, cloud +30%", description="Save as",
                                    style={"description_width": "60px"}, layout=w.Layout(width="340px"))
        self.save_button = w.Button(description="Save scenario", icon="save", button_style="primary",
                                    layout=w.Layout(width="135px"))
        self.reset_button = w.Button(description="Reset", icon="undo", layout=w.Layout(width="85px"))
        self.status = w.HTML()
        # Stable CSS classes: the browser test and any custom styling find the parts by them.
        for widget, css in [(self.case_picker, "vmo-case-picker"), (self.scenario_picker, "vmo-scenario"),
                            (self.cards, "vmo-figures"), (self.verdict, "vmo-verdict-box"), (self.chart, "vmo-chart"),
                            (self.save_button, "vmo-save"), (self.reset_button, "vmo-reset"),
                            (self.scenario_name, "vmo-scenario-name"), (self.status, "vmo-status")]:
            widget.add_class(css)
        for name in _CONTROL_ORDER:
            self.controls[name].add_class(f"vmo-{name.replace('_', '-')}")
            self.switch_labels[name].add_class(f"vmo-switch-{name.replace('_', '-')}")

        self.case_picker.observe(self._on_case, names="value")
        self.scenario_picker.observe(self._on_scenario, names="value")
        for ctl in self.controls.values():
            ctl.observe(self._on_control, names="value")
        self.save_button.on_click(lambda _b: self.save(self.scenario_name.value))
        self.reset_button.on_click(lambda _b: self.reset())

        rows = [w.HBox([self.controls[n], self.switch_labels[n]], layout=w.Layout(align_items="center"))
                for n in _CONTROL_ORDER]
        controls = w.VBox([self.case_picker, self.scenario_picker, *rows,
                           w.HBox([self.scenario_name, self.save_button, self.reset_button]), self.status],
                          layout=w.Layout(width="590px", margin="0 8px 0 0"))
        self.widget = w.VBox([
            w.HTML(_CSS), self.header, self.cards, self.verdict,
            w.HBox([controls, self.chart], layout=w.Layout(flex_flow="row wrap", align_items="flex-start")),
        ])
        self.widget.add_class("vmo-whatif")

    # --- case and scenario --------------------------------------------------------------------
    def _open(self, stem: str, raise_errors: bool = False) -> None:
        """Show a case of the folder, loading it the first time only. A workbook that cannot be
        loaded is reported in the status line and the case on display stays."""
        from vmo_lib.intake.loader import load_case

        engine = self._engines.get(stem)
        if engine is None:
            try:
                case = load_case(self._paths[stem], as_of=self.as_of)
            except Exception as exc:  # noqa: BLE001 - say why in the UI; the explorer stays usable
                if raise_errors:
                    raise
                self.status.value = (f"<span class='vmo-neg'>Cannot open {html.escape(self._paths[stem].name)}: "
                                     f"{html.escape(str(exc))}</span>")
                held, self._holding = self._holding, True
                self.case_picker.value = next(k for k, e in self._engines.items() if e is self.engine)
                self._holding = held
                return
            engine = WhatIfEngine(case, self.view, self.as_of)
        self.case_path = self._paths[stem]
        self._set_engine(engine, key=stem)

    def _set_engine(self, engine: WhatIfEngine, key: str) -> None:
        self._engines[key] = engine
        self.engine = engine
        case = engine.case
        self._saved = self._load_saved()
        unit = "quarters" if case.period_length == "quarter" else "years"
        self.controls["delay_periods"].description = f"Delay ({unit})"
        self._holding = True
        try:
            self.scenario_picker.options = self._scenario_options()
            self.scenario_picker.value = self._start_scenario
            self._apply_settings(WhatIfSettings(scenario=self._start_scenario))
        finally:
            self._holding = False
        meta = case.meta
        sched = str(meta.get("discount_schedule") or "flat")
        rate = f"{sched} schedule" if sched != "flat" else f"{float(meta['discount_rate']) * 100:.2f}% a year"
        self.header.value = (
            f"<div class='vmo-title'>{html.escape(case.case_id)} — {html.escape(case.title)}</div>"
            f"<div class='vmo-sub'>{html.escape(str(meta.get('status') or ''))} · {case.horizon} "
            f"{html.escape(case.period_length)}s from {html.escape(str(meta['first_period']))} · "
            f"{html.escape(str(meta.get('price_base') or ''))} {html.escape(str(meta.get('currency') or ''))} · "
            f"discounting: {html.escape(rate)} · {html.escape(engine.view)} view</div>")
        self.save_button.disabled = self.case_path is None
        self.save_button.tooltip = "" if self.case_path else "a case built in code has no workbook to save beside"
        self.update()

    def _scenario_options(self) -> list[tuple[str, str]]:
        opts = [(self.engine.scenario_label(s), s) for s in self.engine.scenarios]
        return opts + [(f"★ saved: {name}", f"saved:{name}") for name in self._saved]

    def _load_saved(self) -> dict[str, WhatIfSettings]:
        if self.case_path is None:
            return {}
        try:
            return load_scenarios(self.case_path)
        except Exception as exc:  # noqa: BLE001 - a damaged scenarios file must not block the explorer
            self.status.value = f"<span class='vmo-neg'>{html.escape(str(exc))}</span>"
            return {}

    def _on_case(self, change: Mapping[str, Any]) -> None:
        if change["new"] and not self._holding:
            self.status.value = ""
            self._open(change["new"])

    def _on_scenario(self, change: Mapping[str, Any]) -> None:
        if self._holding or not change["new"]:
            return
        value = str(change["new"])
        if value.startswith("saved:"):
            saved = self._saved.get(value[len("saved:"):])
            if saved is not None:
                self._apply_settings(saved)
                self.status.value = f"Loaded saved scenario <b>{html.escape(value[len('saved:'):])}</b>."
        self.update()

    def _on_control(self, _change: Mapping[str, Any]) -> None:
        if not self._holding:
            if _change.get("owner") is self.controls["discount_rate"]:
                self._rate_moved = True
            self.update()

    # --- settings <-> controls ----------------------------------------------------------------
    def _apply_settings(self, s: WhatIfSettings) -> None:
        """Move every control to ``s`` without recomputing on each move."""
        held, self._holding = self._holding, True
        try:
            c = self.controls
            c["benefit_realisation"].value = s.benefit_realisation * 100
            c["cost_overrun"].value = s.cost_overrun * 100
            c["delay_periods"].value = s.delay_periods
            self._rate_moved = s.discount_rate is not None
            rate = s.discount_rate if s.discount_rate is not None else appraisal.annual_rate_of(self.engine.case)
            c["discount_rate"].value = rate * 100
            c["optimism_bias"].value = s.optimism_bias
            self._base_scenario = s.scenario
        finally:
            self._holding = held

    @property
    def settings(self) -> WhatIfSettings:
        """The settings the controls show. Until the discount-rate slider is moved the case's own
        discounting applies (which may be a Green Book schedule the slider's start only names)."""
        c = self.controls
        pick = str(self.scenario_picker.value or "baseline")
        return WhatIfSettings(
            scenario=self._base_scenario if pick.startswith("saved:") else pick,
            what_if=WhatIf(
                benefit_realisation=c["benefit_realisation"].value / 100,
                cost_overrun=c["cost_overrun"].value / 100,
                delay_periods=int(c["delay_periods"].value),
                discount_rate=c["discount_rate"].value / 100 if self._rate_moved else None,
                optimism_bias=bool(c["optimism_bias"].value),
            ),
        )

    # --- actions ------------------------------------------------------------------------------
    def update(self) -> WhatIfResult:
        """Recompute from the controls and refresh every output (what a control change calls)."""
        try:
            self.result = r = self.engine.evaluate(self.settings)
        except (ValueError, AnalysisError) as exc:
            self.status.value = f"<span class='vmo-neg'>{html.escape(str(exc))}</span>"
            raise
        self._render(r)
        return r

    def set(self, **settings: Any) -> WhatIfResult:
        """Move controls in setting units, e.g. ``set(benefit_realisation=0.8, delay_periods=2)``."""
        s = self.settings.replace(**settings)
        self._apply_settings(s)
        if "scenario" in settings:
            held, self._holding = self._holding, True
            self.scenario_picker.value = s.scenario
            self._holding = held
        return self.update()

    @property
    def _start_scenario(self) -> str:
        """Where the explorer opens and resets: the review's expected outlook when reviewing at a date
        (the packs' starting point), else the approved baseline."""
        return EXPECTED if self.as_of is not None else "baseline"

    def reset(self) -> WhatIfResult:
        """Back to the starting point (the expected outlook at the review date, else the approved
        baseline) with no change and the case's own discounting."""
        held, self._holding = self._holding, True
        try:
            self.scenario_picker.value = self._start_scenario
            self._apply_settings(WhatIfSettings(scenario=self._start_scenario))
        finally:
            self._holding = held
        self.status.value = ""
        return self.update()

    def save(self, name: str) -> Path | None:
        """Save the current settings as a named scenario beside the case workbook
        (:func:`vmo_lib.whatif.saved.save_scenario`); returns the file, or None with the reason
        shown in the status line."""
        if self.case_path is None:
            self.status.value = ("<span class='vmo-neg'>This case was built in code: there is no workbook "
                                 "to save beside.</span>")
            return None
        try:
            path = save_scenario(self.case_path, name, self.settings)
        except (ValueError, OSError) as exc:
            self.status.value = f"<span class='vmo-neg'>Not saved: {html.escape(str(exc))}</span>"
            return None
        name = name.strip()
        self._saved = self._load_saved()
        held, self._holding = self._holding, True
        try:
            self.scenario_picker.options = self._scenario_options()
            self.scenario_picker.value = f"saved:{name}"
            self._base_scenario = self._saved[name].scenario
        finally:
            self._holding = held
        self.status.value = f"Saved <b>{html.escape(name)}</b> in {html.escape(path.name)}."
        return path

    # --- rendering ----------------------------------------------------------------------------
    def _render(self, r: WhatIfResult) -> None:
        cur = r.currency
        unit = self.engine.case.period_length
        # The chart first: a page showing the new figures then already shows the matching chart.
        alt = html.escape(f"Cumulative net cash flow of {r.case_id}, {r.settings.describe(unit)}: "
                          f"NPV {format_money(r.npv, cur)}", quote=True)
        png = base64.b64encode(_figure_png(cumulative_cash_flow_chart(r))).decode("ascii")
        self.chart.value = (f"<img src='data:image/png;base64,{png}' alt='{alt}' title='{alt}' "
                            f"data-npv='{float(r.npv)!r}' style='max-width: 100%'>")
        sign = "vmo-pos" if r.npv >= 0 else "vmo-neg"
        irr = f"{r.irr * 100:.1f}%" if math.isfinite(r.irr) else "none"

        def when(p: float) -> str:
            if not math.isfinite(p):
                return "never"
            return f"{p / r.periods_per_year:.1f} yrs <span class='vmo-sub'>{html.escape(period_at(r, p))}</span>"

        def card(label: str, css: str, value: str, data: float, extra: str = "") -> str:
            data_attr = repr(float(data)) if math.isfinite(data) else "nan"
            return (f"<div class='vmo-card'><div class='vmo-label'>{label}</div>"
                    f"<div class='vmo-value {extra}'><span class='{css}' data-value='{data_attr}'>{value}</span>"
                    f"</div></div>")

        bad = r.verdict.label in ("at risk", "value destroyed")
        self.verdict.value = (f"<div class='vmo-verdict {'vmo-neg' if bad else 'vmo-pos'}' "
                              f"data-verdict='{html.escape(r.verdict.label)}'>{html.escape(r.verdict_sentence)}</div>")
        for name, text in switching_labels(r, unit).items():
            self.switch_labels[name].value = f"<div class='vmo-switch'>{html.escape(text)}</div>"
        ob = self.engine.matrices(r.settings.scenario).optimism
        self.switch_labels["optimism_bias"].value = (
            f"<div class='vmo-switch'>{'Applied' if r.settings.optimism_bias else 'When ticked'}: capex "
            f"+{ob.capex:.0%}, opex +{ob.opex:.0%}, benefits −{ob.benefits:.0%} and {ob.delay_periods} "
            f"{unit}{'s' if ob.delay_periods != 1 else ''} later (Green Book class: "
            f"{html.escape(ob.reference_class.lower())})</div>")
        # The figures last: a page showing the new NPV already shows the matching verdict and switching values.
        delta = r.npv - r.reference_npv
        self.cards.value = (
            "<div class='vmo-cards'>"
            + card("NPV", "vmo-npv", format_money(r.npv, cur), r.npv, sign)
            + card("IRR (annual)", "vmo-irr", irr, r.irr)
            + card("Payback", "vmo-payback", when(r.payback), r.payback)
            + card("Discounted payback", "vmo-dpayback", when(r.discounted_payback), r.discounted_payback)
            + card(f"NPV change vs {html.escape(r.reference_label)}", "vmo-delta",
                   ("+" if delta > 0.5 else "") + format_money(delta, cur), delta,
                   "vmo-pos" if delta > 0.5 else "vmo-neg" if delta < -0.5 else "")
            + "</div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:  # a notebook displays the explorer as its UI
        return self.widget._repr_mimebundle_(**kwargs)
