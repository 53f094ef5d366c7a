"""Review-pack rendering: safe names, escaping, formatting, narrative (no kernels: fast)."""

from __future__ import annotations

import json
import re

import nbformat
import pandas as pd
import pytest

from vmo_lib.analysis.realisation import case_status
from vmo_lib.analysis.review import review_case
from vmo_lib.model import make_case
from vmo_lib.outputs import case_pack, portfolio_pack
from vmo_lib.outputs import html as report
from vmo_lib.portfolio.basis import PortfolioBasis
from vmo_lib.portfolio.review import review_portfolio
from vmo_lib.portfolio.settings import PortfolioSettings

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
    review = review_case(case, "2026Q2", iterations=0)
    s = review.status
    h = case_pack.case_summary(review).html
    assert "<script>" not in h and "&lt;script&gt;alert(1)&lt;/script&gt;" in h
    assert f"rag-{s.rag}" in h and s.verdict.label in h
    # hand-worked (see test_results_file_is_byte_identical_for_the_same_numbers): expected NPV 120 against
    # 150 in force is 30 % of PV costs below plan while still positive: at risk, so a recovery plan is due
    assert s.verdict.label == "at risk"
    assert "Decision: recover — at risk: expected NPV £120 against £150 in force; a recovery plan is due" in h


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
    review = review_case(case, "2026Q2", iterations=0)
    v4 = nbformat.v4
    cells = [
        v4.new_markdown_cell("# Analyst notes", metadata={"tags": ["hide-in-pack"]}),
        v4.new_code_cell("secret_code = 1", metadata={"tags": ["parameters"]}),
        v4.new_markdown_cell("## Summary"),
        v4.new_code_cell("case_pack.case_summary(review)", execution_count=2, outputs=[
            v4.new_output("stream", name="stderr", text="FutureWarning: noise\n"),
            v4.new_output("execute_result", {"text/html": case_pack.case_summary(review).html,
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
    a = case_pack.case_results(review_case(_case(), "2026Q2", seed=7, iterations=500))
    b = case_pack.case_results(review_case(_case(), "2026Q2", seed=7, iterations=500))  # computed afresh
    p1 = report.write_results(tmp_path / "one", a).read_bytes()
    p2 = report.write_results(tmp_path / "two", b).read_bytes()
    assert p1 == p2
    data = json.loads(p1)
    # hand-worked (no discounting): expected NPV = -110 + 80 + 100 (B1 plan 2026Q3) + 50 (B2) = 120;
    # baseline NPV = -100 + 100 + 100 + 50 = 150, never re-baselined, so approved = in force = 150
    assert data["expected_npv"] == pytest.approx(120.0)
    assert data["baseline_npv"] == data["approved_npv"] == data["in_force_npv"] == pytest.approx(150.0)
    assert data["forward_npv"] == pytest.approx(150.0)  # what remains after 2026Q2: 100 + 50
    assert data["realisation_pct"] == pytest.approx(0.8)  # B1: 80 of 100 due in 2026Q2
    assert [c["label"] for c in data["cards"]][:3] == ["Expected NPV", "Approved NPV", "Forward NPV"]
    # the card under the expected NPV says how far it moved from the approved one: 120 − 150
    assert data["cards"][0]["note"] == "expected: −£30 vs approved"
    assert data["seed"] == 7 and data["verdict"] == "at risk" and data["decision"] == "recover"
    # the Monte Carlo of the outlook: 2026Q1-Q2 are actuals, and no flow left has a range, so every
    # outcome is exactly 120: never below zero, never back to 150
    assert data["risk_p10"] == data["risk_p50"] == data["risk_p90"] == pytest.approx(120.0)
    assert data["prob_below_zero"] == 0 and data["prob_reach_approved"] == 0
    assert data["risk_basis"] == "expected outlook as of 2026Q2"


def test_narrative_states_the_hand_worked_figures():
    s = case_status(_case(), "2026Q2")
    lines = case_pack.narrative(s)
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
    lines = case_pack.narrative(case_status(case, "2026Q2"))
    assert "No benefit has been reported yet although £40 was planned by 2026Q2." in lines
    assert not any(x.startswith("Spend to date") for x in lines)


def test_appraisal_table_says_never_for_a_payback_that_never_comes():
    case = make_case({"case_id": "P", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 30, 30]}])
    h = case_pack.appraisal_table(review_case(case, "2026Q1", iterations=0)).html
    # two columns (expected outlook = the plan, nothing reported; approved), each with two paybacks
    assert "Expected outlook" in h and "Approved" in h and "In force" not in h
    assert h.count("never") == 4 and h.count("−£40") == 2  # NPV = -100 + 60, undiscounted


def test_appraisal_table_adds_the_baseline_in_force_when_re_baselined():
    # RB1 (approved before the review) cuts B1 to 40 a quarter: NPV in force = -100 + 80 = -20; the
    # expected outlook follows RB1 (nothing reported), so it is -20 too; approved stays -100 + 120 = +20.
    case = make_case({"case_id": "P", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 60, 60]}],
                     rebaselines=[{"version": "RB1", "approved": "2025-12-01",
                                   "amounts": {"C1": [100, 0, 0], "B1": [0, 40, 40]}}])
    h = case_pack.appraisal_table(review_case(case, "2026Q1", iterations=0)).html
    head = re.findall(r"<th[^>]*>([^<]*)</th>", h)
    assert head == ["Metric", "Expected outlook", "Approved", "In force (RB1)"]
    npv_row = re.search(r"<tr><td>NPV</td>(.*?)</tr>", h).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', npv_row) == ["−£20", "£20", "−£20"]


def test_public_names_exist():
    assert sorted(report.__all__) == report.__all__
    assert all(hasattr(report, n) for n in report.__all__)


# --- portfolio helpers ------------------------------------------------------------------------------------------
def _quarters(case_id, costs, benefits, actuals=(), title=None, **meta):
    """Four quarters from 2026Q1, no discounting, reviewed as of 2026Q2 (so every figure works by hand)."""
    return make_case({"case_id": case_id, "title": title or case_id.lower(), "first_period": "2026Q1", "horizon": 4,
                      "discount_rate": 0.0, "status": "in delivery", **meta},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": costs}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": benefits}],
                     actuals=[{"period": p, "line_id": line, "amount": x} for p, line, x in actuals])


