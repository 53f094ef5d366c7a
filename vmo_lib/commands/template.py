"""``vmo template PATH``: write the blank business-case template (an adapter over
:func:`vmo_lib.intake.template.write_template`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vmo_lib import schema
from vmo_lib.commands import EXIT_OK, EXIT_UNREADABLE, add_command


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "template", "write the blank business-case workbook a case author fills in",
        "Write a blank business-case workbook (.xlsx) for a case author: a guide, then sheets for the case,\n"
        "its costs and benefits (with low and high estimates), actuals, forecasts and re-baselines, with\n"
        "drop-down lists and notes on every field. Check a filled workbook with vmo validate.",
        ["vmo template my_case.xlsx",
         "vmo template templates/business_case.xlsx --force   # replace an existing file"])
    p.add_argument("path", type=Path, metavar="OUT.xlsx", help="the workbook to write, e.g. my_case.xlsx")
    p.add_argument("--force", action="store_true", help="replace the file if it already exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vmo_lib.intake.template import write_template

    path: Path = args.path
    if path.exists() and not args.force:
        print(f"vmo: {path} already exists; use --force to replace it", file=sys.stderr)
        return EXIT_UNREADABLE
    if path.suffix.lower() != ".xlsx":
        print(f"vmo: {path}: the template must be an .xlsx file", file=sys.stderr)
        return EXIT_UNREADABLE
    if not path.parent.is_dir():
        print(f"vmo: {path.parent}: no such folder", file=sys.stderr)
        return EXIT_UNREADABLE
    written = write_template(path)
    print(f"Wrote the business-case template (version {schema.TEMPLATE_VERSION}) to {written}")
    return EXIT_OK
