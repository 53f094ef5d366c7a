"""``vmo review FOLDER --as-of 2026Q3 --out reports/2026Q3``: the quarterly review packs.

A thin adapter over :func:`vmo_lib.batch.run_review`. Exit code 0 when every pack was produced,
1 when some case (or the portfolio pack) failed — the others are still produced and the index says
why — and 2 when the folder cannot be read at all, OUT cannot be written (another review is writing
it, read-only, no space left), the Dask cluster has no worker, or the quarterly history is locked
by another review beyond ``--history-wait`` or written by a newer version; OUT then keeps the
previous run and the history is unchanged. The quarter is recorded in ``vmo-history.duckdb`` in
FOLDER (``--history PATH``, ``--no-history``; see :mod:`vmo_lib.history.store`).
A signal stops the review cleanly with one line on stderr: exit 130 (Ctrl-C), 143 (SIGTERM), 129 (SIGHUP).
"""

from __future__ import annotations

import argparse
import sys

from vmo_lib.commands import AmountAction, add_command

__all__ = ["register"]


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "review", "the quarterly review: a pack for every case and for the portfolio",
        "Produce the quarterly review of every business case in FOLDER: an HTML pack and an Excel workbook\n"
        "per case, the portfolio pack, and index.html, the page to open first, all in OUT. A case that\n"
        "fails does not stop the others: index.html says why it failed and the exit code is 1. If OUT\n"
        "cannot be written, it keeps the previous complete run (exit code 2). Ctrl-C stops cleanly.",
        ["vmo review data/sample --as-of 2026Q3 --out reports/2026Q3",
         "vmo review data/sample --as-of 2026Q3 --out reports/2026Q3 --workers 2 --pdf   # with PDFs"])
    p.add_argument("folder", metavar="FOLDER", help="folder of case workbooks (*.xlsx), never modified")
    p.add_argument("--as-of", required=True, metavar="QUARTER", help="review quarter, e.g. 2026Q3")
    p.add_argument("--out", required=True, metavar="OUT",
                   help="output folder, e.g. reports/2026Q3 (packs in it are replaced)")
    p.add_argument("--workers", type=_positive, default=None, metavar="N",
                   help="local worker processes (default: min(2, CPUs)); 1 runs everything in this process")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run on an existing Dask cluster at this address, e.g. tcp://10.0.0.5:8786 "
                        "(FOLDER and OUT must be on a file system the cluster shares)")
    p.add_argument("--pdf", action="store_true", help="also print each HTML pack to PDF (needs /usr/bin/chromium)")
    p.add_argument("--budget", action=AmountAction, default=None, metavar="AMOUNT",
                   help="budget a year for the portfolio selection, in the cases' currency: 9000000 or 9m (default: "
                        "portfolio.toml beside the workbooks; with neither, no selection is made)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the simulations (default 0); the same seed gives the same figures")
    p.add_argument("--scenario", default="baseline", help="the plan appraised: baseline (the approved plan, default) or the name of a scenario")
    p.add_argument("--timeout", type=float, default=600, help="longest one step of a pack may take, in seconds (default: 600)")
    p.add_argument("--worker-timeout", type=float, default=60, metavar="SECONDS",
                   help="with --scheduler: give up if the cluster has no worker within this many seconds (default: 60)")
    p.add_argument("--progress", choices=("auto", "bar", "json", "off"), default="auto",
                   help="progress on stderr: a bar on a terminal, JSON lines otherwise (default: auto)")
    h = p.add_mutually_exclusive_group()
    h.add_argument("--history", metavar="PATH", default=None,
                   help="quarterly history file to read and record this quarter in "
                        "(default: vmo-history.duckdb in FOLDER)")
    h.add_argument("--no-history", action="store_true", help="neither read nor record the quarterly history")
    p.add_argument("--history-wait", type=float, default=None, metavar="SECONDS",
                   help="how long to wait while another review holds the history's lock (default: 30)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import signal

    from vmo_lib.batch import OutputError, ReviewStopped, SchedulerError, run_review
    from vmo_lib.commands import EXIT_UNREADABLE
    from vmo_lib.errors import BatchError
    from vmo_lib.history.store import HistoryError

    try:
        result = run_review(args.folder, args.as_of, args.out, workers=args.workers, scheduler=args.scheduler,
                            pdf=args.pdf, progress=args.progress, seed=args.seed, scenario=args.scenario,
                            timeout=args.timeout, worker_timeout=args.worker_timeout,
                            annual_budget=args.budget,
                            history=False if args.no_history else (args.history or True),
                            history_timeout=args.history_wait)
    except ReviewStopped as exc:
        now = "holds the new complete run" if exc.completed else "still holds the previous complete run"
        print(f"\nvmo: review stopped by {signal.Signals(exc.signum).name}; {args.out} {now}", file=sys.stderr)
        return exc.exit_code
    except (OutputError, SchedulerError) as exc:
        print(f"vmo: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except HistoryError as exc:
        print(f"vmo: {exc}; the review was not written and {args.out} still holds the previous run", file=sys.stderr)
        return EXIT_UNREADABLE
    n = len(result.cases)
    print(f"{n - sum(c['status'] != 'ok' for c in result.cases)} of {n} case packs produced in "
          f"{result.seconds:.1f} s; open {result.index}")
    sys.stdout.flush()
    if not result.ok:
        raise BatchError(result.failures)
    return 0
