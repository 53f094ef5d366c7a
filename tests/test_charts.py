"""Charts: they draw the numbers the analysis computed, in the house style, without pyplot state."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from vmo_lib.analysis.realisation import case_status  # noqa: E402
from vmo_lib.model import make_case  # noqa: E402
from vmo_lib.outputs import charts  # noqa: E402

PROFILE = {"owner": "Ops", "kpi": "Orders per FTE", "unit": "count", "baseline_value": 100,
           "baseline_date": "2025-12-01", "target_value": 150, "target_date": "2027-12-31", "frequency": "quarterly"}


@pytest.fixture(scope="module")
def status():
    # Build 1,000 over-runs to 1,200; benefit planned 400 a quarter from Q2 delivers 300 then 500.
    case = make_case({"case_id": "CH", "first_period": "2026Q1", "horizon": 6, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [1000]}],
                     benefits=[{"line_id": "B1", "name": "Saving", **PROFILE, "amounts": [0, 400, 400, 400, 400, 400]},
                               {"line_id": "B2", "name": "Later", **PROFILE, "amounts": [0, 0, 0, 0, 0, 100]}],
                     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 1200},
                              {"period": "2026Q2", "line_id": "B1", "amount": 300},
                              {"period": "2026Q3", "line_id": "B1", "amount": 500}])
    return case_status(case, "2026Q3")


@pytest.mark.parametrize(("x", "text"), [(1_234_567, "£1.23m"), (-350_000, "−£350k"), (12_500, "£12.5k"),
                                          (999, "£999"), (0, "£0"), (2.5e9, "£2.50bn")])
def test_money_format(x, text):
    assert charts.format_money(x, "GBP") == text


def test_value_map_draws_one_bubble_per_case_with_its_rag_colour():
    import pandas as pd

    register = pd.DataFrame({"case_id": list("ABCDE"), "currency": "GBP", "risk_spread": [1.0, 2, 3, 4, 5],
                             "expected_npv": [11.0, -1, 4, 6, 2], "budget": [1.0, 4, 0, 9, 1],
                             "rag": ["green", "red", "red", "amber", "green"]})
    fig = charts.value_risk_map(register)
    [ax] = fig.axes
    points = ax.collections[0]
    assert points.get_offsets().tolist() == [[1, 11], [2, -1], [3, 4], [4, 6], [5, 2]]
    faces = [to_hex(f[:3]) for f in points.get_facecolors()]
    assert faces[1] == charts.PALETTE["red"] and faces[0] == charts.PALETTE["green"]
    assert faces[3] == charts.PALETTE["amber"]


def test_value_map_refuses_to_mix_currencies():
    import pandas as pd

    register = pd.DataFrame({"case_id": ["A", "B"], "currency": ["GBP", "EUR"], "risk_spread": [1.0, 2],
                             "expected_npv": [1.0, 2], "budget": [1.0, 1], "rag": ["green", "red"]})
    with pytest.raises(ValueError, match="several currencies"):
        charts.value_risk_map(register)


def test_currency_axis_formatter_uses_k_and_m():
    f = charts.currency_formatter("GBP")
    assert [f(v, 0) for v in (0, 250_000, 1_500_000, 2_000_000)] == ["£0", "£250k", "£1.5m", "£2m"]


def test_bridge_waterfall_draws_the_bridge_numbers(status):
    # Hand-worked: baseline NPV 2,100 − 1,000 = 1,100; expected 300 + 500 + 3·400 + 100 − 1,200 = 900.
    # Cost −200, benefit +0 (300 + 500 = 800 as planned), timing 0.
    assert (status.baseline_npv, status.expected_npv) == (1100.0, 900.0)
    fig = charts.value_bridge_chart(status.bridge, "GBP")
    bars = [p for p in fig.axes[0].patches if p.get_width() == pytest.approx(0.6)]
    heights = [round(b.get_height(), 6) for b in bars]
    bottoms = [round(b.get_y(), 6) for b in bars]
    assert heights == [1100.0, 200.0, 0.0, 0.0, 900.0]
    assert bottoms == [0.0, 900.0, 900.0, 900.0, 0.0]
    assert to_hex(bars[1].get_facecolor()) == charts.PALETTE["loss"]


def test_realisation_curve_plots_the_cumulative_tables(status):
    fig = charts.realisation_curve(status)
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert list(lines["Approved baseline"].get_ydata()) == [0, 400, 800, 1200, 1600, 2100]
    assert list(lines["Actual to date"].get_ydata()) == [0, 300, 800]
    assert list(lines["Outlook (forecast, else plan)"].get_ydata()) == [800, 1200, 1600, 2100]
    assert "Review 2026Q3" in [t.get_text() for t in fig.axes[0].texts]


def test_rag_table_colours_each_benefit_by_its_status(status):
    fig = charts.rag_table(status.benefits, "GBP")
    cells = fig.axes[0].tables[0].get_celld()
    # B1: 800 of 800 → green; B2 not due yet → grey.
    assert cells[(1, 7)].get_text().get_text() == "Green"
    assert to_hex(cells[(1, 7)].get_facecolor()) == charts.PALETTE["green"]
    assert cells[(2, 7)].get_text().get_text() == "Not started / no data"
    assert cells[(1, 4)].get_text().get_text() == "£0"


def test_charts_draw_on_a_given_axes_and_leave_pyplot_alone(status):
    before = plt.get_fignums()
    figs = [charts.realisation_curve(status), charts.value_bridge_chart(status.bridge, "GBP"),
            charts.rag_table(status.benefits)]
    assert plt.get_fignums() == before
    fig, axes = plt.subplots(1, 2)
    try:
        assert charts.value_bridge_chart(status.bridge, "GBP", ax=axes[1]) is fig
        assert len(axes[1].patches) >= 5 and not axes[0].patches
    finally:
        plt.close(fig)
    for f in figs:
        buf = io.BytesIO()
        f.savefig(buf, format="png")      # renders without pyplot
        assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------------
# defects a board member saw (issue 14): labels, colours, ticks, keys, alt text
# --------------------------------------------------------------------------------------------------
SAMPLE = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "sample"


def _boxes(fig, texts):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    return [t.get_window_extent(r) for t in texts if t.get_text()]


def _overlaps(boxes):
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]


@pytest.fixture(scope="module")
def sample_reviews():
    from vmo_lib.analysis.review import review_case
    from vmo_lib.intake.loader import load_portfolio

    pf = load_portfolio(SAMPLE, as_of="2026Q3")
    return {c.case_id: review_case(c, "2026Q3", iterations=2_000) for c in pf.cases}


@pytest.fixture(scope="module")
def sample_register(sample_reviews):
    from vmo_lib.portfolio.review import review_portfolio

    return review_portfolio(list(sample_reviews.values()), "2026Q3").register


def test_value_map_labels_of_the_sample_portfolio_do_not_overlap(sample_register):
    fig = charts.value_risk_map(sample_register)
    [ax] = fig.axes
    labels = [t for t in ax.texts if t.get_text()]
    assert sorted(t.get_text() for t in labels) == sorted(sample_register["case_id"])
    assert _overlaps(_boxes(fig, labels)) == []


def test_value_map_has_a_tick_below_zero_friendly_rag_legend_and_a_size_key(sample_register):
    fig = charts.value_risk_map(sample_register)
    [ax] = fig.axes
    lo = ax.get_ylim()[0]
    assert sample_register["expected_npv"].min() < 0
    assert any(lo <= t < 0 for t in ax.get_yticks())                # e.g. −£2m under LOYALTY's −£1.51m
    legends = [c for c in ax.get_children() if isinstance(c, matplotlib.legend.Legend)]
    texts = {t.get_text() for lg in legends for t in lg.get_texts()}
    titles = {lg.get_title().get_text() for lg in legends}
    assert "not yet rated" in texts and "grey" not in texts and "RAG rating" in titles
    assert any("bubble size" in t for t in titles)
    assert all(t.startswith("£") for t in texts - {"green", "amber", "red", "not yet rated"})


def test_tornado_labels_never_overlap_on_the_sample_cases(sample_reviews):
    for cid, review in sample_reviews.items():
        if not len(review.tornado):
            continue
        fig = charts.tornado_chart(review.tornado, "GBP")
        [ax] = fig.axes
        boxes = _boxes(fig, [t for t in ax.texts if t.get_text()])
        assert _overlaps(boxes) == [], cid


def test_bridge_totals_are_neutral_so_a_fall_never_looks_like_a_rise(status):
    fig = charts.value_bridge_chart(status.bridge, "GBP")
    bars = [p for p in fig.axes[0].patches if p.get_width() == pytest.approx(0.6)]
    assert to_hex(bars[0].get_facecolor()) == to_hex(bars[-1].get_facecolor()) == charts.PALETTE["total"]
    assert charts.PALETTE["total"] not in (charts.PALETTE["gain"], charts.PALETTE["loss"])


def test_npv_histogram_and_s_curve_mark_p10_p50_p90_zero_and_the_approved_npv(sample_reviews):
    r = sample_reviews["CHATBOT-2025"]                                # expected −£593k against £4.99m approved
    sim, ref = r.simulation, r.status.current_baseline_npv
    for chart in (charts.npv_distribution_chart, charts.npv_s_curve):
        fig = chart(sim, "GBP", reference=ref)
        [ax] = fig.axes
        xs = {round(float(line.get_xdata()[0]), 6) for line in ax.get_lines() if len(set(line.get_xdata())) == 1}
        for v in (sim.percentile(10), sim.percentile(50), sim.percentile(90), ref):
            assert round(float(v), 6) in xs
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels[-1] == f"Approved NPV {charts.format_money(ref, 'GBP')}"
        assert "P10" in charts.alt_text(fig) and "approved NPV" in charts.alt_text(fig)


def test_every_chart_has_a_text_alternative_saying_what_it_shows(status, sample_reviews, sample_register):
    r = sample_reviews["ERP-2024"]
    figs = [charts.realisation_curve(status), charts.value_bridge_chart(status.bridge, "GBP"),
            charts.rag_table(status.benefits, "GBP"), charts.tornado_chart(r.tornado, "GBP"),
            charts.npv_distribution_chart(r.simulation, "GBP"), charts.npv_s_curve(r.simulation, "GBP"),
            charts.value_risk_map(sample_register)]
    for fig in figs:
        alt = charts.alt_text(fig)
        assert len(alt) > 60 and not alt.startswith("Chart:"), alt
    b = r.status.bridge
    alt = charts.alt_text(charts.value_bridge_chart(b, "GBP"))
    assert f"cost effect {charts.format_money(b.cost, 'GBP')}" in alt and charts.format_money(b.end, "GBP") in alt
