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
# # Value over time
# The quarterly history every `vmo review` records (`vmo-history.duckdb` beside the cases): the portfolio's
# value by quarter, then one case's movement: its figures, verdict and decision by quarter, what changed since
# last quarter, how each benefit's forecast drifted, and whether last quarter's decision was followed.
# Every figure is one a quarter's review recorded (nothing is recomputed here). The same tables on the command
# line: `vmo history FOLDER` and `vmo history FOLDER --case ID`; for Dask or Spark: `vmo history export DIR`.
#
# No history yet? `vmo history backfill data/sample --from 2025Q1 --to 2026Q3` records the quarters from
# today's files (or `make demo`, which writes `reports/vmo-history.duckdb`).

# %%
from vmo_lib import history
from vmo_lib.history import movement
from vmo_lib.outputs import html as report
from vmo_lib.outputs import movement as movement_blocks

# %% tags=["parameters"]
history_path = "../reports/vmo-history.duckdb"  # the history file, or the cases folder holding vmo-history.duckdb
case_id = None  # the case to look at; None: the first case on record

# %%
frames = history.frames(history_path)  # case_quarter, line_quarter, period_quarter: plain DataFrames
quarters = movement.quarters(frames)
case_id = case_id or movement.case_ids(frames)[0]
print(f"{len(quarters)} quarters on record ({quarters[0]} to {quarters[-1]}), "
      f"{len(movement.case_ids(frames))} cases; looking at {case_id}")

# %% [markdown]
# ## The portfolio by quarter
# Sums per currency of the cases recorded each quarter, each case on its own basis: a trend, not the register's
# totals. Realisation = benefits actually measured to date over those planned to date.

# %%
portfolio = history.trend(history_path)
report.table(portfolio, money=["approved_npv", "in_force_npv", "expected_npv", "forward_npv", "benefit_plan_to_date",
                               "benefit_actual_to_date", "cost_plan_to_date", "cost_actual_to_date"],
             percent=["realisation_pct"], currency="currency", compact=True)

# %%
movement_blocks.portfolio_movement(frames)

# %% [markdown]
# ## One case quarter by quarter
# The approved, in-force, expected and forward NPV, the realisation, verdict, RAG and decision each quarter's
# review recorded.

# %%
case_trend = history.trend(history_path, case_id)
report.table(case_trend, money=["approved_npv", "in_force_npv", "expected_npv", "forward_npv"],
             percent=["realisation_pct"], currency="currency", rag="rag")

# %%
movement_blocks.case_movement(frames, case_id)