def _decision_cases(title_of_a: str = "a", currency: dict | None = None):
    """One case for each decision of the one rule (vmo_lib.analysis.realisation.decide), as of 2026Q2.

    S  plan 400 − 200 = 200, benefits delivered to plan; what remains (costs 200, benefits 100)
       has forward NPV −100 → stop.
    M  the same figures, regulatory/mandatory → never "stop": continue (on track).
    X  the same figures, cancelled → closed.
    R  plan −100 + 120 = 20; 200 spent → expected −200 + 120 = −80 < 0 although 20 was promised:
       value destroyed; what remains (80) still pays → re-plan.
    A  plan −100 + 180 = 80; 120 spent → expected 60, 20 below plan = 20 % of PV costs (> 5 %) while
       positive: at risk → recover.
    P  proposed, plan 80 → not started.
    G  plan 80, spent and realised to plan → on track, forward NPV 120 → continue.
    """
    cur = currency or {}
    done = [("2026Q1", "B1", 150), ("2026Q2", "B1", 150)]

    def c(case_id, costs, benefits, actuals=(), **meta):
        return _quarters(case_id, costs, benefits, actuals, currency=cur.get(case_id, "GBP"), **meta)

    return [
        c("S", [0, 0, 100, 100], [150, 150, 50, 50], done),
        c("M", [0, 0, 100, 100], [150, 150, 50, 50], done, case_type="Regulatory/mandatory"),
        c("X", [0, 0, 100, 100], [150, 150, 50, 50], done, status="cancelled"),
        c("R", [100, 0, 0, 0], [0, 40, 40, 40], [("2026Q1", "C1", 200), ("2026Q2", "B1", 40)]),
        _quarters("A", [100, 0, 0, 0], [0, 60, 60, 60], [("2026Q1", "C1", 120), ("2026Q2", "B1", 60)],
                  title=title_of_a, currency=cur.get("A", "GBP")),
        c("P", [100, 0, 0, 0], [0, 60, 60, 60], status="proposed"),
        c("G", [100, 0, 0, 0], [0, 60, 60, 60], [("2026Q1", "C1", 100), ("2026Q2", "B1", 60)]),
    ]


