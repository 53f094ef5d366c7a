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
from vmo_lib import loader, report

# %% tags=["parameters"]
folder = "../data/sample"
as_of = "2026Q3"
scenario = "baseline"
seed = 0
out_dir = ""

# %%
portfolio = loader.load_portfolio(folder, as_of=as_of)

# %% [markdown]
# ## Register
# Every case in the portfolio and every workbook that could not be loaded.

# %%
report.table(portfolio.meta[["case_id", "title", "sponsor", "status", "case_type"]])
