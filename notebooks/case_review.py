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
# Every figure below is read from one `CaseReview` (vmo_lib.analysis.review), computed once; the Excel
# pack is written from the same review. Cells tagged `hide-in-pack` do not appear in the HTML pack.

# %%
# %matplotlib inline
from vmo_lib.outputs import case_pack, charts, early_warning, excel
from vmo_lib.outputs import html as report
from vmo_lib.portfolio import review as reviews

# %% tags=["parameters"]
case_path = "../data/sample/CRM-2025.xlsx"
as_of = "2026Q3"
scenario = "baseline"
seed = 0
out_dir = ""
review_file = ""  # the review the batch computed, else computed here
history_file = None  # this case's quarterly history (earlier quarters and this one) the batch wrote, or None

# %%
review = reviews.case_review_from(case_path, as_of, seed=seed, review_file=review_file)
status = review.status
report.write_results(out_dir, case_pack.case_results(review))
pack_xlsx = excel.export_pack_into(out_dir, review)  # the Excel pack, from the same review

# %%
case_pack.case_summary(review)

# %% [markdown]
# ## Summary, verdict and decision
# The verdict compares the expected NPV (actuals to date, then the owner's forecast) with the NPV of the
# baseline in force; the decision follows from it by one rule. Sentences generated from this quarter's figures:

# %%
case_pack.narrative_html(status)

# %% [markdown]
# What moved the value since approval (or the latest re-baseline): the cost, benefit and timing effects that
# take the approved NPV to the expected NPV.

# %%
report.figure(charts.value_bridge_chart(status.bridge_current or status.bridge, status.currency))

# %% [markdown]
# ## Appraisal
# Whole-life figures of the expected outlook beside the approved plan, discounted to the case's first period.

# %%
case_pack.appraisal_table(review)

# %% [markdown]
# ## Realisation
# Plan against actual for every benefit and cost line up to the review period; variance is positive when better
# than plan. Benefits are counted gross; dis-benefits are on their own lines. "Why" gives the reason for each
# line's RAG (money realised against plan, or the KPI's progress towards its target against the time elapsed).

# %%
report.figure(charts.realisation_curve(status))

# %%
case_pack.realisation_table(status)

# %%
# Early warning: benefits projected to miss their target while still green or amber (vmo_lib.analysis.rampup)
early_warning.early_warning_block(review)

# %%
from vmo_lib.outputs.evidence import evidence_block  # noqa: E402  (issue 13: claims, evidence, forecast credibility)

evidence_block(review)

# %%
# Movement since last quarter, from the quarterly history (nothing without one)
from vmo_lib.history import movement as history_movement  # noqa: E402
from vmo_lib.outputs import movement as movement_blocks  # noqa: E402

(movement_blocks.case_movement(history_movement.load_history(history_file), review.case_id,
                               quarter=review.as_of)
 if history_file else None)

# %% [markdown]
# ## Risk
# How wrong the expected NPV could plausibly be (Monte Carlo on what is still to come; actuals are fixed),
# and how far each input can move before the expected NPV reaches zero.

# %%
case_pack.risk_summary(review)

# %% [markdown]
# ### How the expected NPV could turn out
# Every simulated outcome of the expected NPV: the histogram shows how they spread, the S-curve the chance the
# NPV ends at or below each value. P10, P50 and P90, zero and the approved NPV are marked.

# %%
case_pack.risk_charts(review)

# %% [markdown]
# ### What moves the NPV most

# %%
report.figure(charts.tornado_chart(review.tornado, status.currency, base_label="expected NPV")) if len(review.tornado) else None

# %% [markdown]
# ## Optimism bias (Green Book)
# The plan in force with HM Treasury's optimism-bias uplifts for its type, reduced stage by stage as the
# case matures: a test of how much of the promise survives the systematic optimism of business cases.

# %%
case_pack.optimism_bias_html(review)

# %% [markdown]
# ## Green Book and TEI views
# The case as a finance partner reads it: benefits split into bankable (cash-releasing) and other value,
# as reviewed and risk-adjusted, with payback; the benefits that carry no money value and their KPIs;
# and what the case is expected to spend in each financial year against its plan.

# %%
from vmo_lib.outputs.greenbook import greenbook_block  # noqa: E402  (issue 14: Green Book and TEI views)

greenbook_block(review)

# %% [markdown]
# ## Measurement gaps
# What is not being measured, and so cannot be shown to have been realised.

# %%
case_pack.gaps_table(status)

# %%
from vmo_lib.outputs.network_chart import benefit_map_block  # noqa: E402 - the benefits dependency network

benefit_map_block(review)

# %% [markdown]
# ## Validation warnings
# Points the workbook's author should correct; none of them stopped the review.

# %%
case_pack.issues_table(review.case.issues)