#: The cases' own basis (start of 2026Q1, no discounting, real 2026 prices): restated, every NPV stays as it is.
OWN_BASIS = PortfolioBasis("2026Q1", 0.0, "real")


def _portfolio(basis: PortfolioBasis | None = OWN_BASIS, **kw):
    cases = _decision_cases(**kw)
    return review_portfolio([review_case(c, "2026Q2", iterations=0) for c in cases], "2026Q2",
                            settings=PortfolioSettings(basis=basis))


def test_decisions_put_the_most_urgent_first_and_skip_cases_that_continue_or_closed():
    pr = _portfolio()
    assert dict(zip(pr.register["case_id"], pr.register["decision"], strict=True)) == {
        "S": "stop", "M": "continue", "X": "closed", "R": "re-plan", "A": "recover", "P": "not started",
        "G": "continue"}
    d = pr.decisions
    assert d["case_id"].tolist() == ["S", "R", "A", "P"]
    assert d["decision"].tolist() == ["stop", "re-plan", "recover", "not started"]
    h = portfolio_pack.decisions_table(pr).html
    assert [h.index(f">{k}<") for k in ("S", "R", "A", "P")] == sorted(h.index(f">{k}<") for k in ("S", "R", "A", "P"))
    assert ">M<" not in h and ">G<" not in h and ">X<" not in h
    assert "−£100" in h  # S's forward NPV
    healthy = review_portfolio([review_case(_decision_cases()[-1], "2026Q2", iterations=0)], "2026Q2",
                               settings=PortfolioSettings(basis=OWN_BASIS))
    assert healthy.decisions.empty
    assert "No case needs a decision this quarter." in portfolio_pack.decisions_table(healthy).html


def test_decision_reasons_read_as_sentences():
    reasons = _portfolio().register.set_index("case_id")["decision_reason"]
    assert reasons["S"] == "forward NPV −£100: what remains costs more than it returns, whatever was spent"
    assert reasons["R"] == "value destroyed: expected NPV −£80 against £20 in force; what remains still returns £80"
    assert reasons["A"] == "at risk: expected NPV £60 against £80 in force; a recovery plan is due"
    assert reasons["P"] == "proposed: awaiting its investment decision (NPV £80 as proposed)"
    assert reasons["G"] == "on track: expected NPV £80 against £80 in force; forward NPV £120"
    assert reasons["M"] == ("on track: expected NPV £200 against £200 in force; regulatory/mandatory, so it "
                            "continues although what remains costs £100 net")
    assert reasons["X"] == "cancelled: nothing remains to decide; final expected NPV £200"
    assert not any("nan" in r or "grey" in r for r in reasons)


def test_portfolio_headline_states_value_verdicts_and_decisions():
    lines = portfolio_pack.portfolio_headline(_portfolio())
    # hand-worked on the cases' own basis: in force 200 + 200 + 200 + 20 + 80 + 80 + 80 = 860;
    # expected 200 + 200 + 200 − 80 + 60 + 80 + 80 = 740; 120 destroyed
    assert lines[0] == ("GBP (7 cases): NPV in force £860, expected NPV now £740: £120 of value destroyed "
                        "against the baselines in force.")
    assert lines[1] == ("Portfolio money is valued at the start of 2026Q1 at 0% a year, real prices of 2026 "
                        "(no inflation stated).")
    assert lines[2] == "Verdicts: 4 on track, 1 at risk, 1 value destroyed, 1 not started."
    assert lines[3] == ("4 cases need a decision: 1 to stop, 1 to re-plan, 1 needing a recovery plan, "
                        "1 awaiting an investment decision.")


