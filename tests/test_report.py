"""Review-pack rendering: safe names, escaping, formatting, narrative (no kernels: fast)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest

from vmo_lib.analysis.appraisal import appraise
from vmo_lib.analysis.realisation import case_status
from vmo_lib.model import make_case
from vmo_lib.outputs import html as report

XSS = "<script>alert(1)</script>"
HOSTILE_IDS = ["../x", "a/b", "a\\b", "CON", "con.txt", "NUL", ".hidden", "..", ".", "", "x" * 300,
               "é/../../etc/passwd", "a b", "-rf", "LPT1.xlsx", "ok-id"]


# --- safe names -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("case_id", HOSTILE_IDS)
def test_safe_id_is_portable_and_stays_inside_out(tmp_path, case_id):
    name = report.safe_id(case_id)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name), name
    assert len(name) <= 40
    assert name.split(".")[0].upper() not in {"CON", "NUL", "LPT1", "PRN", "AUX"}
    target = report.safe_child(tmp_path, "cases", name)
    target.mkdir(parents=True)
    assert tmp_path.resolve() in target.resolve().parents


def test_safe_id_keeps_a_clean_id_and_marks_a_changed_one_with_a_hash():
    assert report.safe_id("CRM-2025") == "CRM-2025"
    assert report.safe_id("PAY_2024.v2") == "PAY_2024.v2"
    changed = report.safe_id("a/b")
    assert changed.startswith("a_b-") and len(changed) == len("a_b-") + 8


def test_ids_that_sanitise_alike_get_different_names():
    ids = ["a/b", "a\\b", "a b", "a_b", "a:b", "x" * 300, "x" * 301]
    names = [report.safe_id(i) for i in ids]
    assert len(set(names)) == len(ids)


@pytest.mark.parametrize("parts", [("..", "x"), ("cases", "..", ".."), ("/etc",), ("cases", "/abs"), (".",)])
def test_safe_child_refuses_paths_that_leave_the_output_folder(tmp_path, parts):
    with pytest.raises(ValueError, match="would leave the output folder"):
        report.safe_child(tmp_path, *parts)


# --- formatting -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "currency", "compact", "text"), [
    (1234567.8, "GBP", False, "£1,234,568"),
    (-1234.4, "GBP", False, "−£1,234"),
    (0.4, "GBP", False, "£0"),
    (2_345_678, "EUR", True, "€2.35m"),
    (-593_000, "GBP", True, "−£593k"),
    (9_999, "USD", True, "$9,999"),
    (45_200, "CHF", True, "CHF 45.2k"),
    (12_500, "GBP", True, "£12.5k"),
    (9_999.6, "GBP", True, "£10.0k"),   # three significant digits of the rounded value, not £10.00k
    (999_600, "GBP", True, "£1.00m"),   # not £1000k
    (-0.4, "GBP", True, "£0"),          # no −£0
    (float("nan"), "GBP", False, "–"),
    (None, "GBP", True, "–"),
])
def test_format_money(value, currency, compact, text):
    assert report.format_money(value, currency, compact=compact) == text


def test_one_money_format_for_charts_and_packs():
    from vmo_lib.outputs import charts

    for x in (0, 999, 12_500, -350_000, 1_234_567, 2.5e9, float("nan")):
        assert charts.format_money(x, "GBP") == report.format_money(x, "GBP", compact=True)


@pytest.mark.parametrize(("value", "text"), [(-0.004, "0%"), (-0.25, "−25%"), (0.8734, "87%"), (None, "–")])
def test_format_percent_never_shows_minus_zero(value, text):
    assert report.format_percent(value) == text


def test_table_shows_each_row_in_its_own_currency():
    df = pd.DataFrame({"case": ["A", "B"], "npv": [1500.0, -2500.0], "currency": ["GBP", "EUR"]})
    h = report.table(df, money=["npv"], currency="currency").html
    assert "£1,500" in h and "−€2,500" in h
    assert "<th>Currency</th>" not in h  # every amount carries its symbol


def test_table_escapes_every_cell_and_formats_numbers():
    df = pd.DataFrame({"line_name": [XSS, "B"], "plan": [1234567.0, -50.0], "share": [0.8734, None],
                       "count": [3, 12000]})
    h = report.table(df, money=["plan"], percent=["share"]).html
    assert "<script>" not in h and "&lt;script&gt;alert(1)&lt;/script&gt;" in h
    assert '<td class="num">£1,234,567</td>' in h and "−£50" in h
    assert ">87%<" in h and ">–<" in h and ">12,000<" in h
    assert "<th>Line name</th>" in h


def test_table_of_nothing_says_so():
    assert "No rows here" in report.table(pd.DataFrame(), empty="No rows here").html


# --- HTML blocks and pages --------------------------------------------------------------------------------------
def _case(title: str = "Demo", **meta):
    return make_case(
        {"case_id": "X1", "title": title, "sponsor": "CFO", "first_period": "2026Q1", "horizon": 3,
         "discount_rate": 0.0, **meta},
        costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
        benefits=[{"line_id": "B1", "name": "Savings", "owner": "Ops", "frequency": "quarterly",
                   "kpi": "Cost per call", "unit": "GBP", "baseline_value": 10, "baseline_date": "2025-12-01",
                   "target_value": 8, "target_date": "2027-01-01", "amounts": [0, 100, 100]},
                  {"line_id": "B2", "name": "Faster <b>quotes</b>", "owner": None, "frequency": "quarterly",
                   "kpi": "Days", "unit": "days", "baseline_value": 5, "baseline_date": "2025-12-01",
                   "target_value": 2, "target_date": "2027-01-01", "amounts": [0, 0, 50]}],
        actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110},
                 {"period": "2026Q2", "line_id": "B1", "amount": 80, "kpi_value": 9.5}],
    )


def test_case_summary_escapes_the_title_and_colours_the_verdict():
    case = _case(XSS)
    s = case_status(case, "2026Q2")
    h = report.case_summary(case, s, appraise(case)).html
    assert "<script>" not in h and "&lt;script&gt;alert(1)&lt;/script&gt;" in h
    assert f"rag-{s.rag}" in h and s.verdict.label in h


def test_index_escapes_workbook_text_and_shows_failures_with_their_issues():
    entries = [
        {"case_id": "A1", "title": XSS, "status": "ok", "verdict": "on track", "rag": "green",
         "figures": {"Expected NPV": "£1.2m"}, "links": [{"label": "Pack", "href": "cases/A1/pack.html"}]},
        {"case_id": "<img src=x onerror=alert(2)>", "title": "", "status": "failed", "step": "load",
         "error": "1 error", "issues": [{"severity": "error", "sheet": "Case", "cell": "B4",
                                         "message": "<b>bad id</b>"}], "links": []},
    ]
    page = report.render_index(entries, as_of="2026Q3", source="data/<sample>")
    assert "<script>" not in page and "<img" not in page and "<b>bad" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;bad id&lt;/b&gt;" in page
    assert 'href="cases/A1/pack.html"' in page and "£1.2m" in page and "B4" in page
    assert "1 failed" in page
    # the failed case comes first: it needs attention
    assert page.index("onerror") < page.index("alert(1)")


def test_failure_page_lists_every_issue_escaped():
    page = report.render_failure_page(case_id="X", source="x.xlsx", as_of="2026Q3", error="2 errors",
                                      issues=[{"severity": "error", "sheet": "Costs", "cell": "F7", "field": "amount",
                                               "message": XSS},
                                              {"severity": "warning", "sheet": "Benefits", "cell": "D5",
                                               "field": "owner", "message": "owner missing"}])
    assert "<script>" not in page and page.count("<tr>") == 3 and "F7" in page and "D5" in page


def _executed_notebook(case) -> nbformat.NotebookNode:
    """A notebook as papermill leaves it, with outputs made by the report helpers."""
    s = case_status(case, "2026Q2")
    v4 = nbformat.v4
    cells = [
        v4.new_markdown_cell("# Analyst notes", metadata={"tags": ["hide-in-pack"]}),
        v4.new_code_cell("secret_code = 1", metadata={"tags": ["parameters"]}),
        v4.new_markdown_cell("## Summary"),
        v4.new_code_cell("report.case_summary(case, status)", execution_count=2, outputs=[
            v4.new_output("stream", name="stderr", text="FutureWarning: noise\n"),
            v4.new_output("execute_result", {"text/html": report.case_summary(case, s).html,
                                              "text/plain": "Html(...)"}, execution_count=2)]),
    ]
    return v4.new_notebook(cells=cells)


def test_pack_html_has_no_code_no_prompts_no_scripts_and_escapes_the_title():
    page = report.render_pack_html(_executed_notebook(_case(XSS)), banner="Quarterly review 2026Q3")
    assert "jp-InputArea" not in page and "secret_code" not in page and "In&nbsp;[" not in page
    assert "<script" not in page  # self-contained and nothing executable, not even nbconvert's
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Analyst notes" not in page and "FutureWarning" not in page
    assert "Quarterly review 2026Q3" in page and ".vmo-card" in page  # the house stylesheet is inline


def test_failed_pack_html_shows_the_code_for_the_analyst():
    page = report.render_pack_html(_executed_notebook(_case()), include_code=True)
    assert "secret_code" in page and "Analyst notes" in page


# --- results and narrative ------------------------------------------------------------------------------------
def test_results_file_is_byte_identical_for_the_same_numbers(tmp_path):
    case = _case()
    s = case_status(case, "2026Q2")
    a = report.case_results(case, s, appraise(case), seed=7)
    b = report.case_results(case, case_status(case, "2026Q2"), appraise(case), seed=7)
    p1 = report.write_results(tmp_path / "one", a).read_bytes()
    p2 = report.write_results(tmp_path / "two", b).read_bytes()
    assert p1 == p2
    data = json.loads(p1)
    # hand-worked (no discounting): expected NPV = -110 + 80 + 100 (B1 plan 2026Q3) + 50 (B2) = 120;
    # baseline NPV = -100 + 100 + 100 + 50 = 150
    assert data["status"]["expected_npv"] == pytest.approx(120.0)
    assert data["status"]["baseline_npv"] == pytest.approx(150.0)
    assert [c["label"] for c in data["cards"]][:3] == ["Expected NPV", "Approved NPV", "Forward NPV"]
    # the card under the expected NPV says how far it moved from the approved one: 120 − 150
    assert data["cards"][0]["note"] == "−£30 vs approved"
    assert data["seed"] == 7 and data["verdict"] == s.verdict.label


def test_narrative_states_the_hand_worked_figures():
    s = case_status(_case(), "2026Q2")
    lines = report.narrative(s)
    assert lines[0] == s.verdict_sentence
    # B1: 80 actual against 100 planned in 2026Q2; B2 had nothing due yet (plan 0 in 2026Q2)
    assert "Benefits realised to date: £80 of £100 planned for the reported periods (80%)." in lines
    # C1: 110 spent against 100 planned in 2026Q1
    assert "Spend to date: £110 against a plan of £100 (110% of plan), an overrun of £10." in lines
    assert "Furthest below plan: Savings (owner Ops), £20 short to date." in lines
    assert not any(x.startswith("Furthest ahead") for x in lines)
    gaps = [x for x in lines if "measurement gap" in x]
    assert len(gaps) == 1 and "no owner (1)" in gaps[0]


def test_narrative_when_nothing_was_reported_says_what_was_due():
    case = make_case({"case_id": "N", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "S", "owner": "Ops", "amounts": [0, 40, 40]}])
    lines = report.narrative(case_status(case, "2026Q2"))
    assert "No benefit has been reported yet although £40 was planned by 2026Q2." in lines
    assert not any(x.startswith("Spend to date") for x in lines)


def test_appraisal_table_says_never_for_a_payback_that_never_comes():
    case = make_case({"case_id": "P", "horizon": 3, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 30, 30]}])
    h = report.appraisal_table(appraise(case)).html
    assert h.count("never") == 2 and "−£40" in h  # NPV = -100 + 60, undiscounted


def test_public_names_exist():
    assert sorted(report.__all__) == report.__all__
    assert all(hasattr(report, n) for n in report.__all__)


# --- portfolio helpers ------------------------------------------------------------------------------------------
def _register_frame():
    return pd.DataFrame({
        "case_id": ["A", "B", "C", "D", "E"], "title": ["a", "b", "c", "d", XSS], "currency": "GBP",
        "verdict": ["on track", "value destroyed", "on track", "at risk", "on track"],
        "rag": ["green", "red", "red", "amber", "green"], "status": ["live", "live", "live", "live", "proposed"],
        "case_type": ["", "", "", "", ""], "baseline_npv": [10.0, 50, 5, 8, 2], "expected_npv": [11.0, -1, 4, 6, 2],
        "forward_npv": [-3.0, 2, 1, 4, 2], "risk_spread": [1.0, 2, 3, 4, 5], "budget": [1.0, 4, 0, 9, 1],
    })


def test_decisions_put_value_destroyed_first_and_skip_healthy_cases():
    d = report.decisions_needed(_register_frame())
    assert d["case_id"].tolist() == ["B", "A", "C", "D", "E"]
    assert d["decision"].tolist() == ["stop or re-plan", "rethink", "recover", "watch", "decide"]
    assert "−£3" in d.loc[1, "reason"]  # A: forward NPV negative although green
    healthy = _register_frame().iloc[[0]].assign(forward_npv=1.0)
    assert report.decisions_needed(healthy).empty


def test_decision_reasons_read_as_sentences():
    d = report.decisions_needed(_register_frame()).set_index("case_id")["reason"]
    assert d["B"] == "value destroyed: expected NPV −£1 against £50 approved"
    assert d["C"] == "rated red (on track): a recovery plan is due"
    assert d["D"] == "at risk: expected NPV £6 against £8 approved"
    assert not any("nan" in r or "grey" in r for r in d)


def test_portfolio_headline_states_value_verdicts_and_decisions():
    reg = SimpleNamespace(as_of="2026Q3", cases=_register_frame())
    lines = report.portfolio_headline(reg)
    # hand-worked: approved 10 + 50 + 5 + 8 + 2 = 75; expected 11 − 1 + 4 + 6 + 2 = 22; 53 destroyed
    assert lines[0] == ("GBP (5 cases): approved NPV £75, expected NPV now £22: £53 of value destroyed "
                        "since approval.")
    assert lines[1] == "Verdicts: 3 on track, 1 at risk, 1 value destroyed."
    assert lines[2] == ("5 cases need a decision: 1 to stop or re-plan, 1 to rethink, 1 needing a recovery plan, "
                        "1 to watch, 1 awaiting an investment decision.")


def test_portfolio_headline_never_adds_currencies():
    frame = _register_frame().assign(currency=["GBP", "GBP", "EUR", "EUR", "EUR"])
    lines = report.portfolio_headline(SimpleNamespace(as_of="2026Q3", cases=frame))
    # EUR: approved 5 + 8 + 2 = 15, expected 4 + 6 + 2 = 12; GBP: 60 against 10
    assert lines[0] == "EUR (3 cases): approved NPV €15, expected NPV now €12: €3 of value destroyed since approval."
    assert lines[1] == "GBP (2 cases): approved NPV £60, expected NPV now £10: £50 of value destroyed since approval."


def test_index_gives_the_portfolio_headline_and_names_unrated_cases():
    headline = ["GBP (2 cases): approved NPV £75 " + XSS, "3 cases need a decision."]
    page = report.render_index(
        [{"case_id": "A", "title": "a", "status": "ok", "verdict": "on track", "rag": "grey", "links": []}],
        as_of="2026Q3", source="x",
        portfolio={"status": "ok", "links": [{"label": "Pack", "href": "portfolio.html"}], "headline": headline})
    assert "approved NPV £75 &lt;script&gt;" in page and "3 cases need a decision." in page
    assert '<a href="portfolio.html">Portfolio pack</a>' in page
    assert "not yet rated" in page and ">grey<" not in page


def test_register_table_escapes_titles():
    h = report.register_table(_register_frame().assign(vfm=1.0, realisation_pct=0.5)).html
    assert "<script>" not in h and "&lt;script&gt;" in h and "rag-red" in h


def test_risk_summary_names_the_plan_simulated_and_drivers_without_a_switching_value():
    from vmo_lib.analysis.risk import monte_carlo, switching_values

    # NPV = −100 + 60 = −40 (no discounting): negative already, so no delay can make it reach zero
    case = make_case({"case_id": "R", "horizon": 3, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0], "low": 90, "likely": 100,
                             "high": 130}],
                     benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 30, 30]}])
    sim = monte_carlo(case, iterations=500, seed=1)
    assert sim.deterministic_npv == pytest.approx(-40.0)
    h = report.risk_summary(sim, switching_values(case), "GBP").html
    assert "the approved plan (baseline)" in h and "500 simulated outcomes" in h
    assert "Delay: no switching value" in h and "None:" not in h


def test_narrative_when_no_benefit_was_due_says_so_without_a_zero_of_zero():
    # benefits start in 2026Q3; by 2026Q2 only the build cost was due (and spent)
    case = make_case({"case_id": "Z", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "S", "owner": "Ops", "amounts": [0, 0, 40]}],
                     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 100},
                              {"period": "2026Q2", "line_id": "B1", "amount": 0}])
    lines = report.narrative(case_status(case, "2026Q2"))
    assert "No benefit was planned or reported up to 2026Q2." in lines
    assert not any("£0 of £0" in x or "(–)" in x for x in lines)
