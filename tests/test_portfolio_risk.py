"""The portfolio Monte Carlo (issue 14, item 3): against closed forms (independent and correlated normal
lines), a hand-worked target probability, the case's own Monte Carlo, and the settings and CLI around it."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from vmo_lib.analysis.review import review_case
from vmo_lib.analysis.risk import monte_carlo
from vmo_lib.errors import UsageError
from vmo_lib.formatting import format_money
from vmo_lib.model import make_case
from vmo_lib.portfolio.basis import PortfolioBasis
from vmo_lib.portfolio.risk import (
    MOMENT_COLUMNS,
    case_outlook_moments,
    portfolio_risk_summary,
    simulate_portfolio,
)
from vmo_lib.portfolio.settings import load_portfolio_settings

N = 200_000


def lines(means, sds, cost_means=None, cost_sds=None):
    n = len(means)
    return pd.DataFrame({"case_id": [f"C{i}" for i in range(n)], "fixed_benefits": 0.0,
                         "mean_benefits": means, "sd_benefits": sds, "fixed_costs": 0.0,
                         "mean_costs": cost_means if cost_means is not None else [0.0] * n,
                         "sd_costs": cost_sds if cost_sds is not None else [0.0] * n,
                         "corr_benefits_costs": 0.0})[list(MOMENT_COLUMNS)]


MEANS = [100.0, 250.0, 80.0, 400.0, 170.0]
SDS = [30.0, 60.0, 10.0, 90.0, 45.0]


def _close(x, expected, se, k=4.0):
    assert abs(x - expected) <= k * se, (x, expected, se)


def test_independent_normal_lines_sum_to_the_closed_form():
    r = simulate_portfolio(lines(MEANS, SDS), N, seed=7, benefit_correlation=0.0)
    mean, sd = sum(MEANS), math.sqrt(sum(s * s for s in SDS))       # 1000 and sqrt(14525) = 120.52
    _close(float(r.benefits.mean()), mean, sd / math.sqrt(N))
    _close(float(r.benefits.std(ddof=1)), sd, sd / math.sqrt(2 * N))
    # percentiles of a normal: P10 = mean - 1.2816 sd
    _close(r.summary()["benefits_p10"], mean + norm.ppf(0.10) * sd, 3 * sd / math.sqrt(N))
    _close(r.summary()["benefits_p90"], mean + norm.ppf(0.90) * sd, 3 * sd / math.sqrt(N))
    assert np.array_equal(r.benefits, r.npv)                          # no costs: NPV = benefits


@pytest.mark.parametrize("rho", [0.3, 0.8])
def test_correlated_lines_have_the_one_factor_sd(rho):
    r = simulate_portfolio(lines(MEANS, SDS), N, seed=3, benefit_correlation=rho)
    var = (1 - rho) * sum(s * s for s in SDS) + rho * sum(SDS) ** 2   # Var(sum) with Corr = rho between lines
    _close(float(r.benefits.std(ddof=1)), math.sqrt(var), math.sqrt(var) / math.sqrt(2 * N))
    _close(float(r.benefits.mean()), sum(MEANS), math.sqrt(var) / math.sqrt(N))


def test_costs_have_their_own_driver_and_npv_adds_the_variances():
    r = simulate_portfolio(lines([500.0, 300.0], [40.0, 30.0], [200.0, 100.0], [20.0, 50.0]), N, seed=11,
                           benefit_correlation=0.5, cost_correlation=0.0)
    var_b = 0.5 * (40 ** 2 + 30 ** 2) + 0.5 * 70 ** 2                # 4925
    var_c = 20 ** 2 + 50 ** 2                                         # 2900, independent costs
    sd = math.sqrt(var_b + var_c)
    _close(float(r.npv.mean()), 500.0, sd / math.sqrt(N))
    _close(float(r.npv.std(ddof=1)), sd, sd / math.sqrt(2 * N))


def test_hand_worked_target_probability():
    # two independent lines: mean 100 + 50 = 150, sd sqrt(30^2 + 40^2) = 50; target 200 is one sd above:
    # P(total >= 200) = 1 - Phi(1) = 0.158655
    r = simulate_portfolio(lines([100.0, 50.0], [30.0, 40.0]), N, seed=5, benefit_correlation=0.0, target=200.0)
    p = 1 - 0.8413447460685429
    _close(r.prob_meeting_target, p, math.sqrt(p * (1 - p) / N))
    assert r.summary()["prob_meeting_target"] == r.prob_meeting_target


def test_contributions_to_variance_match_the_euler_allocation():
    rho = 0.4
    r = simulate_portfolio(lines(MEANS, SDS), N, seed=9, benefit_correlation=rho)
    total = (1 - rho) * sum(s * s for s in SDS) + rho * sum(SDS) ** 2
    expected = {f"C{i}": s * ((1 - rho) * s + rho * sum(SDS)) / total for i, s in enumerate(SDS)}
    got = dict(zip(r.cases["case_id"], r.cases["share_npv_variance"], strict=True))
    assert sum(got.values()) == pytest.approx(1.0, abs=1e-12)
    for cid, share in expected.items():
        assert got[cid] == pytest.approx(share, abs=0.01)
    assert r.cases["case_id"].iloc[0] == "C3"                        # the widest line drives the spread most


def test_seeded_and_independent_of_the_chunk_size():
    m = lines(MEANS, SDS, [50.0] * 5, [5.0] * 5)
    a = simulate_portfolio(m, 5_000, seed=2, chunk_size=1_000)
    b = simulate_portfolio(m, 5_000, seed=2, chunk_size=777)
    assert np.array_equal(a.benefits, b.benefits) and np.array_equal(a.npv, b.npv)
    c = simulate_portfolio(m, 5_000, seed=3)
    assert not np.array_equal(a.npv, c.npv)


def test_bad_correlation_is_refused():
    with pytest.raises(ValueError, match="benefit_correlation must be between 0 and 1"):
        simulate_portfolio(lines(MEANS, SDS), 10, benefit_correlation=1.5)


def _case():
    return make_case(
        {"case_id": "R", "first_period": "2026Q1", "horizon": 8, "discount_rate": 0.08},
        costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 60, 0, 0, 0, 0, 0, 0], "low": 140,
                "likely": 160, "high": 220},
               {"line_id": "C2", "name": "Run", "category": "opex", "amounts": [0, 0, 10, 10, 10, 10, 10, 10],
                "low": 50, "likely": 60, "high": 90, "distribution": "pert"}],
        benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 0, 40, 40, 40, 40, 40, 40], "low": 150,
                   "likely": 240, "high": 260},
                  {"line_id": "B2", "name": "Avoid", "benefit_type": "cost avoidance",
                   "amounts": [0, 0, 0, 20, 20, 20, 20, 20], "low": 60, "likely": 100, "high": 130,
                   "distribution": "pert"}],
        actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 120}])


def test_case_moments_agree_with_the_case_own_monte_carlo():
    # on the case's own basis (valued at its first period at its own rate, real), the moments of B - C
    # are those of the case's outlook Monte Carlo (no drivers: exact up to sampling)
    case = _case()
    rev = review_case(case, "2026Q2", iterations=0)
    m = case_outlook_moments(rev, PortfolioBasis("2026Q1", 0.08, "real"))
    mc = monte_carlo(case, iterations=N, seed=1, as_of="2026Q2")
    mean = m["fixed_benefits"] + m["mean_benefits"] - m["fixed_costs"] - m["mean_costs"]
    sd = math.sqrt(m["sd_benefits"] ** 2 + m["sd_costs"] ** 2)
    _close(mc.mean, mean, sd / math.sqrt(N))
    assert mc.std == pytest.approx(sd, rel=0.01)
    # fixed: the 120 spent in 2026Q1 and 2026Q2's unreported 60 (the outlook's estimate), a quarter at 8 % a year
    assert m["fixed_costs"] == pytest.approx(120.0 + 60.0 * 1.08 ** -0.25, rel=1e-12)


def test_portfolio_review_risk_reads_the_target_and_names_what_is_left_out(tmp_path):
    from vmo_lib.portfolio.review import review_portfolio
    from vmo_lib.portfolio.settings import PortfolioSettings

    a, b, c = _case(), _case(), _case()
    b.meta["case_id"] = "S"
    b.meta["currency"] = "EUR"
    c.meta["case_id"] = "T"
    revs = [review_case(x, "2026Q2", iterations=0) for x in (a, b, c)]
    s = PortfolioSettings(basis=PortfolioBasis("2026Q1", 0.08, "real"), target_benefits=300.0,
                          benefit_correlation=0.5, cost_correlation=0.2)
    pr = review_portfolio(revs, "2026Q2", settings=s)
    r = pr.risk(iterations=20_000)
    assert r.target == 300.0 and r.benefit_correlation == 0.5 and r.cost_correlation == 0.2
    assert sorted(r.cases["case_id"]) == ["R", "T"] and list(r.left_out) == ["S"] and "EUR" in r.left_out["S"]
    shown = portfolio_risk_summary(r)
    assert list(shown["headline"].index) == ["Total expected benefits", "Total NPV"]
    assert shown["headline"].loc["Total NPV", "P50"] == pytest.approx(r.summary()["npv_p50"])
    assert "S" in shown["sentence"] and f"{r.prob_meeting_target:.0%}" in shown["sentence"]


def test_target_and_correlations_in_portfolio_toml(tmp_path):
    (tmp_path / "portfolio.toml").write_text("[target]\nbenefits = 4e7\nbenefit_correlation = 0.25\n")
    s = load_portfolio_settings(tmp_path)
    assert (s.target_benefits, s.benefit_correlation, s.cost_correlation) == (4e7, 0.25, None)
    assert load_portfolio_settings(tmp_path, {"target": 5e7}).target_benefits == 5e7
    (tmp_path / "portfolio.toml").write_text("[target]\nbenefits = 'lots'\ncost_correlation = 2\n")
    with pytest.raises(UsageError) as e:
        load_portfolio_settings(tmp_path)
    assert "[target] benefits: expected an amount" in str(e.value)
    assert "[target] cost_correlation: expected a correlation between 0 and 1, got 2" in str(e.value)


def test_vmo_portfolio_json_carries_the_portfolio_risk(capsys):
    from vmo_lib.cli import main

    rc = main(["portfolio", "data/sample", "--as-of", "2026Q3", "--json", "--target", "1.2e8",
               "--portfolio-iterations", "20000", "--risk-iterations", "0"])
    out = json.loads(capsys.readouterr().out)
    assert rc in (0, 1)
    risk = out["portfolio_risk"]
    assert risk["iterations"] == 20_000 and risk["target"] == 1.2e8 and risk["cases"] == 16
    assert risk["benefits_p10"] < risk["benefits_p50"] < risk["benefits_p90"]
    assert 0.0 <= risk["prob_meeting_target"] <= 1.0 and len(risk["drivers"]) == 10
    assert sum(d["share_npv_variance"] for d in risk["drivers"]) <= 1.0 + 1e-9


def test_the_portfolio_pack_shows_the_chance_vmo_portfolio_prints(capsys):
    # one truth: the pack's section and `vmo portfolio --json` come from the same simulation (seed, iterations)
    from vmo_lib.cli import main
    from vmo_lib.formatting import format_money, format_percent
    from vmo_lib.intake.loader import load_portfolio
    from vmo_lib.outputs.portfolio_pack import portfolio_risk_section
    from vmo_lib.portfolio.review import review_portfolio

    main(["portfolio", "data/sample", "--as-of", "2026Q3", "--json", "--risk-iterations", "0"])
    risk = json.loads(capsys.readouterr().out)["portfolio_risk"]
    assert risk["target"] == 125e6  # data/sample/portfolio.toml [target] benefits
    pf = load_portfolio("data/sample")
    pr = review_portfolio([review_case(c, "2026Q3", iterations=0) for c in pf.cases], "2026Q3",
                          settings=load_portfolio_settings("data/sample"))
    html = portfolio_risk_section(pr, pr.risk()).html
    assert f"{format_percent(risk['prob_meeting_target'])}</div>" in html
    for key in ("benefits_p10", "benefits_p50", "benefits_p90", "npv_p50"):
        assert format_money(risk[key], "GBP", compact=True) in html, key
    assert 0.2 < risk["prob_meeting_target"] < 0.8  # £125m sits inside the P10–P90 band of £115m–£134m
    assert "No benefit target" in portfolio_risk_section(pr, None).html


def test_pack_section_shows_the_register_expected_npv_beside_the_simulated_mean():
    """The drivers table's 'expected NPV' is the register's (one truth); the simulated mean is labelled as
    such and the sentence reconciles the two totals."""
    from vmo_lib.outputs.portfolio_pack import portfolio_risk_section
    from vmo_lib.portfolio.review import review_portfolio
    from vmo_lib.portfolio.settings import PortfolioSettings

    a, t = _case(), _case()
    t.meta["case_id"] = "T"
    revs = [review_case(x, "2026Q2", iterations=0) for x in (a, t)]
    s = PortfolioSettings(basis=PortfolioBasis("2026Q1", 0.08, "real"), target_benefits=300.0)
    pr = review_portfolio(revs, "2026Q2", settings=s)
    r = pr.risk(iterations=20_000)
    page = portfolio_risk_section(pr, r).html
    reg = pr.register.set_index("case_id")["expected_npv_pb"]
    total = format_money(float(reg.sum()), "GBP", compact=True)
    mean = format_money(r.summary()["npv_mean"], "GBP", compact=True)
    assert f"The simulated mean total NPV ({mean})" in page
    assert f"expected NPV of the same cases ({total})" in page
    assert "mean NPV (simulated)" in page.lower() or "mean npv (simulated)" in page.lower()
