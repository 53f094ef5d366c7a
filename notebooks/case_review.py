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
# # Case review
# The quarterly review of one business case: where it stands and whether it is creating value.
# Run it as-is on a sample case, or let `vmo review` (papermill) run it per case with the parameters below.
# Cells tagged `hide-in-pack` do not appear in the HTML pack.

# %%
# %matplotlib inline
from vmo_lib.analysis import appraisal, realisation, risk
from vmo_lib.intake import loader
from vmo_lib.outputs import charts
from vmo_lib.outputs import html as report

# %% tags=["parameters"]
case_path = "../data/sample/CRM-2025.xlsx"
as_of = "2026Q3"
scenario = "baseline"
seed = 0
out_dir = ""

# %%
case = loader.load_case(case_path, as_of=as_of)
status = realisation.case_status(case, as_of)
appraised = appraisal.appraise(case, scenario)
simulation = risk.monte_carlo(case, seed=seed, scenario=scenario)
switching = risk.switching_values(case, scenario)
results = report.case_results(case, status, appraised, scenario=scenario, seed=seed)
results["risk"] = simulation.summary()
saved = report.write_results(out_dir, results)

# %%
report.case_summary(case, status, appraised)

# %% [markdown]
# ## Summary and verdict
# The verdict compares the expected NPV (actuals to date, then the owner's forecast) with the NPV approved
# for this case. Sentences generated from this quarter's figures:

# %%
report.narrative_html(status)

# %% [markdown]
# What moved the value since approval (or the latest re-baseline): the cost, benefit and timing effects that
# take the approved NPV to the expected NPV.

# %%
charts.value_bridge_chart(status.bridge_current or status.bridge, status.currency)

# %% [markdown]
# ## Appraisal
# Whole-life figures of the plan appraised, discounted to the case's first period.

# %%
report.appraisal_table(appraised)

# %% [markdown]
# ## Realisation
# Plan against actual for every benefit and cost line up to the review period; variance is positive when better than plan.

# %%
charts.realisation_curve(status)

# %%
report.realisation_table(status)

# %% [markdown]
# ## Risk
# How wrong the NPV could plausibly be (Monte Carlo on the three-point estimates), and how far each input can move before the NPV reaches zero.

# %%
report.risk_summary(simulation, switching, status.currency)

# %%
charts.tornado_chart(risk.tornado(case, scenario), status.currency)

# %% [markdown]
# ## Measurement gaps
# What is not being measured, and so cannot be shown to have been realised.

# %%
report.gaps_table(status)

# %% [markdown]
# ## Validation warnings
# Points the workbook's author should correct; none of them stopped the review.

# %%
report.issues_table(case.issues)
