"""The ``vmo`` command line: a thin adapter over the Python API.

Each sub-command lives in :mod:`vmo_lib.commands` as a module with ``register(subparsers)``
(adds its parser and sets ``func``) and contains no analysis of its own. This module turns every
:class:`~vmo_lib.errors.VmoError` into one clear message on stderr and an exit code, so no traceback
reaches the user:

====  ==========================================================================
code  meaning
====  ==========================================================================
0     success (validation warnings allowed)
1     the input was read but has errors (validation), or some cases of a batch failed
2     a file could not be read as a workbook at all, or the command line is wrong
3     an unexpected internal error (reported as a one-line message, with ``--debug`` for the
      traceback)
====  ==========================================================================
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Sequence

from vmo_lib import __version__
from vmo_lib.commands import (  # noqa: F401 - re-exported: the exit codes and JSON writer of every command
    EXIT_BATCH,
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNREADABLE,
    dump_json,
)
from vmo_lib.errors import BatchError, UsageError, ValidationError, VmoError, WorkbookError

__all__ = ["EXIT_BATCH", "EXIT_INTERNAL", "EXIT_INVALID", "EXIT_OK", "EXIT_UNREADABLE", "dump_json", "main"]

#: Sub-command modules under vmo_lib.commands, in the order ``vmo --help`` lists them.
COMMANDS = (
    "template",
    "validate",
    "appraise",
    "status",
    "actuals_form",
    "risk",
    "portfolio",
    "review",
    "map",
    "history",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmo",
        description="VMO Workbench: business cases, appraisal, benefits realisation, risk and review packs.\n\n"
                    "Run 'vmo COMMAND --help' for what a command does and an example. Rates are written\n"
                    "as a fraction (0.08) or with a % sign (8%). Add --json to a command for machine-readable\n"
                    "output (the README lists its keys).",
        epilog="Examples (the quarterly cycle on the bundled sample portfolio):\n"
               "  vmo validate data/sample\n"
               "  vmo status data/sample/CRM-2025.xlsx --as-of 2026Q3\n"
               "  vmo portfolio data/sample --as-of 2026Q3\n"
               "  vmo review data/sample --as-of 2026Q3 --out reports/2026Q3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vmo-workbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:  # a command still being built
            if exc.name and exc.name.endswith(f"commands.{name}"):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:  # an option checked as it is read (a rate of 800 %)
        print(f"vmo: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_UNREADABLE
    try:
        return int(args.func(args) or 0)
    except WorkbookError as exc:
        print(f"vmo: cannot read {exc.path}: {exc.reason}", file=sys.stderr)
        _json_error(args, {"error": "unreadable", "path": str(exc.path), "reason": exc.reason, "issues": []})
        return EXIT_UNREADABLE
    except UsageError as exc:
        print(f"vmo: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except ValidationError as exc:
        print(f"vmo: {exc}", file=sys.stderr)
        _print_issues(exc.issues)  # every issue, each naming its file, sheet and cell
        _json_error(args, {"error": "invalid", "path": exc.path, "reason": str(exc),
                           "issues": exc.issues.to_dict(orient="records")})
        return EXIT_INVALID
    except BatchError as exc:  # names cases and files: shown as vmo_lib.commands.clean shows workbook text
        from vmo_lib.commands import clean

        print(f"vmo: {clean(exc)}", file=sys.stderr)
        return EXIT_BATCH
    except VmoError as exc:
        print(f"vmo: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("vmo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vmo ... --json | head`: the reader left; not an error of ours
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        if args.debug or exc.errno not in _CANNOT_WRITE:
            return _internal_error(args, exc)
        # an output (or input) the file system refuses: the user's to fix, not a bug (exit 2, issue 15)
        print(f"vmo: {_written(exc.filename)}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a raw traceback
        return _internal_error(args, exc)


#: errno values that mean the file system refused: permission, read-only, full, quota, file too large.
_CANNOT_WRITE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _written(filename: object) -> str:
    """The file an OSError names; for the temp file of vmo_lib.files' atomic writer, the file it was for."""
    import re

    if not filename:
        return "a file"
    folder, name = os.path.split(os.fsdecode(filename))  # type: ignore[arg-type]
    m = re.fullmatch(r"\.(.+)\.[A-Za-z0-9_]+\.tmp", name)
    return os.path.join(folder, m.group(1)) if m else os.path.join(folder, name)


def _internal_error(args: argparse.Namespace, exc: BaseException) -> int:
    if args.debug:
        raise exc
    print(f"vmo: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
    return EXIT_INTERNAL


def _print_issues(issues: object) -> None:
    """Every error and warning of a failed validation on stderr: file, sheet!cell, rule, message."""
    try:
        rows = issues.to_dict(orient="records")  # type: ignore[attr-defined]
    except AttributeError:
        return
    for i in rows:
        where = f"{i.get('sheet')}!{i.get('cell')}" if i.get("cell") else str(i.get("sheet") or "")
        name = os.path.basename(str(i.get("file") or ""))
        print(f"  {i.get('severity')}  {name} {where}  {i.get('rule')}  {i.get('message')}", file=sys.stderr)


def _json_error(args: argparse.Namespace, payload: dict) -> None:
    """With ``--json``, the error as JSON on stdout too (so a script always gets JSON)."""
    if not getattr(args, "json", False):
        return
    from vmo_lib.commands import dump_json

    try:
        dump_json(payload)
    except (TypeError, ValueError):  # never let the error report itself fail
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
