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

# %% [markdown]
# # What-if explorer
# Challenge a business case live at a gate review: pick a case, move the controls, and NPV, IRR,
# payback, the verdict and the cumulative cash flow follow at once. Next to each control its
# switching value says where that control, the others held, turns NPV negative (or positive), in
# the slider's own units and in points from where the slider stands. Save a setting under a name
# to keep it beside the case (`<case>.scenarios.xlsx`; the submitted workbook is never written).

# %%
from vmo_lib.whatif.widgets import WhatIfExplorer

# %% tags=["parameters"]
folder = "../data/sample"
case_id = None
as_of = "2026Q3"

# %% [markdown]
# ## Explore
# The explorer opens on the case's review as of `as_of`: the expected outlook (actuals to date fixed,
# so a what-if moves only what is still to come), judged against the baseline in force as the packs
# judge it. The sliders recompute when released (or moved with the arrow keys); "Reset" returns to
# that starting point with the case's own discounting.

# %%
WhatIfExplorer(folder, case_id=case_id, as_of=as_of)
