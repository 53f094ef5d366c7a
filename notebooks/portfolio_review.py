# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["hide-in-pack"]
# # Portfolio review
# The whole portfolio as of the review period: what it holds, what it is worth, what needs a decision.
# Every figure is read from one `PortfolioReview` built from the case reviews (vmo_lib.portfolio.review).

# %%
# %matplotlib inline
from IPython.display import display

from vmo_lib.outputs import charts, excel, portfolio_pack
from vmo_lib.outputs import html as report
from vmo_lib.portfolio import review as portfolio_review

# %% tags=["parameters"]
folder = "../data/sample"
as_of = "2026Q3"
scenario = "baseline"
seed = 0
out_dir = ""
annual_budget = None  # yearly limit on forward costs of the cases competing for funds, or None
review_file = ""  # the review the batch computed, else computed here
history_file = None  # every case's quarterly history (earlier quarters and this one) the batch wrote, or None

# %%
review = portfolio_review.load_or_review(folder, as_of, seed=seed, annual_budget=annual_budget,
                                         review_file=review_file)
report.write_results(out_dir, portfolio_pack.portfolio_results(review))
pack_xlsx = excel.export_pack_into(out_dir, review, name="portfolio.xlsx")  # from the same review

# %%
portfolio_pack.portfolio_summary(review)

# %% [markdown]
# ## Decisions needed
# Most urgent first; the decision and its reason are those of each case's own pack.

# %%
portfolio_pack.decisions_table(review)

# %% [markdown]
# ## Movement since the last review
# The portfolio's approved, expected and realised value quarter by quarter, from the quarterly history;
# each case's movement is in the index and in its own pack.

# %%
from vmo_lib.history import movement as history_movement  # noqa: E402
from vmo_lib.outputs import movement as movement_blocks  # noqa: E402

(movement_blocks.portfolio_movement(history_movement.load_history(history_file), quarter=review.as_of,
                                    totals=review.totals)
 if history_file else portfolio_pack.movement_section(review))

# %% [markdown]
# ## Value map
# Where the value is and how uncertain it is: expected NPV against the spread of its simulated outcomes
# (P90 − P10), bubble size the capital budget, colour the RAG rating.

# %%
for _currency, cases_in_currency in review.register.groupby("currency"):  # one map per currency
    display(report.figure(charts.value_risk_map(cases_in_currency)))

# %% [markdown]
# ## Register
# Every case with its decision, verdict, RAG and value as of the review period. The first money column is each
# case's expected NPV on its own basis (as in its pack); the others are restated on the one portfolio basis
# stated above, and the totals add only those. Hover over a heading for its meaning; the key is below.

# %%
portfolio_pack.register_table(review.register)

# %% [markdown]
# ## Selection at the budget
# Committed cases (in delivery or live) are funded first; the others compete for what remains of each
# year's budget, chosen to maximise forward NPV (an exact knapsack).

# %%
portfolio_pack.selection_table(review)

# %% [markdown]
# ## The chance of meeting the benefit target
# A Monte Carlo over every case's outlook (actuals fixed, what remains uncertain), with a benefit-realisation
# driver and a cost-overrun driver shared across cases, on the one portfolio basis; the same figures as
# `vmo portfolio` (same seed and iterations).

# %%
portfolio_pack.portfolio_risk_section(review, review.risk() if review.target_benefits is not None else None)

# %% [markdown]
# ## Appendix A: realisation roll-up
# Benefits realised to date against plan, by benefit type (non-financial KPIs are not added up).

# %%
report.table(portfolio_review.realisation_by_type(review), money=["plan_total", "plan_reported", "actual_to_date"],
             percent=["realisation_pct"], currency="currency")

# %% [markdown]
# ## Appendix B: double counting
# Benefits of different cases that claim the same KPI for the same unit over the same periods.

# %%
report.table(portfolio_review.double_counting_table(review), money=["amount_at_stake"], currency="currency",
             empty="No benefit is claimed twice.")

# %%
from vmo_lib.outputs.network_chart import strategic_rollup_block  # noqa: E402 - benefits by strategic objective

strategic_rollup_block(review)

# %% [markdown]
# ## Appendix C: reference-class findings
# What this portfolio's own history says about estimates: actual over baseline at P50 and P80, by case type.

# %%
report.table(review.uplifts.rename(columns={"group": "case_type", "n": "cases"}),
             digits={"ratio_p50": 2, "ratio_p80": 2}, percent=["adjustment_p50", "adjustment_p80"])

# %% [markdown]
# ## Appendix D: estimating accuracy
# How far approved cost, benefit and schedule ended from actual in closed cases, and how owners' forecasts
# compared with what was later reported, from the quarterly history.

# %%
# Estimating accuracy learned from the quarterly history (closed cases, owners' forecast bias): vmo_lib.history.accuracy
from vmo_lib.history.store import load_frames  # noqa: E402
from vmo_lib.outputs import accuracy as accuracy_blocks  # noqa: E402

accuracy_blocks.accuracy_section(load_frames(history_file), review, heading=False)

# %% [markdown]
# ## Appendix E: workbooks not loaded
# Workbooks that could not be loaded are not in any figure above.

# %%
portfolio_pack.load_failures_table(review.failures)
