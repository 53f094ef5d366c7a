"""The options of the economic case: business as usual, do minimum and the preferred option.

The Costs and Benefits sheets have an optional last column *Option* (:data:`vmo_lib.schema.OPTIONS`):

* blank or ``preferred``: a line of the case as appraised — every figure of the workbench counts it;
* ``bau`` (business as usual) or ``do minimum``: a line of that option only. It is kept apart, in
  :attr:`vmo_lib.model.BusinessCase.options`, with its planned flows (the period columns, scenario
  ``baseline``), and is in no other figure: not in ``case.lines``, ``case.flows``, the NPV, the risk,
  realisation or the portfolio. An option may have costs and no benefits (business as usual often does).

A workbook with no *Option* column, or with it all blank or ``preferred``, loads exactly as before
(:func:`split_options` returns the case itself). An unknown value is a ``choice.not_allowed`` error naming
the sheet and cell (:mod:`vmo_lib.intake.validation`). Actuals, forecasts, re-baselines or KPI plans
recorded against a bau or do-minimum line are left out with the line: an option is a plan.

Examples
--------
>>> from vmo_lib.model import make_case
>>> case = make_case({"horizon": 2},
...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0]},
...            {"line_id": "C9", "name": "Keep the old system", "amounts": [30, 30]}])
>>> split = split_options(case, {"C9": "bau"})
>>> split.lines["line_id"].tolist(), sorted(split.options), split.options["bau"].lines["line_id"].tolist()
(['C1'], ['bau'], ['C9'])
>>> split_options(case, {"C1": "preferred"}) is case
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pandas as pd

from vmo_lib.model import BusinessCase

__all__ = ["OTHER_OPTIONS", "option_of_lines", "split_options"]

#: The options kept apart from the case, in the order they are compared.
OTHER_OPTIONS = ("bau", "do minimum")


def option_of_lines(tables: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Line id → option for every line of the Costs and Benefits tables tagged with another option.

    Parameters
    ----------
    tables : mapping
        ``CheckedWorkbook.lines``: sheet → typed columns (``line_id``, ``option``, ...).

    Returns
    -------
    dict
        Only lines whose option is in :data:`OTHER_OPTIONS`; empty when the column is absent or blank.
    """
    out: dict[str, str] = {}
    for sheet in ("Costs", "Benefits"):
        cols = tables.get(sheet)
        if cols is None or "option" not in cols:
            continue
        for lid, opt in zip(cols["line_id"], cols["option"], strict=True):
            if opt in OTHER_OPTIONS and lid is not None and not pd.isna(lid):  # most lines: no option
                out[str(lid)] = str(opt)
    return out


def split_options(case: BusinessCase, option_of: Mapping[str, str]) -> BusinessCase:
    """The case without its bau / do-minimum lines, those lines kept in ``case.options``.

    Parameters
    ----------
    case : BusinessCase
        A case whose ``lines``/``flows`` still hold every line.
    option_of : mapping
        Line id → option (:func:`option_of_lines`); lines not listed, or ``preferred``, stay in the case.

    Returns
    -------
    BusinessCase
        ``case`` itself when no line belongs to another option; else a new case whose ``options`` maps
        each option stated to a case of its lines and their planned (``baseline``) flows, with the
        same header (so it is discounted exactly as the case).
    """
    tagged = {lid: opt for lid, opt in option_of.items() if opt in OTHER_OPTIONS}
    if not tagged:
        return case
    line_opt = case.lines["line_id"].map(lambda v: tagged.get(str(v)))
    flow_opt = case.flows["line_id"].map(lambda v: tagged.get(str(v)))
    options: dict[str, BusinessCase] = dict(case.options)
    for opt in OTHER_OPTIONS:
        keep_lines = (line_opt == opt).to_numpy()
        if not keep_lines.any():
            continue
        keep_flows = ((flow_opt == opt) & (case.flows["scenario"] == "baseline")).to_numpy()
        options[opt] = BusinessCase(meta=dict(case.meta), lines=case.lines[keep_lines].reset_index(drop=True),
                                    flows=case.flows[keep_flows].reset_index(drop=True), source=case.source)
    return dataclasses.replace(case, lines=case.lines[line_opt.isna().to_numpy()].reset_index(drop=True),
                               flows=case.flows[flow_opt.isna().to_numpy()].reset_index(drop=True),
                               options=options)
