"""``vmo actuals-form CASE --as-of 2026Q3 OUT.xlsx``: write the pre-filled quarterly actuals return.

One row per cost and benefit line due in the quarter (plan, latest forecast, KPI baseline, target and
last measurement), with yellow input cells for the actual amount, the measured KPI value and a
comment. Send it to the line owners; put the filled file in ``<CASE stem>.returns/`` beside the case
workbook (e.g. ``CRM-2025.returns/2026Q3.xlsx``) and ``vmo status`` / ``vmo review`` merge it.
The case workbook itself is never written. See :mod:`vmo_lib.intake.returns`.
"""

from __future__ import annotations

import argparse

from vmo_lib.commands import add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "actuals-form", "write the pre-filled quarterly actuals return of one case for its line owners",
        "Write an Excel form for one case and one quarter, listing every cost and benefit line due in that\n"
        "quarter with its plan, latest forecast and KPI target already filled in, and yellow cells for the\n"
        "actual amount, the measured KPI value and a comment. Send it to the line owners; put the filled\n"
        "form in the folder <workbook name>.returns beside the workbook (e.g. CRM-2025.returns/2026Q4.xlsx)\n"
        "and vmo status and vmo review read it. The case workbook itself is never changed. Lines that\n"
        "already have an actual for the quarter in the workbook are not asked for again.",
        ["vmo actuals-form data/sample/CRM-2025.xlsx --as-of 2026Q4 CRM-2026Q4.xlsx"])
    p.add_argument("case", metavar="WORKBOOK", help="one business-case workbook (.xlsx)")
    p.add_argument("out", metavar="OUT.xlsx", help="the form to write")
    p.add_argument("--as-of", required=True, metavar="QUARTER", help="the quarter to report, e.g. 2026Q4")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vmo_lib.commands import clean, one_workbook
    from vmo_lib.errors import UsageError
    from vmo_lib.intake.loader import load_case
    from vmo_lib.intake.returns import due_lines, return_period, write_actuals_form
    from vmo_lib.intake.validation import resolve_as_of

    try:
        as_of = resolve_as_of(args.as_of)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    case = load_case(one_workbook(args.case, "actuals-form"), as_of=as_of)
    path = write_actuals_form(case, as_of, args.out)
    due = due_lines(case, as_of)
    as_of = return_period(case, as_of)  # a yearly case: the year that review covers (2025, FY2025-26)
    # the form also lists every cost line open for spend the plan did not expect (a plan of 0 this period)
    open_lines = sum(1 for r in due if r["kind"] == "cost" and not (r.get("plan") or 0) and not (r.get("forecast") or 0))
    n = len(due) - open_lines
    extra = f" (and {open_lines} cost line(s) open for unplanned spend)" if open_lines else ""
    print(f"Wrote {path}: {n} line(s) due for {clean(case.case_id)} in {as_of}{extra}")
    if n == 0:
        f = case.flows
        done = f[(f["scenario"] == "actual") & (f["period"].astype(str) == str(as_of))
                 & (f["amount"].notna() | f["kpi_value"].notna())]["line_id"].nunique()
        if done:
            print(f"Nothing is due: the workbook already holds {as_of} actuals for {done} line(s), and no "
                  f"other line has a plan, forecast or KPI due then. The next return is for the quarter after.")
        else:
            print(f"Nothing is due: no cost or benefit line of {clean(case.case_id)} has a plan, forecast "
                  f"or KPI due in {as_of}.")
    return 0
