"""Sub-commands of ``vmo``; each module has ``register(subparsers)``. See :mod:`vmo_lib.cli`.

This module holds what every command shares: the exit codes, the JSON writer, and the pieces of
the human output (one money format, aligned tables, a rate option, terminal-safe text), so every
command reads the same way.

Help text convention: each command's parser is made by :func:`add_command`, which takes a plain
description and at least one example command line (``vmo --help`` output is checked by the tests:
an example per command, no docstring markup, no lists of JSON keys; those live in the README).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["EXIT_BATCH", "EXIT_INTERNAL", "EXIT_INVALID", "EXIT_OK", "EXIT_UNREADABLE", "AmountAction", "RateAction",
           "add_command", "clean", "dump_json", "money", "money_change", "one_workbook", "table"]

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_BATCH = 1


def _json_default(o: Any) -> Any:
    import datetime as dt

    import numpy as np
    import pandas as pd

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, (dt.date, dt.datetime, pd.Timestamp)):
        return o.isoformat()
    if isinstance(o, pd.DataFrame):
        return json.loads(o.to_json(orient="records", date_format="iso"))
    if isinstance(o, pd.Series):
        return json.loads(o.to_json(date_format="iso"))
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _clean(o: Any) -> Any:
    """NaN/inf become null so the JSON is valid for every parser."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def dump_json(obj: Any, fp=None) -> None:
    """Write ``obj`` as indented JSON (NaN → null, dates ISO) to ``fp`` (stdout by default)."""
    fp = fp or sys.stdout
    # one write of the whole text: json.dump writes each of its (hundreds of thousands of) pieces apart
    fp.write(json.dumps(_clean(obj), indent=2, default=_json_default, allow_nan=False) + "\n")


# --- help --------------------------------------------------------------------------------------------
def add_command(sub: argparse._SubParsersAction, name: str, summary: str, description: str,
                examples: Sequence[str], **kwargs: Any) -> argparse.ArgumentParser:
    """Add a sub-command whose ``--help`` is plain language with examples.

    Parameters
    ----------
    sub : the ``add_subparsers()`` object of ``vmo``
    name : str
        The command (``"appraise"``).
    summary : str
        One line for the list of commands in ``vmo --help``.
    description : str
        What the command does, in the reader's words (paragraphs separated by a blank line).
    examples : sequence of str
        Command lines, each optionally followed by ``"  # what it does"``.
    """
    epilog = "Examples:\n" + "\n".join(f"  {e}" for e in examples)
    return sub.add_parser(name, help=summary, description=description, epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


class RateAction(argparse.Action):
    """An option that takes a rate: ``0.08`` or ``8%`` (one parser, :func:`vmo_lib.formatting.parse_rate`).

    A plain number above 1 (``--rate 8``) is refused with a :class:`~vmo_lib.errors.UsageError`
    (exit 2), never read as 800 %.
    """

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: D102
        from vmo_lib.formatting import parse_rate

        setattr(namespace, self.dest, parse_rate(values, option_string or self.dest))


class AmountAction(argparse.Action):
    """An option that takes an amount of money: ``9000000``, ``9,000,000``, ``9m`` or ``£9m``
    (:func:`vmo_lib.formatting.parse_amount`); anything else, or a negative amount, is a
    :class:`~vmo_lib.errors.UsageError` (exit 2)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: D102
        from vmo_lib.errors import UsageError
        from vmo_lib.formatting import parse_amount

        value = parse_amount(values, option_string or self.dest)
        if value < 0:
            raise UsageError(f"{option_string or self.dest} {values}: an amount here cannot be negative")
        setattr(namespace, self.dest, value)


# --- human output ----------------------------------------------------------------------------------
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def clean(text: object) -> str:
    """Workbook text made safe for a terminal: no control characters, escape sequences or bidi overrides."""
    return _CONTROL.sub("?", "" if text is None else str(text))


def money(x: Any, currency: str = "GBP") -> str:
    """Money as every command prints it: the workbench's compact format (``£5.25m``, ``−£350k``, ``£9,999``)."""
    from vmo_lib.formatting import format_money

    return format_money(x, currency, compact=True)


def money_change(x: Any, currency: str = "GBP") -> str:
    """A change in money as every command prints it (``+£1.54m``, ``−£357k``)."""
    from vmo_lib.formatting import format_money_change

    return format_money_change(x, currency, compact=True)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None,
          indent: int = 0, max_width: int | None = None) -> str:
    """Rows as an aligned plain-text table with a heading line.

    Parameters
    ----------
    headers : sequence of str
    rows : iterable of sequences (already formatted as text)
    align : str, optional
        One letter per column, ``l`` or ``r`` (default: left for the first column, right for the rest).
    indent : int
        Spaces before every line.
    max_width : int, optional
        Longest text of the first column; longer text ends in ``…``.

    Examples
    --------
    >>> print(table(["Case", "NPV"], [["CRM-2025", "£5.25m"], ["ERP", "−£593k"]]))
    Case         NPV
    --------  ------
    CRM-2025  £5.25m
    ERP       −£593k
    """
    rows = [[clean(c) for c in r] for r in rows]
    if max_width:
        rows = [[r[0] if len(r[0]) <= max_width else r[0][: max_width - 1] + "…", *r[1:]] for r in rows]
    n = len(headers)
    align = align or ("l" + "r" * (n - 1))
    widths = [max([len(headers[j])] + [len(r[j]) for r in rows]) for j in range(n)]

    def line(cells: Sequence[str]) -> str:
        parts = [f"{c:<{w}}" if a == "l" else f"{c:>{w}}" for c, w, a in zip(cells, widths, align, strict=True)]
        return (" " * indent + "  ".join(parts)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# --- arguments in the user's words -----------------------------------------------------------------
def one_workbook(path: str, command: str) -> str:
    """Refuse a folder where a command takes one case workbook, saying which command takes a folder.

    Raises
    ------
    UsageError
        ``path`` is a folder.
    """
    from vmo_lib.errors import UsageError

    p = Path(path)
    if p.is_dir():
        example = next(iter(sorted(p.glob("*.xlsx"))), None)
        one = f", e.g. vmo {command} {example}" if example else ""
        raise UsageError(f"{path} is a folder; vmo {command} looks at one business-case workbook (.xlsx){one}. "
                         f"For every case in the folder use vmo validate {path} (checks) or "
                         f"vmo portfolio {path} --as-of QUARTER (the register of all cases).")
    return path