def test_portfolio_headline_never_adds_currencies():
    pr = _portfolio(currency={"S": "EUR", "M": "EUR", "X": "EUR"})
    lines = portfolio_pack.portfolio_headline(pr)
    # EUR: S, M, X at 200 each, as planned; GBP: in force 20 + 80 + 80 + 80 = 260, expected −80 + 60 + 80 + 80 = 140
    assert lines[0] == "EUR (3 cases): NPV in force €600, expected NPV now €600: unchanged since approval."
    assert lines[1] == ("GBP (4 cases): NPV in force £260, expected NPV now £140: £120 of value destroyed "
                        "against the baselines in force.")
    t = pr.totals.set_index("currency")
    assert t.loc["EUR", "in_force_npv_pb"] == pytest.approx(600) and t.loc["GBP", "expected_npv_pb"] == pytest.approx(140)


def test_portfolio_headline_restates_every_case_on_the_default_basis_before_adding():
    # The default basis: the start of the review quarter (2026Q2), 8 % a year, nominal; these real cases
    # are in 2026 prices, all flows in 2026, so inflation changes nothing. A quarter q quarters after
    # 2026Q2 is worth 1.08 ** (−q / 4): 2026Q1 is compounded forward (q = −1).
    d = {q: 1.08 ** (-q / 4) for q in (-1, 0, 1, 2)}
    s = 150 * d[-1] + 150 * d[0] - 50 * d[1] - 50 * d[2]                   # S, M, X: 205.75 each
    plan_80 = -100 * d[-1] + 60 * (d[0] + d[1] + d[2])                     # P, G; A and R in force
    plan_20 = -100 * d[-1] + 40 * (d[0] + d[1] + d[2])
    exp_a, exp_r = -120 * d[-1] + 60 * (d[0] + d[1] + d[2]), -200 * d[-1] + 40 * (d[0] + d[1] + d[2])
    pr = _portfolio(basis=None, currency={"S": "EUR", "M": "EUR", "X": "EUR"})
    assert pr.basis == PortfolioBasis("2026Q2", 0.08, "nominal", None, 0.02)
    t = pr.totals.set_index("currency")
    assert t.loc["EUR", "in_force_npv_pb"] == pytest.approx(3 * s)
    assert t.loc["GBP", "in_force_npv_pb"] == pytest.approx(3 * plan_80 + plan_20)
    assert t.loc["GBP", "expected_npv_pb"] == pytest.approx(2 * plan_80 + exp_a + exp_r)
    assert t.loc["GBP", "forward_npv_pb"] == pytest.approx(3 * 60 * (d[1] + d[2]) + 40 * (d[1] + d[2]))
    lines = portfolio_pack.portfolio_headline(pr)
    assert lines[0] == "EUR (3 cases): NPV in force €617, expected NPV now €617: unchanged since approval."  # 617.26
    # GBP: in force 239.73, expected 117.40, so 122.33 destroyed
    assert lines[1] == ("GBP (4 cases): NPV in force £240, expected NPV now £117: £122 of value destroyed "
                        "against the baselines in force.")
    assert lines[2] == ("Portfolio money is valued at the start of 2026Q2 at 8% a year, nominal prices "
                        "(inflation 2% a year).")
    # each case's own figures are kept beside the restated ones (its pack shows its own basis)
    own = pr.register.set_index("case_id")
    assert own.loc["R", "expected_npv"] == pytest.approx(-80) and own.loc["R", "expected_npv_pb"] == pytest.approx(exp_r)


