"""The portfolio's benefits rolled up by strategic objective, across cases.

Each case's network (:func:`vmo_lib.analysis.network.network_of_review`) says how much of its benefits'
expected PV reaches each of its strategic objectives. Strategic objectives are matched across cases by
name (case, spacing and punctuation at the ends ignored): ids are only unique within a workbook.

A case without a Benefit map is *not mapped*: its whole benefit value is shown under the strategic
objective of its Case sheet, in its own column (``value_not_mapped``), never mixed with the mapped value.
The value of a mapped case that reaches no strategic objective is shown under
:data:`UNLINKED` so that, per currency, the rows add up to the benefits' total value. Money is never
added across currencies.

Examples
--------
>>> from vmo_lib.model import make_case
>>> from vmo_lib.analysis.network import benefit_network
>>> a = make_case({"case_id": "A", "strategic_objective": "Save money", "horizon": 2},
...               benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 10]}])
>>> nets = [benefit_network(a, "2026Q3", values={"B1": 9.5})]
>>> strategic_rollup(nets)[["strategic_objective", "value_mapped", "value_not_mapped", "cases"]].values.tolist()
[['Save money', 0.0, 9.5, 'A']]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

__all__ = ["ROLLUP_COLUMNS", "UNLINKED", "portfolio_networks", "strategic_rollup"]

#: Row of the value of mapped cases that reaches no strategic objective.
UNLINKED = "(no strategic objective)"
ROLLUP_COLUMNS = ("strategic_objective", "currency", "value_mapped", "value_not_mapped", "value_total",
                  "n_cases", "cases", "n_benefits")


def _key(name: str) -> str:
    return re.sub(r"\s+", " ", str(name or "").strip(" .;:-").casefold())


def portfolio_networks(reviews: Iterable[Any]) -> list[Any]:
    """The network of every case review (:func:`vmo_lib.analysis.network.network_of_review`)."""
    from vmo_lib.analysis.network import network_of_review

    return [network_of_review(r) for r in reviews]


def strategic_rollup(networks: Iterable[Any]) -> pd.DataFrame:
    """Benefit value by strategic objective across cases (module notes).

    Parameters
    ----------
    networks : iterable of BenefitNetwork

    Returns
    -------
    pandas.DataFrame
        :data:`ROLLUP_COLUMNS`, one row per (currency, objective), largest total first, :data:`UNLINKED`
        last in its currency. ``cases`` is a comma-separated list of case ids; ``n_benefits`` counts the
        benefits whose value reaches the objective (mapped cases) or all benefits (not mapped).
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(currency: str, name: str) -> dict[str, Any]:
        k = (currency, _key(name) if name != UNLINKED else "\0unlinked")
        if k not in rows:
            rows[k] = {"strategic_objective": name, "currency": currency, "value_mapped": 0.0,
                       "value_not_mapped": 0.0, "cases": [], "n_benefits": 0}
        return rows[k]

    for net in networks:
        cur = net.currency
        if not net.mapped:
            if net.n_benefits == 0:
                continue
            r = row(cur, net.strategic_objective or UNLINKED)
            r["value_not_mapped"] += net.total_value
            r["cases"].append(net.case_id)
            r["n_benefits"] += net.n_benefits
            continue
        for rec in net.by_strategic_objective.to_dict("records"):
            r = row(cur, str(rec["name"] or rec["node_id"]))
            r["value_mapped"] += float(rec["value"])
            r["cases"].append(net.case_id)
            r["n_benefits"] += len(rec["benefits"])
        if abs(net.unallocated_value) > 1e-9:
            r = row(cur, UNLINKED)
            r["value_mapped"] += net.unallocated_value
            r["cases"].append(net.case_id)
    out = []
    for r in rows.values():
        cases = sorted(dict.fromkeys(r["cases"]))
        out.append({**r, "value_total": r["value_mapped"] + r["value_not_mapped"], "n_cases": len(cases),
                    "cases": ", ".join(cases)})
    df = pd.DataFrame(out, columns=list(ROLLUP_COLUMNS))
    if not len(df):
        return df
    df["_last"] = df["strategic_objective"] == UNLINKED
    df = df.sort_values(["currency", "_last", "value_total", "strategic_objective"],
                        ascending=[True, True, False, True], kind="stable")
    return df.drop(columns="_last").reset_index(drop=True)
