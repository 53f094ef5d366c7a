"""portfolio.toml settings, and the selection that funds committed cases first (checked by brute force)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from vmo_lib.errors import UsageError
from vmo_lib.model import make_case
from vmo_lib.portfolio.basis import PortfolioBasis
from vmo_lib.portfolio.selection import InfeasibleSelection, committed_selection, select_with_commitments
from vmo_lib.portfolio.settings import PortfolioSettings, load_portfolio_settings

GOOD = """
[budget.years]
2026 = 4_000_000
2027 = 5_500_000

[basis]
base_period = "2026Q1"
discount_rate = 0.035
price_base = "real"
price_year = 2026
inflation = 0.02

[selection]
benefit_target = 12_000_000
value = "ob_npv"
candidates = "active"
must_do = ["REG-1"]
exclusive = [["A", "B"]]
depends_on = { "D2" = ["D1"], "D3" = "D1" }
"""


def test_settings_file_is_read_and_overrides_win(tmp_path):
    (tmp_path / "portfolio.toml").write_text(GOOD)
    s = load_portfolio_settings(tmp_path)
    assert s.path == tmp_path / "portfolio.toml"
    assert s.budget == {2026: 4_000_000.0, 2027: 5_500_000.0}
    assert s.basis == PortfolioBasis("2026Q1", 0.035, "real", 2026, 0.02)
    assert (s.benefit_target, s.value, s.must_do, s.candidates) == (12_000_000.0, "ob_npv", ("REG-1",), "active")
    assert s.exclusive == (("A", "B"),) and s.depends_on == {"D2": ("D1",), "D3": ("D1",)}
    # --budget 150 (a flat annual budget) replaces the per-year budgets; None = not given
    assert load_portfolio_settings(tmp_path, {"budget": 150, "benefit_target": None}).budget == 150.0
    assert load_portfolio_settings(tmp_path, {"benefit_target": 5}).benefit_target == 5.0
    assert load_portfolio_settings(tmp_path, {"budget": {2028: 7}}).budget == {2028: 7.0}


def test_no_settings_file_gives_the_defaults(tmp_path):
    assert load_portfolio_settings(tmp_path) == PortfolioSettings()
    assert load_portfolio_settings(tmp_path, {"budget": 9}).budget == 9.0


def test_every_problem_is_named_with_file_and_key_at_once(tmp_path):
    f = tmp_path / "portfolio.toml"
    f.write_text("""
