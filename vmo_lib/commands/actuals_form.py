"""``vmo actuals-form CASE --as-of 2026Q3 OUT.xlsx``: write the pre-filled quarterly actuals return.

One row per cost and benefit line due in the quarter (plan, latest forecast, KPI baseline, target and
last measurement), with yellow input cells for the actual amount, the measured KPI value and a
comment. Send it to the line owners; put the filled file in ``<CASE stem>.returns/`` beside the case
workbook (e.g. ``CRM-2025.returns/2026Q3.xlsx``) and ``vmo status`` / ``vmo review`` merge it.
The case workbook itself is never written. See :mod:`vmo_lib.intake.returns`.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("actuals-form", help="write the pre-filled quarterly actuals return of a case",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("case", metavar="CASE", help="business-case workbook (.xlsx)")
    p.add_argument("out", metavar="OUT.xlsx", help="the return to write")
    p.add_argument("--as-of", required=True, metavar="QUARTER", help="the quarter to report, e.g. 2026Q3")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vmo_lib.intake.loader import load_case
    from vmo_lib.intake.returns import due_lines, write_actuals_form
    from vmo_lib.intake.validation import resolve_as_of

    try:
        as_of = resolve_as_of(args.as_of)
    except ValueError as exc:
        print(f"vmo actuals-form: {exc}", file=sys.stderr)
        return 2
    case = load_case(args.case, as_of=as_of)
    path = write_actuals_form(case, as_of, args.out)
    n = len(due_lines(case, as_of))
    print(f"wrote {path}: {n} line(s) due for {case.case_id} in {as_of}")
    return 0
