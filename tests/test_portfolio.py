"""Portfolio: selection against brute force, infeasibility, double counting, KPI roll-up, register."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from vmo_lib.analysis.appraisal import appraise
from vmo_lib.model import make_case
from vmo_lib.portfolio import core as P


# --------------------------------------------------------------------------------------------------
# the transitional core module: every name it exported before the split is still there
# --------------------------------------------------------------------------------------------------
def test_core_still_exports_every_name_it_did_before_the_split():
    before = ["BENEFIT_REGISTER_COLUMNS", "CANDIDATE_STATUSES", "REGISTER_COLUMNS", "BudgetStep", "InfeasibleSelection",
              "Register", "Selection", "batch_appraisal", "benefit_register", "budget_step", "build_register",
              "case_as_of", "double_counting", "efficient_frontier", "kpi_rollup", "normalise_kpi",
              "portfolio_selection", "portfolio_mix", "rank_cases", "realisation_rollup", "select_portfolio",
              "selection_options", "totals_by_currency", "AnalysisError"]
    from vmo_lib.portfolio import double_counting, register, rollup, selection

    assert not [n for n in before if not hasattr(P, n)]
    assert set(before) - {"AnalysisError"} <= set(P.__all__)
    assert P.build_register is register.build_register and P.kpi_rollup is rollup.kpi_rollup
    assert P.select_portfolio is selection.select_portfolio and P.normalise_kpi is double_counting.normalise_kpi


# --------------------------------------------------------------------------------------------------
# selection: exact optimum, checked against every subset
# --------------------------------------------------------------------------------------------------
def _brute_force(value: pd.Series, costs: pd.DataFrame, budget: float, must_do=(), exclusive=(), depends_on=None):
    ids = list(value.index)
    best, best_set = -math.inf, None
    for r in range(len(ids) + 1):
        for combo in itertools.combinations(ids, r):
            s = set(combo)
            if not set(must_do) <= s:
                continue
            if any(len(s & set(g)) > 1 for g in exclusive):
                continue
            if any(a in s and not set([b] if isinstance(b, str) else b) <= s for a, b in (depends_on or {}).items()):
                continue
            if (costs.loc[list(combo)].sum(axis=0) > budget + 1e-9).any() if combo else False:
                continue
            v = float(value.loc[list(combo)].sum()) if combo else 0.0
            if v > best + 1e-9:
                best, best_set = v, s
    return best, best_set


def _random_problem(seed: int, n: int = 10, years: int = 3):
    rng = np.random.default_rng(seed)
    ids = [f"K{i}" for i in range(n)]
    value = pd.Series(rng.normal(5.0, 4.0, n).round(2), index=ids)       # some negative NPVs
    costs = pd.DataFrame(rng.integers(0, 10, (n, years)).astype(float), index=ids, columns=[2026 + y for y in range(years)])
    return value, costs


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("budget", [6.0, 15.0, 30.0])
def test_selection_matches_brute_force_with_constraints(seed, budget):
    value, costs = _random_problem(seed)
    must_do = ["K0"]
    exclusive = [("K1", "K2", "K3")]
    depends_on = {"K4": ["K5"], "K6": "K1"}
    # keep the must-do affordable so every case is feasible
    costs.loc["K0"] = np.minimum(costs.loc["K0"], budget)
    expected, expected_set = _brute_force(value, costs, budget, must_do, exclusive, depends_on)
    s = P.select_portfolio(value, costs, budget, must_do=must_do, exclusive=exclusive, depends_on=depends_on)
    assert s.value == pytest.approx(expected, abs=1e-6)
    chosen = set(s.selected)
    assert "K0" in chosen
    assert len(chosen & {"K1", "K2", "K3"}) <= 1
    assert ("K4" not in chosen or "K5" in chosen) and ("K6" not in chosen or "K1" in chosen)
    assert (s.spend["spend"] <= budget + 1e-9).all()
    assert s.value == pytest.approx(float(value[s.selected].sum()))
    # spend per year is the selected cases' costs, year by year
    np.testing.assert_allclose(s.spend["spend"].to_numpy(), costs.loc[s.selected].sum(axis=0).to_numpy())


def test_selection_per_year_budget_mapping_leaves_other_years_free():
    value = pd.Series({"A": 5.0, "B": 4.0})
    costs = pd.DataFrame({2026: [3.0, 3.0], 2027: [100.0, 100.0]}, index=["A", "B"])
    s = P.select_portfolio(value, costs, {2026: 6.0})
    assert s.selected == ["A", "B"] and s.value == 9.0
    assert math.isinf(s.spend.loc[2027, "budget"])


def test_must_do_above_budget_is_a_clear_error_naming_year_and_cases():
    value = pd.Series({"REG": -1.0, "A": 5.0})
    costs = pd.DataFrame({2026: [4.0, 1.0], 2027: [12.0, 1.0]}, index=["REG", "A"])
    with pytest.raises(P.InfeasibleSelection) as e:
        P.select_portfolio(value, costs, 10.0, must_do=["REG"])
    msg = str(e.value)
    assert "2027" in msg and "REG" in msg and "12" in msg and "10" in msg
    assert "Traceback" not in msg


def test_must_do_pulls_in_what_it_depends_on_and_reports_the_conflict():
    value = pd.Series({"A": 1.0, "B": 1.0})
    costs = pd.DataFrame({2026: [2.0, 9.0]}, index=["A", "B"])
    with pytest.raises(P.InfeasibleSelection, match=r"A, B\) need 11"):
        P.select_portfolio(value, costs, 10.0, must_do=["A"], depends_on={"A": "B"})


def test_two_must_dos_in_one_exclusive_group_are_reported():
    value = pd.Series({"A": 1.0, "B": 1.0})
    costs = pd.DataFrame({2026: [1.0, 1.0]}, index=["A", "B"])
    with pytest.raises(P.InfeasibleSelection, match="same mutually exclusive group"):
        P.select_portfolio(value, costs, 10.0, must_do=["A", "B"], exclusive=[("A", "B")])


def test_unknown_case_in_a_constraint_is_named():
    value = pd.Series({"A": 1.0})
    costs = pd.DataFrame({2026: [1.0]}, index=["A"])
    with pytest.raises(P.AnalysisError, match="'Z' is not a candidate"):
        P.select_portfolio(value, costs, 10.0, must_do=["Z"])


def test_mixed_currencies_are_refused():
    value = pd.Series({"A": 1.0, "B": 1.0})
    costs = pd.DataFrame({2026: [1.0, 1.0]}, index=["A", "B"])
    with pytest.raises(P.AnalysisError, match="more than one currency"):
        P.select_portfolio(value, costs, 10.0, currency=pd.Series({"A": "GBP", "B": "EUR"}))


@pytest.mark.parametrize("seed", range(3))
def test_frontier_breakpoints_equal_brute_force_at_and_between_them(seed):
    value, costs = _random_problem(seed, n=8, years=2)
    f = P.efficient_frontier(value, costs, exclusive=[("K1", "K2")], depends_on={"K3": "K4"})
    assert f["value"].is_monotonic_increasing and f["budget"].is_monotonic_increasing
    for b, v in zip(f["budget"], f["value"], strict=True):
        assert v == pytest.approx(_brute_force(value, costs, b, (), [("K1", "K2")], {"K3": "K4"})[0], abs=1e-6)
    # just below each breakpoint the value is the previous step's: the breakpoints are exact
    for (_b0, v0), b1 in zip(zip(f["budget"], f["value"], strict=True), f["budget"].iloc[1:], strict=False):
        assert _brute_force(value, costs, b1 - 1e-6, (), [("K1", "K2")], {"K3": "K4"})[0] == pytest.approx(v0, abs=1e-6)
    # at the last point every positive-value case that fits any budget is in
    assert f["value"].iloc[-1] == pytest.approx(_brute_force(value, costs, 1e9, (), [("K1", "K2")], {"K3": "K4"})[0])


def test_budget_step_names_what_the_next_budget_buys():
    value = pd.Series({"A": 10.0, "B": 6.0, "C": 5.0})
    costs = pd.DataFrame({2026: [8.0, 5.0, 4.0]}, index=["A", "B", "C"])
    s = P.budget_step(value, costs, budget=9.0, step=3.0)
    # at 9: B+C = 11; at 12: A+C = 15 (hand-worked)
    assert s.base.value == 11.0 and s.value_gain == 4.0
    assert s.entering == ["A"] and s.leaving == ["B"]
    assert s.next_breakpoint == pytest.approx(3.0) and s.next_value_gain == pytest.approx(4.0)
    full = P.budget_step(value, costs, budget=17.0)
    assert math.isinf(full.next_breakpoint) and "nothing" in full.sentence()


# --------------------------------------------------------------------------------------------------
# selection options from cases: calendar-year alignment, forward costs, must-do
# --------------------------------------------------------------------------------------------------
def test_options_align_quarterly_and_yearly_cases_by_calendar_year_and_skip_sunk_cases():
    q = make_case({"case_id": "Q", "status": "proposed", "first_period": "2026Q3", "horizon": 6, "discount_rate": 0.0},
                  costs=[{"line_id": "C1", "name": "Build", "amounts": [1, 2, 3, 4, 5, 6]}],
                  benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 0, 0, 10, 10, 10]}])
    y = make_case({"case_id": "Y", "status": "approved", "first_period": "2027", "period_length": "year",
                   "horizon": 2, "discount_rate": 0.0, "case_type": "Regulatory/mandatory"},
                  costs=[{"line_id": "C1", "name": "Build", "amounts": [50, 60]}])
    live = make_case({"case_id": "L", "status": "live", "horizon": 4},
                     costs=[{"line_id": "C1", "name": "Run", "amounts": [1, 1, 1, 1]}])
    opts, costs = P.selection_options([q, y, live], "2026Q2")
    assert list(opts.index) == ["Q", "Y"]
    assert costs.loc["Q"].to_dict() == {2026: 3.0, 2027: 18.0, 2028: 0.0}   # 1+2 | 3+4+5+6
    assert costs.loc["Y"].to_dict() == {2026: 0.0, 2027: 50.0, 2028: 60.0}
    assert opts.loc["Q", "value"] == pytest.approx(30 - 21)                    # no discounting
    assert bool(opts.loc["Y", "must_do"]) and not bool(opts.loc["Q", "must_do"])


def test_in_flight_case_is_a_candidate_only_when_asked_and_with_forward_costs_only():
    c = make_case({"case_id": "D", "status": "in delivery", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.0},
                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 100, 10, 10]}],
                  benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 0, 50, 50]}],
                  actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 150},
                           {"period": "2026Q2", "line_id": "C1", "amount": 120}])
    assert P.selection_options([c], "2026Q2")[0].empty
    opts, costs = P.selection_options([c], "2026Q2", candidates="active")
    assert opts.loc["D", "value"] == pytest.approx(80.0)     # sunk 270 ignored: 100 - 20
    assert costs.loc["D"].to_dict() == {2026: 20.0}


# --------------------------------------------------------------------------------------------------
# double counting
# --------------------------------------------------------------------------------------------------
def _claim(case_id, kpi, first, amounts, org_unit="Customer Service", line_id="B1", line_unit=None, currency="GBP",
           period_length="quarter"):
    return make_case({"case_id": case_id, "org_unit": org_unit, "first_period": first, "horizon": len(amounts),
                      "currency": currency, "period_length": period_length},
                     benefits=[{"line_id": line_id, "name": f"{case_id} benefit", "kpi": kpi, "org_unit": line_unit,
                                "amounts": amounts}])


def test_duplicated_benefit_is_one_group_naming_both_cases_lines_and_amount():
    a = _claim("PORTAL", "Inbound calls to the contact centre", "2026Q1", [0, 100, 100, 100, 100])
    b = _claim("CHATBOT", "  inbound CALLS to the contact-centre ", "2026Q3", [30, 200, 50], line_id="B7")
    other_unit = _claim("HR", "Inbound calls to the contact centre", "2026Q1", [5, 5, 5, 5, 5], org_unit="People")
    dc = P.find_double_counting([a, b, other_unit])
    assert len(dc.groups) == 1
    g = dc.groups.iloc[0]
    assert (g["case_ids"], g["lines"], g["cases"], g["claims"]) == ("CHATBOT, PORTAL", "CHATBOT B7, PORTAL B1", 2, 2)
    assert g["org_unit"] == "Customer Service" and g["kpi_key"] == "inbound calls to the contact centre"
    # overlap 2026Q3..2027Q1: min(100,30) + min(100,200) + min(100,50) = 30 + 100 + 50
    assert (g["overlap_from"], g["overlap_to"], g["overlap_quarters"]) == ("2026Q3", "2027Q1", 3)
    assert g["amount_at_stake"] == pytest.approx(180.0) and g["currency"] == "GBP"
    # a two-claim group keeps its pair: the same figures, case by case
    assert bool(g["pair_detail"]) and len(dc.pairs) == 1
    r = dc.pairs.iloc[0]
    assert (r["case_a"], r["line_a"], r["case_b"], r["line_b"]) == ("CHATBOT", "B7", "PORTAL", "B1")
    assert r["amount_at_stake"] == pytest.approx(180.0) and r["overlap_quarters"] == 3
    assert dc.claims == 3
    # the transitional pair table gives the same pair
    legacy = P.double_counting([a, b, other_unit])
    assert len(legacy) == 1 and legacy.iloc[0]["amount_at_stake"] == pytest.approx(180.0)


def test_sample_portfolio_double_counts_chatbot_and_portal_calls():
    from pathlib import Path

    from vmo_lib.intake.loader import load_portfolio

    pf = load_portfolio(Path(__file__).resolve().parents[1] / "data" / "sample", as_of="2026Q3", workers=1)
    dc = P.find_double_counting(pf)
    assert len(dc.groups) == 1
    g = dc.groups.iloc[0]
    assert g["lines"] == "CHATBOT-2025 B1, PORTAL-2025 B1" and g["org_unit"] == "Customer Service"
    assert g["amount_at_stake"] == pytest.approx(4_464_000.0) and g["currency"] == "GBP"
    assert dc.pairs.iloc[0]["amount_at_stake"] == pytest.approx(4_464_000.0)
    assert "£4,464,000 at stake" in dc.text()[0]


def test_no_flag_without_overlap_or_within_one_case():
    a = _claim("A", "Calls", "2026Q1", [10, 10])
    b = _claim("B", "Calls", "2026Q3", [10, 10])
    assert P.find_double_counting([a, b]).empty
    same = make_case({"case_id": "S", "org_unit": "X", "horizon": 2},
                     benefits=[{"line_id": "B1", "name": "a", "kpi": "Calls", "amounts": [1, 1]},
                               {"line_id": "B2", "name": "b", "kpi": "calls", "amounts": [1, 1]}])
    assert P.find_double_counting([same]).empty
    assert P.find_double_counting([]).empty


def test_yearly_case_is_spread_over_quarters_and_line_org_unit_wins():
    q = _claim("Q", "Calls", "2026Q1", [40, 40, 40, 40], org_unit="Elsewhere", line_unit="Service")
    y = _claim("Y", "calls", "2026", [20], org_unit="Service", period_length="year")
    g = P.find_double_counting([q, y]).groups.iloc[0]
    assert g["org_unit"] == "Service"
    assert g["amount_at_stake"] == pytest.approx(4 * min(40, 20 / 4))
    assert (g["overlap_from"], g["overlap_to"]) == ("2026Q1", "2026Q4")


def test_different_currencies_are_flagged_without_adding_amounts():
    a = _claim("A", "Calls", "2026Q1", [10, 10])
    b = _claim("B", "Calls", "2026Q1", [10, 10], currency="EUR")
    g = P.find_double_counting([a, b]).groups.iloc[0]
    assert math.isnan(g["amount_at_stake"]) and "different currencies (EUR, GBP)" in g["note"] and g["currency"] == ""


def test_synonyms_join_kpi_names():
    a = _claim("A", "Calls to the call centre", "2026Q1", [10])
    b = _claim("B", "Calls to the contact centre", "2026Q1", [10])
    assert P.find_double_counting([a, b]).empty
    assert len(P.find_double_counting([a, b], synonyms={"call centre": "contact centre"}).groups) == 1


def test_three_cases_on_one_kpi_count_the_money_claimed_more_than_once():
    # per quarter: claims 100/60/0 (2026Q1), 100/60/30 (Q2), 0/60/30 (Q3); C's two lines add up
    a = _claim("A", "Hours released", "2026Q1", [100, 100])
    b = _claim("B", "hours released", "2026Q1", [60, 60, 60])
    c = make_case({"case_id": "C", "org_unit": "Customer Service", "first_period": "2026Q2", "horizon": 2},
                  benefits=[{"line_id": "B1", "name": "x", "kpi": "Hours released", "amounts": [10, 10]},
                            {"line_id": "B2", "name": "y", "kpi": "Hours released", "amounts": [20, 20]}])
    dc = P.find_double_counting([a, b, c])
    g = dc.groups.iloc[0]
    # total minus the largest case, per quarter: (160-100) + (190-100) + (90-60) = 60 + 90 + 30
    assert g["amount_at_stake"] == pytest.approx(180.0)
    assert (g["cases"], g["claims"], g["overlap_quarters"]) == (3, 4, 3)
    assert g["lines"] == "A B1, B B1, C B1, C B2"
    # pairs (different cases only): A-B 60+60, A-C1 10, A-C2 20, B-C1 10+10, B-C2 20+20 = 210 > 180
    assert len(dc.pairs) == 5 and dc.pairs["amount_at_stake"].sum() == pytest.approx(210.0)


@pytest.mark.parametrize("seed", range(4))
def test_group_amount_agrees_with_pairs_and_is_bounded_by_them(seed):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(30):
        start = f"{2026 + int(rng.integers(0, 2))}Q{int(rng.integers(1, 5))}"
        amounts = rng.integers(0, 4, int(rng.integers(1, 7))).astype(float) * 10
        cases.append(_claim(f"K{i:02d}", ["Calls", "Hours", "Spend"][int(rng.integers(0, 3))], start, list(amounts),
                            org_unit=["U1", "U2"][int(rng.integers(0, 2))]))
    dc = P.find_double_counting(cases, pair_limit=None)
    assert len(dc.groups)
    for _, g in dc.groups.iterrows():
        pairs = dc.pairs[(dc.pairs["kpi_key"] == g["kpi_key"]) & (dc.pairs["org_unit"] == g["org_unit"])]
        # a second method, quarter by quarter from the cases themselves
        ids = g["case_ids"].split(", ")
        per_q: dict[int, list[float]] = {}
        for c in cases:
            if c.case_id not in ids:
                continue
            y, q = int(c.meta["first_period"][:4]), int(c.meta["first_period"][-1])
            row = c.matrix(c.current_baseline, "benefit").iloc[0].to_numpy()
            nz = np.flatnonzero(row)
            span = range(nz[0], nz[-1] + 1) if len(nz) else range(c.go_live_t or 0, c.horizon)
            for t in span:
                if row[t] or not len(nz):
                    per_q.setdefault(y * 4 + q - 1 + t, []).append(abs(row[t]))
        expected = sum(sum(v) - max(v) for v in per_q.values() if len(v) > 1)
        assert g["amount_at_stake"] == pytest.approx(expected)
        assert g["overlap_quarters"] == sum(len(v) > 1 for v in per_q.values())
        if g["cases"] == 2:
            assert g["amount_at_stake"] == pytest.approx(pairs["amount_at_stake"].sum())
        assert pairs["amount_at_stake"].max() - 1e-9 <= g["amount_at_stake"] <= pairs["amount_at_stake"].sum() + 1e-9


def test_large_groups_keep_no_pairs_and_the_text_is_bounded():
    big = [_claim(f"C{i:02d}", "Calls", "2026Q1", [10.0 * (i + 1)]) for i in range(12)]
    small = [_claim(f"S{k}{i}", f"KPI {k}", "2026Q1", [5.0]) for k in range(4) for i in range(2)]
    dc = P.find_double_counting(big + small, pair_limit=10)
    g = dc.groups.set_index("kpi_key")
    assert not bool(g.loc["calls", "pair_detail"]) and g.loc["calls", "claims"] == 12
    assert g.loc["calls", "amount_at_stake"] == pytest.approx(10.0 * sum(range(1, 12)))   # all but the largest
    assert set(dc.pairs["kpi_key"]) == {f"kpi {k}" for k in range(4)} and len(dc.pairs) == 4
    lines = dc.text(top=2)
    assert len(lines) == 1 + 2 + 1 and "12 cases" in lines[1] and "and 6 more cases" in lines[1]
    assert lines[-1] == "  … and 3 more group(s) (£15 at stake)."
    assert "5 KPI group(s)" in lines[0] and "20 of 20 benefit claims" in lines[0] and "£680 at stake" in lines[0]   # 660 + 4 x 5
    d = dc.to_dict(top=2)
    assert d["groups_total"] == 5 and len(d["groups"]) == 2 and d["summary"] == lines


# --------------------------------------------------------------------------------------------------
# KPI roll-up: non-additive KPIs never summed
# --------------------------------------------------------------------------------------------------
def test_percentage_kpi_is_averaged_not_summed_and_counts_roll_up_by_sum():
    b = pd.DataFrame({
        "case_id": ["A", "B", "A", "B"], "org_unit": ["Sales", "Ops", "Sales", "Ops"],
        "kpi_key": ["first time right", "first time right", "hours saved", "hours saved"],
        "unit": ["%", "%", "hours", "hours"], "kpi_rollup": ["mean", "mean", "sum", "sum"],
        "kpi_baseline": [90.0, 80.0, 0.0, 0.0], "kpi_target": [98.0, 96.0, 100.0, 300.0],
        "kpi_latest": [94.0, 88.0, 60.0, 120.0],
    })
    r = P.kpi_rollup(b).set_index("kpi_key")
    assert r.loc["first time right", "kpi_latest"] == pytest.approx(91.0)     # (94 + 88) / 2, not 182
    assert r.loc["first time right", "kpi_target"] == pytest.approx(97.0)
    assert r.loc["hours saved", "kpi_latest"] == pytest.approx(180.0)
    assert r.loc["hours saved", "kpi_target"] == pytest.approx(400.0)


def test_kpi_with_conflicting_rules_is_not_combined_and_same_unit_counts_once():
    b = pd.DataFrame({
        "case_id": ["A", "B", "C", "D"], "org_unit": ["S", "T", "U", "U"],
        "kpi_key": ["score"] * 2 + ["calls"] * 2, "unit": ["score"] * 2 + ["count"] * 2,
        "kpi_rollup": ["mean", "sum", "sum", "sum"], "kpi_baseline": [1.0, 2.0, 800.0, 840.0],
        "kpi_target": [2.0, 3.0, 600.0, 640.0], "kpi_latest": [1.5, 2.5, 700.0, 760.0],
    })
    r = P.kpi_rollup(b).set_index("kpi_key")
    assert math.isnan(r.loc["score", "kpi_latest"]) and "rules differ" in r.loc["score", "kpi_note"]
    # two cases claiming the same KPI of the same unit: one measurement (the mean), not 1,460
    assert r.loc["calls", "kpi_latest"] == pytest.approx(730.0)
    assert "counted once" in r.loc["calls", "kpi_note"]


# --------------------------------------------------------------------------------------------------
# shared appraisal and the register
# --------------------------------------------------------------------------------------------------
def _cases():
    a = make_case({"case_id": "A", "first_period": "2026Q1", "horizon": 8, "discount_rate": 0.08, "status": "live",
                   "strategic_objective": "Grow", "org_unit": "Sales"},
                  costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [100, 50]},
                         {"line_id": "C2", "name": "Run", "category": "opex", "amounts": [0, 0, 5, 5, 5, 5, 5, 5]}],
                  benefits=[{"line_id": "B1", "name": "Save", "kpi": "Cost", "unit": "GBP",
                             "amounts": [0, 0, 40, 40, 40, 40, 40, 40]},
                            {"line_id": "B2", "name": "Time", "benefit_type": "non-cash-releasing", "kpi": "Hours",
                             "unit": "hours", "amounts": [0, 0, 10, 10, 10, 10, 10, 10]}],
                  actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 120},
                           {"period": "2026Q3", "line_id": "B1", "amount": 30}])
    b = make_case({"case_id": "B", "first_period": "2025", "period_length": "year", "horizon": 5,
                   "discount_schedule": "green book", "status": "proposed", "strategic_objective": "Comply",
                   "org_unit": "Risk"},
                  costs=[{"line_id": "C1", "name": "Build", "amounts": [300, 100, 20, 20, 20]}],
                  benefits=[{"line_id": "B1", "name": "Avoid", "benefit_type": "cost avoidance",
                             "amounts": [0, 50, 150, 150, 150]}])
    return [a, b]


@pytest.mark.parametrize("view", ["economic", "cash"])
def test_batch_appraisal_equals_case_by_case_appraisal(view):
    cases = _cases()
    batch = P.batch_appraisal(cases, "baseline", view)
    for c in cases:
        a = appraise(c, "baseline", view)
        r = batch.loc[c.case_id]
        assert r["npv"] == pytest.approx(a.npv, rel=1e-12)
        assert r["pv_costs"] == pytest.approx(a.pv_costs, rel=1e-12)
        assert r["pv_capex"] == pytest.approx(a.pv_capex, rel=1e-12)
        assert r["pv_benefits"] == pytest.approx(a.pv_benefits, rel=1e-12)
        for k in ("irr", "bcr", "payback_years"):
            assert (math.isnan(r[k]) and math.isnan(getattr(a, k))) or r[k] == pytest.approx(getattr(a, k), rel=1e-9)


def test_register_rows_benefits_and_value_for_money():
    cases = _cases()
    reg = P.build_register(cases, "2026Q3", risk_iterations=0)
    c = reg.cases.set_index("case_id")
    assert list(c.index) == ["A", "B"]
    a = appraise(cases[0])
    assert c.loc["A", "baseline_npv"] == pytest.approx(a.npv)
    assert c.loc["A", "budget"] == pytest.approx(a.pv_capex)
    assert c.loc["A", "vfm"] == pytest.approx(a.npv / a.pv_capex)
    assert c.loc["A", "realisation_pct"] == pytest.approx(30 / 40)
    assert len(reg.benefits) == 3 and set(reg.benefits["case_id"]) == {"A", "B"}
    assert reg.benefits.set_index(["case_id", "line_id"]).loc[("A", "B2"), "kpi_rollup"] == "sum"
    ranked = P.rank_cases(reg.cases)
    assert ranked["rank"].tolist() == [1, 2]
    assert ranked["vfm"].iloc[0] >= ranked["vfm"].iloc[1]


def test_register_in_worker_processes_gives_the_same_numbers():
    cases = _cases()
    serial = P.build_register(cases, "2026Q3", risk_iterations=200, seed=3)
    parallel = P.build_register(cases, "2026Q3", risk_iterations=200, seed=3, workers=2)
    pd.testing.assert_frame_equal(serial.cases, parallel.cases)


def test_totals_never_add_currencies():
    t = pd.DataFrame({"currency": ["GBP", "EUR", "GBP"], "baseline_npv": [1.0, 2.0, 3.0]})
    tot = P.totals_by_currency(t, ["baseline_npv"]).set_index("currency")
    assert tot.loc["GBP", "baseline_npv"] == 4.0 and tot.loc["EUR", "baseline_npv"] == 2.0


# --------------------------------------------------------------------------------------------------
# the CLI
# --------------------------------------------------------------------------------------------------
def _workbooks(tmp_path):
    from vmo_lib.intake.template import write_case_workbook

    common = {"sponsor": "CFO", "strategic_objective": "Save", "org_unit": "Finance", "first_period": "2027Q1",
              "horizon": 4, "discount_rate": 0.0, "go_live_period": "2027Q1"}
    ben = {"owner": "CFO", "kpi": "Invoices per FTE", "unit": "count", "baseline_value": 10, "baseline_date": "2026-06-30",
           "target_value": 20, "target_date": "2027-12-31", "frequency": "quarterly", "data_source": "ERP",
           "confidence": "medium"}
    a = make_case({**common, "case_id": "A", "title": "=HYPERLINK(\"http://x\",\"y\")", "status": "proposed"},
                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0]}],
                  benefits=[{**ben, "line_id": "B1", "name": "Saving", "amounts": [0, 60, 60, 60]}])
    b = make_case({**common, "case_id": "B", "title": "Other", "status": "proposed"},
                  costs=[{"line_id": "C1", "name": "Build", "amounts": [80, 0, 0, 0]}],
                  benefits=[{**ben, "line_id": "B1", "name": "Saving", "amounts": [0, 40, 40, 40]}])
    tmp_path.mkdir(parents=True, exist_ok=True)
    for c in (a, b):
        write_case_workbook(c, tmp_path / f"{c.case_id}.xlsx")
    return tmp_path


def test_cli_json_selection_double_counting_and_safe_exports(tmp_path, capsys):
    import json

    import openpyxl

    from vmo_lib.cli import main

    folder = _workbooks(tmp_path / "cases")
    out = tmp_path / "out"
    rc = main(["portfolio", str(folder), "--as-of", "2026Q3", "--budget", "150", "--risk-iterations", "0",
               "--json", "--export", str(out / "p.xlsx")])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert {"as_of", "view", "cases", "totals_by_currency", "failures", "selection", "double_counting",
            "kpi_rollup", "reference_class"} <= set(d)
    # A: 180 - 100 = 80, B: 120 - 80 = 40; 2027 budget 150 fits one: A
    assert d["selection"]["selected"] == ["A"] and d["selection"]["value"] == pytest.approx(80.0)
    assert d["selection"]["next_step"]["next_breakpoint"] == pytest.approx(30.0)
    assert d["selection"]["next_step"]["entering"] == ["B"]
    group = d["double_counting"]["groups"][0]  # one row per KPI and unit, the cases involved named
    assert set(group["case_ids"].split(", ")) == {"A", "B"} and group["amount_at_stake"] == pytest.approx(120.0)
    pair = d["double_counting"]["pairs"][0]     # a small group keeps its pair detail
    assert {pair["case_a"], pair["case_b"]} == {"A", "B"}
    # both cases proposed, so nothing is committed; on the default basis (8 %, from 2026Q3, real cases
    # inflated 2 %) the in-force total is the sum of the register's restated column
    assert d["selection"]["committed"] == [] and d["selection"]["not_funded"] == ["B"]
    assert d["totals_by_currency"][0]["in_force_npv_pb"] == pytest.approx(
        sum(r["in_force_npv_pb"] for r in d["register"]))
    assert {c["case_id"]: c["in_force_npv"] for c in d["cases"]} == {"A": pytest.approx(80.0), "B": pytest.approx(40.0)}
    ws = openpyxl.load_workbook(out / "p.xlsx")["Register"]
    cell = next(c for row in ws.iter_rows() for c in row if c.value and str(c.value).startswith("=HYPERLINK"))
    assert cell.data_type == "s"                      # stored as text, not a live formula
    rc = main(["portfolio", str(folder), "--as-of", "2026Q3", "--risk-iterations", "0", "--export", str(out / "p.csv")])
    assert rc == 0
    assert "'=HYPERLINK" in (out / "p.csv").read_text()
    assert not list(out.glob("*.tmp"))


def test_cli_infeasible_must_do_is_one_clear_message(tmp_path, capsys):
    from vmo_lib.cli import main

    folder = _workbooks(tmp_path / "cases")
    rc = main(["portfolio", str(folder), "--as-of", "2026Q3", "--budget", "50", "--must-do", "A",
               "--risk-iterations", "0"])
    err = capsys.readouterr().err
    assert rc == 1 and "must-do" in err and "2027" in err and "Traceback" not in err


# --------------------------------------------------------------------------------------------------
# charts read back
# --------------------------------------------------------------------------------------------------
def test_value_risk_map_puts_each_case_at_its_risk_and_npv():
    from vmo_lib.outputs.charts import value_risk_map

    reg = pd.DataFrame({"case_id": ["A", "B", "C"], "currency": ["GBP"] * 3, "risk_spread": [1.0, 2.0, 3.0],
                        "expected_npv": [10.0, -5.0, 7.0], "budget": [100.0, 50.0, 0.0],
                        "rag": ["green", "red", "amber"], "strategic_objective": ["x", "y", "x"]})
    ax = value_risk_map(reg).axes[0]
    pts = ax.collections[0]
    np.testing.assert_allclose(pts.get_offsets(), [[1, 10], [2, -5], [3, 7]])
    sizes = pts.get_sizes()
    assert sizes[0] > sizes[1] > sizes[2]                  # bigger investment, bigger bubble
    assert (sizes[0] - 40) == pytest.approx(2 * (sizes[1] - 40))
    with pytest.raises(ValueError, match="several currencies"):
        value_risk_map(reg.assign(currency=["GBP", "EUR", "GBP"]))
    value_risk_map(reg, colour="strategic_objective")


def test_frontier_chart_draws_the_frontier_points():
    from vmo_lib.outputs.charts import efficient_frontier_chart

    value = pd.Series({"A": 10.0, "B": 6.0, "C": 5.0})
    costs = pd.DataFrame({2026: [8.0, 5.0, 4.0]}, index=["A", "B", "C"])
    f = P.efficient_frontier(value, costs)
    ax = efficient_frontier_chart(f, "GBP", budget=9).axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), f[["budget", "value"]].to_numpy())


def test_cli_portfolio_with_workbooks_left_out_exits_1_and_names_them(tmp_path, capsys):
    from vmo_lib.cli import main

    folder = _workbooks(tmp_path / "cases")
    (folder / "BROKEN.xlsx").write_text("not a workbook")
    rc = main(["portfolio", str(folder), "--as-of", "2026Q3", "--risk-iterations", "0", "--json"])
    captured = capsys.readouterr()
    assert rc == 1 and "BROKEN.xlsx" in captured.err and "left out" in captured.err
    import json

    assert [f["path"].endswith("BROKEN.xlsx") for f in json.loads(captured.out)["failures"]] == [True]