[budget]
annual = -5
years = { 2026 = "lots", 20x6 = 3 }
[basis]
base_period = "2026Q9"
discount_rate = "3.5%"
price_base = "cash"
[selection]
value = "npv"
candidates = "all"
exclusive = [["A"]]
colour = "red"
[other]
x = 1
""")
    with pytest.raises(UsageError) as e:
        load_portfolio_settings(tmp_path)
    msg = str(e.value)
    for part in (f"{f}: [budget]: give either annual or years", f"{f}: [budget] annual: expected an amount >= 0, got -5",
                 f"{f}: [budget.years] 2026: expected an amount >= 0, got 'lots'",
                 f"{f}: [budget.years] 20x6: expected a calendar year",
                 f"{f}: [basis] discount_rate: expected an annual rate such as 0.035, got '3.5%'",
                 f"{f}: [basis] price_base: expected one of real, nominal, got 'cash'",
                 f"{f}: [selection] value: expected one of forward_npv, ob_npv, got 'npv'",
                 f"{f}: [selection] candidates: expected one of proposed, active, got 'all'",
                 f"{f}: [selection] exclusive: expected a list of groups of two or more",
                 f"{f}: [selection] colour: unknown key", f"{f}: unknown table [other]"):
        assert part in msg, part
    assert "Traceback" not in msg


def test_a_bad_basis_value_and_a_bad_toml_file_are_named(tmp_path):
    (tmp_path / "portfolio.toml").write_text('[basis]\nbase_period = "2026Q9"\ndiscount_rate = 0.03\n')
    with pytest.raises(UsageError, match=r"portfolio.toml: \[basis\] base_period '2026Q9'"):
        load_portfolio_settings(tmp_path)
    (tmp_path / "portfolio.toml").write_text("[budget\nannual = 3")
    with pytest.raises(UsageError, match="portfolio.toml: not a valid settings file"):
        load_portfolio_settings(tmp_path)
    with pytest.raises(UsageError, match=r"overrides: \[budget\] annual: expected an amount >= 0, got 'x'"):
        load_portfolio_settings(tmp_path / "elsewhere", {"budget": "x"})


# --------------------------------------------------------------------------------------------------
# committed spend first, then the discretionary choice: exact against every subset
# --------------------------------------------------------------------------------------------------
def _brute(value, costs, committed, budget, must_do=(), exclusive=(), depends_on=None):
    avail = (budget - committed.sum(axis=0)).clip(lower=0)
    best, best_set = -math.inf, None
    ids = list(value.index)
    for r in range(len(ids) + 1):
        for combo in itertools.combinations(ids, r):
            s = set(combo)
            if not set(must_do) <= s or any(len(s & set(g)) > 1 for g in exclusive):
                continue
            if any(a in s and b not in s for a, bs in (depends_on or {}).items() for b in bs):
                continue
            if combo and (costs.loc[list(combo)].sum(axis=0) > avail + 1e-9).any():
                continue
            v = float(value.loc[list(combo)].sum()) if combo else 0.0
            if v > best + 1e-9:
                best, best_set = v, s
    return best, best_set


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("budget", [8.0, 14.0, 25.0])
def test_committed_spend_is_deducted_before_the_choice_matches_brute_force(seed, budget):
    rng = np.random.default_rng(seed)
    years = [2026, 2027, 2028]
    ids = [f"K{i}" for i in range(9)]
    value = pd.Series(rng.normal(5.0, 4.0, 9).round(2), index=ids)
    costs = pd.DataFrame(rng.integers(0, 8, (9, 3)).astype(float), index=ids, columns=years)
    committed = pd.DataFrame(rng.integers(0, 6, (3, 3)).astype(float), index=["L0", "L1", "L2"], columns=years)
    exclusive, depends = [("K1", "K2")], {"K3": ["K4"]}
    expected, _ = _brute(value, costs, committed, budget, (), exclusive, depends)
    sel, table, over = select_with_commitments(value, costs, committed, budget, exclusive=exclusive, depends_on=depends)
    assert sel.value == pytest.approx(expected, abs=1e-6)
    np.testing.assert_allclose(table["committed"], committed.sum(axis=0).to_numpy())
    np.testing.assert_allclose(table["available"], np.maximum(budget - committed.sum(axis=0).to_numpy(), 0))
    np.testing.assert_allclose(table["discretionary"], costs.loc[sel.selected].sum(axis=0).to_numpy())
    assert (table["headroom"] >= -1e-9).all()
    assert over == [y for y in years if committed[y].sum() > budget]


def test_must_do_that_does_not_fit_beside_the_committed_spend_says_so():
    value = pd.Series({"REG": -1.0})
    costs = pd.DataFrame({2027: [5.0]}, index=["REG"])
    committed = pd.DataFrame({2027: [8.0]}, index=["LIVE"])
    with pytest.raises(InfeasibleSelection) as e:
        select_with_commitments(value, costs, committed, 10.0, must_do=["REG"])
    assert "2027: 8 committed of 10" in str(e.value) and "REG" in str(e.value)


def _case(cid, status, costs, benefits, first="2027Q1"):
    return make_case({"case_id": cid, "status": status, "first_period": first, "horizon": len(costs),
                      "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Spend", "amounts": costs}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": benefits}])


def test_cases_in_delivery_and_live_are_committed_never_do_not_fund():
    cases = [
        _case("DEL", "in delivery", [6, 0, 0, 0], [0, 0, 0, 1]),       # forward NPV -5: still committed
        _case("LIV", "live", [2, 2, 0, 0], [0, 3, 3, 3]),                # 4 in 2027
        _case("P1", "proposed", [5, 0, 0, 0], [0, 20, 0, 0]),            # value 15, cost 5
        _case("P2", "approved", [4, 0, 0, 0], [0, 0, 12, 0]),            # value 8, cost 4
        _case("P3", "proposed", [3, 0, 0, 0], [0, 0, 0, 6]),             # value 3, cost 3
        _case("OLD", "closed", [9, 0, 0, 0], [0, 0, 0, 0]),
    ]
    cs = committed_selection(cases, "2026Q3", budget=18.0, benefit_target=20.0)
    # 2027: committed 6 + 4 = 10 of 18, 8 left: P1 + P3 = 18 beats P1 alone (15) and P2 + P3 (11)
    assert cs.committed == ["DEL", "LIV"] and cs.selection.selected == ["P1", "P3"] and cs.not_funded == ["P2"]
    assert cs.budget.loc[2027, ["budget", "committed", "available", "discretionary", "headroom"]].tolist() == \
        [18.0, 10.0, 8.0, 8.0, 0.0]
    assert cs.committed_value == pytest.approx(-5 + 5) and cs.value == pytest.approx(18.0)
    assert cs.target_gap == pytest.approx(2.0)
    assert set(cs.decisions["decision"]) == {"committed", "fund", "do not fund"}
    assert "OLD" not in cs.decisions.index
    assert cs.decisions.loc["DEL", "decision"] == "committed"
    d = cs.to_dict()
    assert d["committed"] == ["DEL", "LIV"] and d["budget"][0]["available"] == 8.0
    # over-committed: the committed spend alone is above the budget; nothing discretionary fits
    tight = committed_selection(cases, "2026Q3", budget=9.0)
    assert tight.over_committed == [2027] and tight.selection.selected == [] and tight.committed == ["DEL", "LIV"]
    assert "above the budget in 2027" in tight.note
    # why, by hand: P2 costs 4 in 2027 where 18 - 10 - (5 + 3) = 0 is left; P1, P3 chosen; DEL, LIV committed
    why = cs.reasons()
    assert why["P2"] == "needs 4 in 2027 where 0 is left after the committed and chosen cases"
    assert why["P1"].startswith("chosen") and why["DEL"].startswith("in delivery or live")
    assert tight.reasons()["P1"] == "needs 5 in 2027 where 0 is left after the committed and chosen cases"


def test_a_budget_with_nothing_competing_for_it_funds_the_committed_cases_only():
    # only committed cases (no proposed/approved candidate): the solver has no variable; nothing is selected
    cases = [_case("DEL", "in delivery", [6, 0, 0, 0], [0, 0, 0, 1]), _case("LIV", "live", [2, 2, 0, 0], [0, 3, 3, 3])]
    cs = committed_selection(cases, "2026Q3", budget=18.0, benefit_target=20.0)
    assert cs.committed == ["DEL", "LIV"] and cs.selection.selected == [] and cs.not_funded == []
    assert cs.budget.loc[2027, ["committed", "available", "discretionary"]].tolist() == [10.0, 8.0, 0.0]
    assert cs.committed_value == pytest.approx(-5 + 5) and cs.target_gap == pytest.approx(20.0)


def test_committed_and_candidates_in_different_currencies_are_refused():
    a = _case("A", "live", [1, 0], [0, 2])
    b = make_case({"case_id": "B", "status": "proposed", "first_period": "2027Q1", "horizon": 2, "currency": "EUR"},
                  costs=[{"line_id": "C1", "name": "Spend", "amounts": [1, 0]}])
    from vmo_lib.errors import AnalysisError

    with pytest.raises(AnalysisError, match="more than one currency"):
        committed_selection([a, b], "2026Q3", budget=5.0)


def test_what_the_solver_prints_natively_goes_to_stderr_not_stdout(capfd):
    # some HiGHS builds print C++ diagnostics on larger problems: they must not corrupt --json on stdout
    import os

    from vmo_lib.portfolio import selection

    print("before", flush=True)
    with selection._native_stdout_to_stderr():
        os.write(1, b"HighsMipSolverData diagnostic\n")
    print("after", flush=True)
    out, err = capfd.readouterr()
    assert out == "before\nafter\n" and "HighsMipSolverData diagnostic" in err
