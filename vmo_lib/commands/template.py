"""``vmo template PATH``: write the blank business-case template (an adapter over
:func:`vmo_lib.intake.template.write_template`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vmo_lib import schema
from vmo_lib.commands import EXIT_OK, EXIT_UNREADABLE, add_command
from vmo_lib.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "template", "write the blank business-case workbook a case author fills in",
        "Write a blank business-case workbook (.xlsx) for a case author: a guide, then sheets for the case,\n"
        "its costs and benefits (with low and high estimates), actuals, forecasts and re-baselines, with\n"
        "drop-down lists and notes on every field. The period columns of Costs and Benefits run from the\n"
        "first period for the horizon (default 2026Q1, quarters, 20 periods); the Case sheet is pre-filled\n"
        "with the three values given. Check a filled workbook with vmo validate.",
        ["vmo template my_case.xlsx",
         "vmo template my_case.xlsx --first-period 2026Q1 --period quarter --horizon 20",
         "vmo template annual.xlsx --first-period 2025 --period year --horizon 10",
         "vmo template templates/business_case.xlsx --force   # replace an existing file"])
    p.add_argument("path", type=Path, metavar="OUT.xlsx", help="the workbook to write, e.g. my_case.xlsx")
    p.add_argument("--first-period", metavar="PERIOD", default=None,
                   help="period 0 of the appraisal: a quarter such as 2026Q1, or a year such as 2026 (or a "
                        "UK financial year such as FY2025-26) with --period year (default 2026Q1)")
    p.add_argument("--period", choices=schema.PERIOD_LENGTHS, default=None,
                   help="period length: quarter or year (default quarter)")
    p.add_argument("--horizon", type=int, metavar="N", default=None,
                   help="number of periods appraised, period 0 included; one column per period (default 20)")
    p.add_argument("--force", action="store_true", help="replace the file if it already exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vmo_lib.intake.template import template_periods, write_template

    path: Path = args.path
    try:
        periods = template_periods(args.first_period, args.period, args.horizon)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if path.exists() and not args.force:
        print(f"vmo: {path} already exists; use --force to replace it", file=sys.stderr)
        return EXIT_UNREADABLE
    if path.suffix.lower() != ".xlsx":
        print(f"vmo: {path}: the template must be an .xlsx file", file=sys.stderr)
        return EXIT_UNREADABLE
    if not path.parent.is_dir():
        print(f"vmo: {path.parent}: no such folder", file=sys.stderr)
        return EXIT_UNREADABLE
    custom = (args.first_period, args.period, args.horizon) != (None, None, None)
    written = write_template(path, periods if custom else None)
    print(f"Wrote the business-case template (version {schema.TEMPLATE_VERSION}) to {written}: "
          f"{len(periods)} period columns, {periods[0]} to {periods[-1]}")
    return EXIT_OK
