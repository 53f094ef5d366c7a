"""The portfolio pack as a board reads it, in a real browser (Debian's headless Chromium through
Playwright, no network): decisions come first, the register fits a 1024 px screen without scrolling
sideways, carries a totals row and titles that wrap onto at most three lines; every chart image has
alt text.

Needs ``/usr/bin/chromium`` (``make browser``); skipped locally without it, FAILS when ``CI`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from vmo_lib.analysis.review import review_case
from vmo_lib.intake.loader import load_portfolio
from vmo_lib.outputs import charts, portfolio_pack
from vmo_lib.outputs import html as report
from vmo_lib.portfolio.review import review_portfolio
from vmo_lib.portfolio.settings import load_portfolio_settings

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
CHROMIUM = Path(os.environ.get("VMO_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sample_review():
    pf = load_portfolio(SAMPLE, as_of="2026Q3")
    reviews = [review_case(c, "2026Q3", iterations=2_000) for c in pf.cases]
    return review_portfolio(reviews, "2026Q3", settings=load_portfolio_settings(SAMPLE))


@pytest.fixture(scope="module")
def pack(sample_review, tmp_path_factory):
    """The portfolio pack's blocks in the pack's order, rendered by the pack template."""
    r = sample_review
    blocks = [portfolio_pack.portfolio_summary(r), "## Decisions needed", portfolio_pack.decisions_table(r),
              "## Movement since the last review", portfolio_pack.movement_section(r), "## Value map",
              report.figure(charts.value_risk_map(r.register)), "## Register", portfolio_pack.register_table(r.register),
              "## Selection at the budget", portfolio_pack.selection_table(r)]
    cells = []
    for b in blocks:
        if isinstance(b, str):
            cells.append(v4.new_markdown_cell(b))
        else:
            cells.append(v4.new_code_cell("x", outputs=[v4.new_output("display_data", {"text/html": b.html})]))
    page = report.render_pack_html(nbformat.v4.new_notebook(cells=cells), banner="Quarterly review 2026Q3")
    path = tmp_path_factory.mktemp("pack") / "portfolio.html"
    path.write_text(page, encoding="utf-8")
    return path


def test_the_pack_puts_decisions_before_the_register_and_the_appendices(pack):
    text = pack.read_text(encoding="utf-8")
    order = [text.index(k) for k in ("Approved NPV (GBP)", "Decisions needed", "First review on record",
                                     "Value map", "class=\"vmo-table vmo-register\"", "Selection at the budget")]
    assert order == sorted(order)
    assert "size: A4 landscape" in text and "size: A4;" in text


def test_every_chart_image_has_alt_text(pack):
    import re

    imgs = re.findall(r"<img[^>]*>", pack.read_text(encoding="utf-8"))
    assert imgs and all(re.search(r'alt="[^"]{40,}"', i) for i in imgs)


def test_register_fits_1024px_without_scrolling_sideways(pack):
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 900})
            page.goto(pack.as_uri())
            m = page.evaluate("""() => {
              const doc = document.documentElement, t = document.querySelector('table.vmo-register');
              const main = document.querySelector('.vmo-main').getBoundingClientRect();
              const r = t.getBoundingClientRect();
              const titles = [...t.querySelectorAll('tbody .vmo-title')].map(e => {
                const lh = parseFloat(getComputedStyle(e).lineHeight); return Math.round(e.getBoundingClientRect().height / lh); });
              return {scroll: doc.scrollWidth, client: doc.clientWidth, right: r.right, mainRight: main.right,
                      rows: t.querySelectorAll('tbody tr').length, foot: t.querySelector('tfoot').innerText,
                      maxLines: Math.max(...titles)};
            }""")
        finally:
            browser.close()
    assert m["scroll"] <= m["client"], f"the page scrolls sideways: {m['scroll']} px wide in {m['client']} px"
    assert m["right"] <= m["mainRight"], f"the register ends at {m['right']} px, outside its card ({m['mainRight']} px)"
    assert m["rows"] == 16
    assert "Total" in m["foot"] and "£53.7m" in m["foot"]     # approved NPV of the 16 cases, portfolio basis
    assert m["maxLines"] <= 3


def test_decisions_name_the_owner_and_the_due_date(sample_review):
    import re

    h = portfolio_pack.decisions_table(sample_review).html
    rows = re.findall(r"<tr>(.*?)</tr>", h)[1:]
    assert len(rows) == len(sample_review.decisions) == 7
    erp = next(r for r in rows if ">ERP-2024<" in r)
    assert ">recover<" in erp and ">Chief Financial Officer<" in erp and ">31 Dec 2026<" in erp   # sponsor; end of 2026Q4
    assert "by the next quarterly review, 31 Dec 2026 (2026Q4 review)" in h
    assert portfolio_pack.decision_due("2026Q4") == "31 Mar 2027 (2027Q1 review)"


def test_headline_sets_approved_expected_and_realised_value_on_the_portfolio_basis(sample_review):
    h = portfolio_pack.portfolio_summary(sample_review).html
    t = sample_review.totals.set_index("currency").loc["GBP"]
    assert f"Approved NPV (GBP)</div><div class=\"vmo-value\">{report.format_money(t['approved_npv_pb'], 'GBP', True)}" in h
    assert f"Expected NPV (GBP)</div><div class=\"vmo-value\">{report.format_money(t['expected_npv_pb'], 'GBP', True)}" in h
    realised = portfolio_pack.realised_to_date(sample_review).set_index("currency").loc["GBP"]
    assert realised["cases"] == 16 and 0 < realised["realised_pb"] < realised["planned_pb"]
    assert "Benefits realised (GBP)" in h
    assert "First review on record" in portfolio_pack.movement_section(sample_review).html


def test_realised_value_is_restated_like_every_total():
    # One yearly case, benefits 100 a year from 2026, 60 reported in 2026 and 50 in 2027, reviewed in 2027;
    # basis: start of 2027 at 10 %: 2026 compounds forward one year (x1.1), 2027 stays.
    from vmo_lib.model import make_case
    from vmo_lib.portfolio.basis import PortfolioBasis
    from vmo_lib.portfolio.settings import PortfolioSettings

    case = make_case({"case_id": "Y", "first_period": "2026", "period_length": "year", "horizon": 3,
                      "discount_rate": 0.0, "price_base": "real", "base_year": 2027},
                     benefits=[{"line_id": "B1", "name": "S", "amounts": [100, 100, 100]}],
                     actuals=[{"period": "2026", "line_id": "B1", "amount": 60},
                              {"period": "2027", "line_id": "B1", "amount": 50}])
    pr = review_portfolio([review_case(case, "2027Q4", iterations=0)], "2027Q4",
                          settings=PortfolioSettings(basis=PortfolioBasis("2027", 0.10, "real")))
    t = portfolio_pack.realised_to_date(pr).set_index("currency").iloc[0]
    assert t["realised_pb"] == pytest.approx(60 * 1.1 + 50)
    assert t["planned_pb"] == pytest.approx(100 * 1.1 + 100)
