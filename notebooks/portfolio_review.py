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

# %%
# %matplotlib inline
from IPython.display import display

from vmo_lib.intake import loader
from vmo_lib.outputs import charts
from vmo_lib.outputs import html as report
from vmo_lib.portfolio import core as portfolio
from vmo_lib.portfolio import reference_class

# %% tags=["parameters"]
folder = "../data/sample"
as_of = "2026Q3"
scenario = "baseline"
seed = 0
out_dir = ""
annual_budget = 3_000_000  # yearly limit on forward costs of the cases competing for funds (case currency)

# %%
cases = loader.load_portfolio(folder, as_of=as_of)
register = portfolio.build_register(cases, as_of, seed=seed)
options, selection = report.select_at_budget(cases, register, annual_budget)
overlaps = portfolio.double_counting(cases)
history = reference_class.history_ratios(cases.cases, as_of)
saved = report.write_results(out_dir, report.portfolio_results(register, selection, overlaps, seed=seed,
                                                              annual_budget=annual_budget))

# %%
report.portfolio_summary(register, cases.failures)

# %% [markdown]
# ## Register
# Every case with its verdict, RAG and value as of the review period; NPVs in each case's currency,
# value for money is NPV per unit of capital budget.

# %%
report.register_table(register.cases)

# %% [markdown]
# Workbooks that could not be loaded are not in the figures above.

# %%
report.load_failures_table(cases.failures)

# %% [markdown]
# ## Value map
# Where the value is and how uncertain it is: expected NPV against the spread of simulated outcomes
# (P90 − P10), bubble size the capital budget, colour the RAG.

# %%
for _currency, cases_in_currency in register.cases.groupby("currency"):  # one map per currency
    display(charts.value_risk_map(cases_in_currency))

# %% [markdown]
# ## Selection at the budget
# The cases still competing for funds, chosen to maximise forward NPV within the annual budget (an exact knapsack).

# %%
report.selection_table(selection, options)

# %% [markdown]
# ## Realisation roll-up
# Benefits realised to date against plan, by benefit type (non-financial KPIs are not added up).

# %%
report.table(portfolio.realisation_rollup(register.benefits, by="benefit_type")[
    ["benefit_type", "cases", "benefits", "plan_total", "plan_reported", "actual_to_date", "realisation_pct",
     "red", "amber", "green", "currency"]], money=["plan_total", "plan_reported", "actual_to_date"],
             percent=["realisation_pct"], currency="currency")

# %% [markdown]
# ## Double counting
# Benefits of different cases that claim the same KPI for the same unit over the same periods.

# %%
report.table(overlaps[["case_a", "benefit_a", "case_b", "benefit_b", "kpi_key", "overlap_from", "overlap_to",
                       "amount_at_stake", "currency"]].rename(columns={"kpi_key": "KPI"}),
             money=["amount_at_stake"], currency="currency", empty="No benefit is claimed twice.")

# %% [markdown]
# ## Reference-class findings
# What this portfolio's own history says about estimates: actual over baseline at P50 and P80, by case type.

# %%
report.table(reference_class.reference_class_uplifts(history).rename(columns={"group": "case_type", "n": "cases"}),
             digits={"ratio_p50": 2, "ratio_p80": 2}, percent=["adjustment_p50", "adjustment_p80"])

# %% [markdown]
# ## Cases needing decisions
# Most urgent first: value destroyed, negative forward NPV, red RAG, at risk, awaiting approval.

# %%
report.decisions_table(register.cases)
