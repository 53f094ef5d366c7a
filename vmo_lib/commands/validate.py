"""``vmo validate PATH... [--json] [--as-of 2026Q3]``: check business-case workbooks.

Prints every issue of each workbook (grouped per file: severity, cell, rule, message), then one
summary line. A folder stands for the workbooks in it (``*.xlsx``/``*.xlsm``, sorted; Excel lock
files ``~$...`` and hidden files skipped), so ``vmo validate data/sample`` checks a portfolio.
A case's filled returns (``<stem>.returns/`` beside it) are checked with it, each issue naming
the return's file and cell; a return given on its own is checked as a return. Two workbooks whose
case ids differ only in upper/lower case are refused (``portfolio.duplicate_case_id`` on the later).

Exit code: 0 when no workbook has errors (warnings allowed); 1 when a workbook has errors; 2 when a
path is missing, a folder holds no workbook, or a file cannot be read as a workbook at all
(2 wins over 1).

``--json`` prints a list with one object per file: ``path``, ``status`` (``ok``, ``warnings``,
``errors`` or ``unreadable``), ``errors``, ``warnings`` (counts), ``reason`` (why it is unreadable,
else null) and ``issues`` (objects with ``file, sheet, cell, field, rule, message, severity``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from vmo_lib.commands import add_command

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "validate", "check business-case workbooks and list every problem at once",
        "Check one or more business-case workbooks, or every workbook in a folder, and list each problem\n"
        "with its sheet and cell, what is wrong and what was expected. Filled actuals returns in the folder\n"
        "<workbook name>.returns beside a workbook are checked with it. Errors must be fixed before the case\n"
        "can be reviewed; warnings are worth a look but do not stop anything. Nothing is ever written to\n"
        "the workbooks.\n\n"
        "Exit code 0: no errors (warnings allowed); 1: some workbook has errors; 2: a file is missing or\n"
        "cannot be read as a workbook at all.",
        ["vmo validate data/sample                       # every workbook in the folder",
         "vmo validate data/sample/CRM-2025.xlsx --as-of 2026Q3"])
    p.add_argument("paths", nargs="+", metavar="PATH", help="a workbook (.xlsx or .xlsm) or a folder of workbooks")
    p.add_argument("--as-of", default=None, metavar="QUARTER",
                   help="review quarter, e.g. 2026Q3: actuals after it are errors (default: this quarter)")
    p.add_argument("--json", action="store_true", help="machine-readable output (keys listed in the README)")
    p.set_defaults(func=run)


def _expand(paths: list[str]) -> list[tuple[str, str | None]]:
    """(path, reason it cannot be checked or None) for every file to check."""
    from vmo_lib.intake.loader import workbook_files

    out: list[tuple[str, str | None]] = []
    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            files = workbook_files(p)
            if not files:
                out.append((arg, "the folder holds no .xlsx or .xlsm workbook"))
            out.extend((str(f), None) for f in files)
        else:
            out.append((arg, None))  # a missing path is reported by the file check
    return out


def check_paths(paths: list[str], as_of: str | None) -> list[dict[str, Any]]:
    """One result per workbook: what ``--json`` prints (the text output formats the same)."""
    import pandas as pd

    from vmo_lib.errors import WorkbookError
    from vmo_lib.intake.loader import check_case_file, duplicate_case_ids

    checked: list[tuple[str, str | None, Any, str | None, str]] = []  # path, reason, issues, case id, cell
    for path, reason in _expand(paths):
        issues, case_id, cell = None, None, ""
        if reason is None:
            try:
                issues, case_id, cell = check_case_file(path, as_of=as_of)
            except WorkbookError as exc:
                reason = exc.reason
            except Exception as exc:  # noqa: BLE001 - one file must not stop the others
                reason = f"internal error while checking ({type(exc).__name__}: {exc})"
        checked.append((path, reason, issues, case_id, cell))
    dups = duplicate_case_ids((path, case_id if issues is not None else None, cell)
                              for path, _, issues, case_id, cell in checked)
    results = []
    for i, (path, reason, issues, _, _) in enumerate(checked):
        if i in dups:
            issues = pd.concat([issues, dups[i]], ignore_index=True)
        if issues is None:
            results.append({"path": path, "status": "unreadable", "errors": 0, "warnings": 0,
                            "reason": reason, "issues": []})
            continue
        n_err = int((issues["severity"] == "error").sum())
        n_warn = int((issues["severity"] == "warning").sum())
        status = "errors" if n_err else ("warnings" if n_warn else "ok")
        results.append({"path": path, "status": status, "errors": n_err, "warnings": n_warn, "reason": None,
                        "issues": issues.to_dict(orient="records")})
    return results


def _safe(text: object) -> str:
    """Workbook text is untrusted: no terminal control characters reach the screen."""
    return _CONTROL.sub("?", str(text))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _print_text(results: list[dict[str, Any]]) -> None:
    for r in results:
        path = _safe(r["path"])
        if r["status"] == "unreadable":
            print(f"{path}: UNREADABLE: {_safe(r['reason'])}")
            continue
        if r["status"] == "ok":
            print(f"{path}: OK")
            continue
        print(f"{path}: {_plural(r['errors'], 'error')}, {_plural(r['warnings'], 'warning')}")
        rows = []
        for i in r["issues"]:
            where = f"{i['sheet']}!{i['cell']}" if i["sheet"] and i["cell"] else (i["sheet"] or "(file)")
            rows.append((i["severity"], _safe(where), i["rule"], _safe(i["message"])))
        w_sev = max(len(x[0]) for x in rows)
        w_where = max(len(x[1]) for x in rows)
        w_rule = max(len(x[2]) for x in rows)
        for sev, where, rule, msg in rows:
            print(f"  {sev:<{w_sev}}  {where:<{w_where}}  {rule:<{w_rule}}  {msg}")
    n = len(results)
    by = {s: sum(r["status"] == s for r in results) for s in ("ok", "warnings", "errors", "unreadable")}
    n_err = sum(r["errors"] for r in results)
    n_warn = sum(r["warnings"] for r in results)
    print(f"{_plural(n, 'workbook')}: {by['ok'] + by['warnings']} valid ({by['warnings']} with warnings), "
          f"{by['errors']} with errors, {by['unreadable']} unreadable; "
          f"{_plural(n_err, 'error')}, {_plural(n_warn, 'warning')} in all")


def run(args: argparse.Namespace) -> int:
    from vmo_lib.commands import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, dump_json
    from vmo_lib.intake.validation import resolve_as_of

    try:
        as_of = resolve_as_of(args.as_of)
    except ValueError as exc:
        print(f"vmo validate: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    results = check_paths(args.paths, as_of)
    if args.json:
        dump_json(results)
    else:
        _print_text(results)
    if any(r["status"] == "unreadable" for r in results):
        return EXIT_UNREADABLE
    if any(r["status"] == "errors" for r in results):
        return EXIT_INVALID
    return EXIT_OK