def test_index_gives_the_portfolio_headline_and_names_unrated_cases():
    headline = ["GBP (2 cases): approved NPV £75 " + XSS, "3 cases need a decision."]
    page = report.render_index(
        [{"case_id": "A", "title": "a", "status": "ok", "verdict": "on track", "rag": "grey", "links": []}],
        as_of="2026Q3", source="x",
        portfolio={"status": "ok", "links": [{"label": "Pack", "href": "portfolio.html"}], "headline": headline})
    assert "approved NPV £75 &lt;script&gt;" in page and "3 cases need a decision." in page
    assert '<a href="portfolio.html">Portfolio pack</a>' in page
    assert "not yet rated" in page and ">grey<" not in page


def test_register_table_escapes_titles_and_totals_each_currency():
    pr = _portfolio(title_of_a=XSS, currency={"S": "EUR", "M": "EUR", "X": "EUR"})
    h = portfolio_pack.register_table(pr.register).html
    assert "<script>" not in h and "&lt;script&gt;" in h and "rag-red" in h
    assert ">re-plan<" in h and ">not started<" in h  # the decision column
    # one total row per currency, each the sum of its restated column (hand-worked in the headline tests)
    rows = re.findall(r"<tr>(.*?)</tr>", h)
    totals = [r for r in rows if ">Total<" in r]
    assert len(totals) == 2
    eur, gbp = sorted(totals, key=lambda r: "€" not in r)

    def money(row):
        return re.findall(r'<td class="num">([^<]*)</td>', row)

    # columns: approved, in force, expected, forward (then realisation and value for money: blank)
    assert "3 restated cases" in eur and money(eur)[:5] == ["–", "€600", "€600", "€600", "−€300"]
    # GBP: approved = in force 20 + 80 + 80 + 80 = 260; expected 140; forward 80 + 120 + 120 + 120 = 440
    assert "4 restated cases" in gbp and money(gbp)[:5] == ["–", "£260", "£260", "£140", "£440"]


def test_risk_summary_shows_the_outlook_simulated_and_drivers_without_a_switching_value():
    # NPV = −100 + 60 = −40 (no discounting): negative already, so no delay can make it reach zero.
    # Reviewed before the first period, the outlook is all plan. With C1 ~ triangular(90, 100, 130) the
    # NPV 60 − C1 lies between −30 and −70: always below zero. It gets back to the −40 in force when
    # C1 <= 100, which has probability (100 − 90) / (130 − 90) = 25 %.
    case = make_case({"case_id": "R", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0], "low": 90, "likely": 100,
                             "high": 130}],
                     benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 30, 30]}])
    review = review_case(case, "2025Q4", iterations=2000, seed=1)
    assert review.simulation.deterministic_npv == pytest.approx(-40.0)
    f = review.risk_figures()
    assert f["prob_below_zero"] == 1.0
    assert f["prob_reach_approved"] == pytest.approx(0.25, abs=0.03)
    # triangular quantiles: C1 median 130 − sqrt(0.5 · 40 · 30) = 105.5 → NPV −45.5
    assert f["risk_p50"] == pytest.approx(-45.5, abs=1.5)
    h = case_pack.risk_summary(review).html
    assert "The expected outlook as of 2025Q4" in h and "2,000 simulated outcomes" in h
    assert ">100%<" in h  # chance NPV < 0
    assert "the approved plan simulated on its own" in h
    assert "Delay: no switching value" in h and "None:" not in h
    empty = case_pack.risk_summary(review_case(case, "2025Q4", iterations=0)).html
    assert "No simulation was run" in empty


def test_narrative_when_no_benefit_was_due_says_so_without_a_zero_of_zero():
    # benefits start in 2026Q3; by 2026Q2 only the build cost was due (and spent)
    case = make_case({"case_id": "Z", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "S", "owner": "Ops", "amounts": [0, 0, 40]}],
                     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 100},
                              {"period": "2026Q2", "line_id": "B1", "amount": 0}])
    lines = case_pack.narrative(case_status(case, "2026Q2"))
    assert "No benefit was planned or reported up to 2026Q2." in lines
    assert not any("£0 of £0" in x or "(–)" in x for x in lines)
