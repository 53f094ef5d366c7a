"""Transitional: the portfolio's public names, re-exported from the modules that now hold them.

The portfolio view was one module; it is now split by concept, and new code imports from there:

* :mod:`vmo_lib.portfolio.register` — :func:`batch_appraisal`, :func:`build_register`,
  :func:`benefit_register`, :func:`rank_cases`, :func:`totals_by_currency`, :class:`Register`;
* :mod:`vmo_lib.portfolio.rollup` — :func:`portfolio_mix`, :func:`realisation_rollup`, :func:`kpi_rollup`;
* :mod:`vmo_lib.portfolio.double_counting` — :func:`normalise_kpi`, :func:`find_double_counting`
  (one row per KPI group) and the transitional pair table :func:`double_counting`;
* :mod:`vmo_lib.portfolio.selection` — :func:`selection_options`, :func:`select_portfolio`,
  :func:`portfolio_selection`, :func:`budget_step`, :func:`efficient_frontier`, :class:`Selection`,
  :class:`InfeasibleSelection`, :func:`committed_selection`;
* :mod:`vmo_lib.portfolio.basis` — every case's money restated on one portfolio basis;
* :mod:`vmo_lib.portfolio.settings` — ``portfolio.toml`` beside the cases.

This module keeps the old imports (``from vmo_lib.portfolio import core as P``) working until their
callers are moved; it defines nothing.
"""

from __future__ import annotations

from vmo_lib.errors import AnalysisError
from vmo_lib.portfolio.basis import PortfolioBasis, basis_factors, basis_totals, restate_portfolio
from vmo_lib.portfolio.common import case_as_of
from vmo_lib.portfolio.double_counting import (
    DoubleCounting,
    double_counting,
    find_double_counting,
    normalise_kpi,
)
from vmo_lib.portfolio.register import (
    BENEFIT_REGISTER_COLUMNS,
    REGISTER_COLUMNS,
    Register,
    batch_appraisal,
    benefit_register,
    build_register,
    rank_cases,
    totals_by_currency,
)
from vmo_lib.portfolio.rollup import kpi_rollup, portfolio_mix, realisation_rollup
from vmo_lib.portfolio.selection import (
    CANDIDATE_STATUSES,
    COMMITTED_STATUSES,
    BudgetStep,
    CommittedSelection,
    InfeasibleSelection,
    Selection,
    budget_step,
    committed_selection,
    efficient_frontier,
    portfolio_selection,
    select_portfolio,
    select_with_commitments,
    selection_options,
)
from vmo_lib.portfolio.settings import PortfolioSettings, load_portfolio_settings

__all__ = [
    "BENEFIT_REGISTER_COLUMNS",
    "CANDIDATE_STATUSES",
    "COMMITTED_STATUSES",
    "REGISTER_COLUMNS",
    "AnalysisError",
    "BudgetStep",
    "CommittedSelection",
    "DoubleCounting",
    "InfeasibleSelection",
    "PortfolioBasis",
    "PortfolioSettings",
    "Register",
    "Selection",
    "basis_factors",
    "basis_totals",
    "batch_appraisal",
    "benefit_register",
    "budget_step",
    "build_register",
    "case_as_of",
    "committed_selection",
    "double_counting",
    "efficient_frontier",
    "find_double_counting",
    "kpi_rollup",
    "load_portfolio_settings",
    "normalise_kpi",
    "portfolio_mix",
    "portfolio_selection",
    "rank_cases",
    "realisation_rollup",
    "restate_portfolio",
    "select_portfolio",
    "select_with_commitments",
    "selection_options",
    "totals_by_currency",
]
