"""``vmo map CASE_OR_FOLDER [--as-of QUARTER] [--json] [--png FILE]``: the benefits dependency network.

For one business-case workbook: its network (the *Benefit map* sheet) as of the review quarter: late
enablers and the benefits they put at risk, orphan benefits (no enabler), enablers leading to no benefit,
objectives no benefit serves, and each benefit's expected PV rolled up to its investment and strategic
objectives (split equally along each node's arrows). A workbook without a map is reported as "not mapped".

For a folder: every case's findings, then the portfolio's value by strategic objective (cases matched by
objective name; the value of cases not mapped shown apart, under their Case sheet's objective).

``--json`` prints, for a case, the object of :meth:`vmo_lib.analysis.network.BenefitNetwork.to_dict`
(``case_id, as_of, review_date, currency, mapped, value_basis, total_value, unallocated_value, value_at_risk,
orphan_benefits, enablers_without_benefit, objectives_without_benefit, late_enablers, benefits_at_risk,
by_investment_objective, by_strategic_objective, nodes, edges, sentences``); for a folder
``{as_of, cases: [...], by_strategic_objective: [...], failures: [...]}``. Dates ISO; NaN is null.
``--png`` (one case) writes the drawing, atomically.

Exit code: 0 when the map was produced, 1 when a workbook has errors (a folder: when none could be
loaded), 2 when a file cannot be read or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def register(sub: argparse._SubParsersAction) -> None:
    from vmo_lib.commands import add_command

    p = add_command(
        sub, "map", "benefits dependency network: late enablers, orphans, value by objective",
        "Draw and check a case's benefits dependency network (its Benefit map sheet): which enablers are\n"
        "late at the review date and which benefits they put at risk, benefits with no enabler, enablers\n"
        "leading to no benefit, objectives no benefit serves, and each benefit's expected value rolled up\n"
        "to the investment and strategic objectives it serves. A workbook without the sheet is reported\n"
        "as not mapped.\n\n"
        "Given a folder, every case's findings and the portfolio's value by strategic objective.",
        ["vmo map data/sample/FIELD-2025.xlsx --as-of 2026Q3",
         "vmo map data/sample/CRM-2025.xlsx --as-of 2026Q3 --png crm-map.png   # save the drawing",
         "vmo map data/sample --as-of 2026Q3                                   # value by strategic objective"])
    p.add_argument("path", metavar="CASE_OR_FOLDER", help="business-case workbook (.xlsx) or a folder of them")
    p.add_argument("--as-of", default=None, metavar="QUARTER", help="review quarter, e.g. 2026Q3 (default: today's)")
    p.add_argument("--json", action="store_true", help="machine-readable output (stable keys)")
    p.add_argument("--png", default=None, metavar="FILE", help="one case: write the drawing to this PNG file")
    p.set_defaults(func=run)


def _clean(text: object) -> str:
    """Workbook text made safe for a terminal (no control characters or escape sequences)."""
    return _CONTROL.sub("?", "" if text is None else str(text))


def _review(case, as_of):
    from vmo_lib.analysis.review import review_case

    # no Monte Carlo: the map needs the expected flows and the RAGs, which do not depend on it
    return review_case(case, as_of, iterations=0)


def run(args: argparse.Namespace) -> int:
    from vmo_lib.analysis.network import network_of_review
    from vmo_lib.commands import dump_json
    from vmo_lib.errors import UsageError
    from vmo_lib.periods import review_quarter

    as_of = review_quarter(args.as_of)  # a malformed --as-of is a UsageError: exit 2
    path = Path(args.path)
    if path.is_dir():
        if args.png:
            raise UsageError("--png draws one case: give a workbook, not a folder")
        return _run_folder(path, as_of, args.json)
    from vmo_lib.intake.loader import load_case

    case = load_case(path, as_of=as_of)
    net = network_of_review(_review(case, as_of))
    if args.png:
        _write_png(net, args.png)
    if args.json:
        dump_json(net.to_dict())
        return 0
    print(format_network(net))
    return 0


def _write_png(net, target: str) -> None:
    import io

    from vmo_lib.files import atomic_write_bytes
    from vmo_lib.outputs.network_chart import network_chart

    buf = io.BytesIO()
    network_chart(net).savefig(buf, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    atomic_write_bytes(Path(target), buf.getvalue())


def _run_folder(folder: Path, as_of: str, as_json: bool) -> int:
    from vmo_lib.analysis.network import network_of_review
    from vmo_lib.commands import EXIT_INVALID, dump_json
    from vmo_lib.intake.loader import load_portfolio
    from vmo_lib.portfolio.network import strategic_rollup

    portfolio = load_portfolio(folder, as_of=as_of)
    nets = [network_of_review(_review(c, as_of)) for c in portfolio]
    rollup = strategic_rollup(nets)
    failures = portfolio.failures[["path", "kind", "error"]].to_dict("records") if len(portfolio.failures) else []
    if as_json:
        dump_json({"as_of": as_of, "cases": [n.to_dict() for n in nets],
                   "by_strategic_objective": rollup.to_dict("records"), "failures": failures})
    else:
        for n in nets:
            print(format_network(n, brief=True))
            print()
        print(format_rollup(rollup))
        for f in failures:
            print(f"left out: {_clean(f['path'])}: {_clean(f['error'])}")
    return EXIT_INVALID if failures and not nets else 0


def _money(x: float, currency: str) -> str:
    from vmo_lib.formatting import format_money

    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format_money(x, currency)


def format_network(net, brief: bool = False) -> str:
    """The human summary of a :class:`~vmo_lib.analysis.network.BenefitNetwork` (what ``vmo map`` prints)."""
    cur = net.currency
    out = [f"{_clean(net.case_id)} · benefits dependency network as of {net.as_of} (review date "
           f"{net.review_date.isoformat()})" + ("" if net.mapped else ": not mapped")]
    out += [f"  {_clean(s)}" for s in net.sentences()]
    if not net.mapped:
        return "\n".join(out)
    out.append(f"  Expected value of the benefits {_money(net.total_value, cur)}; at risk from late enablers "
               f"{_money(net.value_at_risk(), cur)}; reaching no strategic objective "
               f"{_money(net.unallocated_value, cur)}.")
    for title, df in (("strategic objective", net.by_strategic_objective),
                      ("investment objective", net.by_investment_objective)):
        if brief and title == "investment objective":
            continue
        if len(df):
            out.append(f"  By {title}:")
            for r in df.itertuples(index=False):
                name = _clean(f"{r.node_id} {r.name or ''}")
                name = name if len(name) <= 50 else name[:49] + "…"
                out.append(f"    {name:<50} {_money(r.value, cur):>14}  ({', '.join(r.benefits) or 'no benefit'})")
    return "\n".join(out)


def format_rollup(rollup) -> str:
    """The portfolio's value by strategic objective (what ``vmo map FOLDER`` prints last)."""
    if not len(rollup):
        return "By strategic objective: no case has a benefit."
    out = ["Portfolio: expected value of the benefits by strategic objective (mapped | not mapped | total)"]
    for r in rollup.itertuples(index=False):
        name = _clean(r.strategic_objective)
        name = name if len(name) <= 40 else name[:39] + "…"
        out.append(f"  {name:<40} {_money(r.value_mapped, r.currency):>14} {_money(r.value_not_mapped, r.currency):>14} "
                   f"{_money(r.value_total, r.currency):>14}  {r.n_cases} case(s)")
    return "\n".join(out)
