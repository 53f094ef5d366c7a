"""``vmo history accuracy``: estimating accuracy learned from the quarterly history.

How far closed cases' approved cost, benefit and schedule ended from actual (by sponsor,
organisational unit, case type, benefit type and stated confidence, with counts and t-intervals, "too
few" below the minimum of cases) and the forecast bias of benefit owners quarter to quarter
(:mod:`vmo_lib.history.accuracy`). Registered under ``vmo history`` by
:mod:`vmo_lib.commands.history`.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["register"]


def register(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``accuracy`` to the ``vmo history`` sub-commands (``common`` adds --history, --wait, --json)."""
    from vmo_lib.history.accuracy import MIN_CASES, MIN_FORECASTS

    a = sub.add_parser(
        "accuracy", help="estimating accuracy: closed cases' approved vs actual, owners' forecast bias",
        description="How far closed cases' approved cost, benefit and schedule ended from actual, by sponsor, "
                    "organisational unit, case type, benefit type and stated confidence (mean actual/approved "
                    "with a 95% t-interval; no figure from fewer than --min-cases cases), and how benefit "
                    "owners' forecasts compared with the actuals later reported.")
    a.add_argument("--min-cases", type=int, default=MIN_CASES, metavar="N",
                   help=f"fewest cases behind a figure (default {MIN_CASES}; at least 2)")
    a.add_argument("--min-forecasts", type=int, default=MIN_FORECASTS, metavar="N",
                   help=f"fewest forecasts behind an owner's bias (default {MIN_FORECASTS})")
    a.add_argument("--include-cancelled", action="store_true",
                   help="also count cancelled cases (their ratios then measure the cancellation)")
    common(a)
    a.set_defaults(func=_accuracy)


def _num(x: Any, fmt: str = "{:.2f}") -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(v) else fmt.format(v)


def _accuracy(args: argparse.Namespace) -> int:
    from vmo_lib.commands import EXIT_UNREADABLE, dump_json
    from vmo_lib.commands.history import history_path
    from vmo_lib.errors import UsageError
    from vmo_lib.history.accuracy import accuracy_report
    from vmo_lib.history.store import LOCK_TIMEOUT, HistoryError, open_history

    if args.min_cases < 2 or args.min_forecasts < 1:
        raise UsageError(f"--min-cases must be at least 2 (an interval needs two cases) and --min-forecasts at "
                         f"least 1, not {args.min_cases} and {args.min_forecasts}")
    path = history_path(args.history)
    statuses = ("closed", "cancelled") if args.include_cancelled else ("closed",)
    try:
        with open_history(path, timeout=LOCK_TIMEOUT if args.wait is None else args.wait) as h:
            frames = h.frames()
    except HistoryError as exc:
        print(f"vmo: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    rep = accuracy_report(frames, min_cases=args.min_cases, statuses=statuses, min_forecasts=args.min_forecasts)
    if args.json:
        dump_json({"history": str(path), "quarters": rep["quarters"], "rules": rep["rules"],
                   **{k: rep[k].to_dict("records") for k in ("closed_cases", "accuracy", "owner_bias")}})
        return 0
    q = rep["quarters"]
    print(f"Estimating accuracy — {path} ({q[0]}–{q[-1]}, {len(q)} quarters)" if q else f"{path}: no quarter recorded")
    closed = rep["closed_cases"]
    print(f"Closed cases counted ({', '.join(statuses)}, whole life known): {len(closed)}"
          + (f" — {', '.join(closed['case_id'])}" if len(closed) else ""))
    print(f"Actual ÷ approved: mean and 95% t-interval; no figure from fewer than {args.min_cases} cases.")
    acc = rep["accuracy"]
    if len(acc):
        print(f"  {'by':<13} {'group':<30} {'measure':<9} {'n':>3} {'mean':>6} {'95% interval':>16}")
        for r in acc.to_dict("records"):
            fig = (f"{_num(r['mean_ratio']):>6} {_num(r['ci_low']):>7} – {_num(r['ci_high']):<6}"
                   if not r["figure"] else f"{r['figure']:>6}")
            print(f"  {r['dimension']:<13} {str(r['group'])[:30]:<30} {r['measure']:<9} {r['n']:>3} {fig}")
    bias = rep["owner_bias"]
    print(f"Benefit owners' forecast bias (actual ÷ forecast; no figure from fewer than {args.min_forecasts} "
          f"forecasts): {len(bias)} owners with a forecast later reported")
    for r in bias.to_dict("records"):
        fig = r["figure"] or f"mean {_num(r['mean_ratio'])}, totals {_num(r['ratio_of_totals'])}"
        print(f"  {str(r['owner'])[:30]:<30} n={r['n']:<4} {fig}")
    return 0
