"""``vmo history``: what the quarterly history holds, and backfilling quarters reviewed before it existed.

Sub-commands (each reads ``--history PATH``, default ``vmo-history.duckdb`` in the current folder; a
folder means ``FOLDER/vmo-history.duckdb``):

* ``vmo history quarters [--json]`` — the quarters recorded, with their cases and latest run;
* ``vmo history runs [--json]`` — every run that recorded a quarter (and what it replaced);
* ``vmo history show CASE [--json]`` — one case's headline figures quarter by quarter;
* ``vmo history backfill FOLDER --from 2025Q1 --to 2026Q3 [--replace]`` — review every quarter of the
  range the history lacks from today's files (only the actuals up to each quarter) and record it,
  labelled "reconstructed from today's files" (:func:`vmo_lib.history.replay.backfill`).

Exit codes: 0, 1 (some workbooks could not be reviewed), 2 (the history is locked by another
process beyond ``--wait`` seconds, written by a newer version, or not a history).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["history_path", "register"]


def history_path(text: str | None, folder: str | None = None) -> Path:
    """The history file of ``--history`` (a folder means its ``vmo-history.duckdb``), else beside ``folder``."""
    from vmo_lib.history.store import DEFAULT_FILE

    if text:
        p = Path(text)
        return p / DEFAULT_FILE if p.is_dir() else p
    return Path(folder or ".") / DEFAULT_FILE


def _common(p: argparse.ArgumentParser, json_out: bool = True) -> None:
    p.add_argument("--history", metavar="PATH", default=None,
                   help="history file (default: vmo-history.duckdb in the current folder, or in FOLDER)")
    p.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                   help="how long to wait while another process holds the history's lock (default: 30)")
    if json_out:
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def register(subparsers: argparse._SubParsersAction) -> None:
    from vmo_lib.commands import add_command

    p = add_command(
        subparsers, "history", "the quarterly history: quarters, runs, one case's trend, backfill",
        "Read the quarterly history every review records (the file vmo-history.duckdb beside the cases),\n"
        "or fill in the quarters reviewed before it existed.",
        ["vmo history backfill data/sample --from 2026Q3 --to 2026Q3   # record a quarter the history lacks",
         "vmo history quarters --history data/sample                   # the quarters recorded",
         "vmo history show CRM-2025 --history data/sample              # one case, quarter by quarter",
         "vmo history runs --history data/sample                       # every run, and what it replaced"])
    sub = p.add_subparsers(dest="history_command", metavar="SUBCOMMAND")
    q = add_command(sub, "quarters", "the quarters recorded", "The quarters the history holds, with their cases "
                    "and the run that recorded them.", ["vmo history quarters --history data/sample"])
    _common(q)
    q.set_defaults(func=_quarters)
    r = add_command(sub, "runs", "every run that recorded a quarter, and which run it replaced",
                    "Every review or backfill that recorded a quarter: when, with which tool version and inputs, "
                    "and which earlier run of the same quarter it replaced.", ["vmo history runs --history data/sample"])
    _common(r)
    r.set_defaults(func=_runs)
    s = add_command(sub, "show", "one case's headline figures, quarter by quarter",
                    "One case's verdict, RAG, decision, NPVs and realisation in every quarter recorded.",
                    ["vmo history show CRM-2025 --history data/sample"])
    s.add_argument("case_id", metavar="CASE", help="case id")
    _common(s)
    s.set_defaults(func=_show)
    b = add_command(sub, "backfill", "record the quarters the history lacks, reconstructed from today's files",
                    "Review FOLDER as of every quarter from --from to --to that the history does not hold yet\n"
                    "(today's workbooks and returns, only the actuals up to each quarter) and record them,\n"
                    "labelled 'reconstructed from today's files'. Quarters already recorded are skipped unless\n"
                    "--replace.", ["vmo history backfill data/sample --from 2025Q3 --to 2026Q2"])
    b.add_argument("folder", metavar="FOLDER", help="folder of case workbooks (*.xlsx), never modified")
    b.add_argument("--from", dest="first", required=True, metavar="QUARTER", help="first quarter, e.g. 2025Q1")
    b.add_argument("--to", dest="last", required=True, metavar="QUARTER", help="last quarter, e.g. 2026Q3")
    b.add_argument("--replace", action="store_true", help="also re-review quarters already recorded")
    b.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo (default 0)")
    _common(b)
    b.set_defaults(func=_backfill)
    from vmo_lib.commands import accuracy  # vmo history accuracy (issue 12, estimating accuracy)

    accuracy.register(sub, _common)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def _open(args: argparse.Namespace, folder: str | None = None):
    from vmo_lib.history.store import LOCK_TIMEOUT, open_history

    return open_history(history_path(args.history, folder), timeout=LOCK_TIMEOUT if args.wait is None else args.wait)


def _guarded(fn):
    def run(args: argparse.Namespace) -> int:
        from vmo_lib.commands import EXIT_UNREADABLE
        from vmo_lib.history.store import HistoryError

        try:
            return fn(args)
        except HistoryError as exc:
            print(f"vmo: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    return run


@_guarded
def _quarters(args: argparse.Namespace) -> int:
    from vmo_lib.commands import dump_json

    with _open(args) as h:
        cq, runs = h.frames()["case_quarter"], h.runs()
    rows = []
    for q, g in cq.groupby("quarter", sort=True):
        latest = runs[runs["quarter"] == q].tail(1)
        run = latest.iloc[0] if len(latest) else None
        rows.append({"quarter": q, "cases": int(len(g)),
                     "run_id": None if run is None else run["run_id"],
                     "kind": None if run is None else run["kind"],
                     "reconstructed": [] if run is None else _json_list(run["reconstructed"])})
    if args.json:
        dump_json({"history": str(history_path(args.history)), "quarters": rows})
        return 0
    if not rows:
        print(f"{history_path(args.history)}: no quarter recorded")
        return 0
    for r in rows:
        note = f", {len(r['reconstructed'])} reconstructed from today's files" if r["reconstructed"] else ""
        print(f"{r['quarter']}  {r['cases']:>4} cases  run {r['run_id']} ({r['kind']}{note})")
    return 0


def _json_list(text: object) -> list:
    import json

    try:
        return list(json.loads(str(text))) if text else []
    except ValueError:
        return []


@_guarded
def _runs(args: argparse.Namespace) -> int:
    from vmo_lib.commands import dump_json

    with _open(args) as h:
        runs, rev, inputs = h.runs(), h.revisions(), h.run_inputs()
    replaced = dict(zip(rev["run_id"], rev["replaced_run_id"], strict=True))
    rows = []
    for r in runs.itertuples(index=False):
        files = inputs[inputs["run_id"] == r.run_id]
        rows.append({"run_id": r.run_id, "quarter": r.quarter, "kind": r.kind, "started": str(r.started),
                     "finished": str(r.finished), "tool_version": r.tool_version, "cases": int(r.cases),
                     "parameters": _json_obj(r.parameters), "reconstructed": _json_list(r.reconstructed),
                     "replaced": replaced.get(r.run_id),
                     "inputs": files[["case_id", "role", "path", "sha256"]].to_dict("records")})
    if args.json:
        dump_json({"history": str(history_path(args.history)), "runs": rows})
        return 0
    if not rows:
        print(f"{history_path(args.history)}: no run recorded")
        return 0
    for r in rows:
        rep = f", replaced {r['replaced']}" if r["replaced"] else ""
        rec = f", {len(r['reconstructed'])} reconstructed" if r["reconstructed"] else ""
        print(f"{r['run_id']}  {r['quarter']}  {r['kind']:<8} {r['cases']:>4} cases  finished {r['finished'][:19]}"
              f"  vmo {r['tool_version']}{rec}{rep}")
    return 0


def _json_obj(text: object) -> dict:
    import json

    try:
        return dict(json.loads(str(text))) if text else {}
    except ValueError:
        return {}


_SHOW = ("quarter", "verdict", "rag", "decision", "approved_npv", "expected_npv", "forward_npv", "realisation_pct")


@_guarded
def _show(args: argparse.Namespace) -> int:
    from vmo_lib.commands import dump_json
    from vmo_lib.formatting import format_money, format_percent

    with _open(args) as h:
        cq = h.case_frames(args.case_id)["case_quarter"]
        known = [] if len(cq) else sorted(set(h.frames()["case_quarter"]["case_id"]))
    if cq.empty:
        from vmo_lib.errors import VmoError

        hint = f"; cases recorded: {', '.join(known[:20])}" if known else ""
        raise VmoError(f"{history_path(args.history)}: no quarter recorded for case {args.case_id!r}{hint}")
    rows = cq[list(_SHOW)].to_dict("records")
    if args.json:
        dump_json({"case_id": args.case_id, "title": cq["title"].iloc[-1], "currency": cq["currency"].iloc[-1],
                   "quarters": rows})
        return 0
    cur = cq["currency"].iloc[-1] or "GBP"
    print(f"{args.case_id} — {cq['title'].iloc[-1]}")
    print(f"{'quarter':<8} {'verdict':<14} {'RAG':<6} {'decision':<10} {'approved NPV':>14} {'expected NPV':>14} "
          f"{'forward NPV':>14} {'realised':>9}")
    for r in rows:
        print(f"{r['quarter']:<8} {str(r['verdict'] or '–'):<14} {str(r['rag'] or '–'):<6} "
              f"{str(r['decision'] or '–'):<10} {format_money(r['approved_npv'], cur, compact=True):>14} "
              f"{format_money(r['expected_npv'], cur, compact=True):>14} "
              f"{format_money(r['forward_npv'], cur, compact=True):>14} {format_percent(r['realisation_pct']):>9}")
    return 0


@_guarded
def _backfill(args: argparse.Namespace) -> int:
    from vmo_lib.commands import EXIT_BATCH, dump_json
    from vmo_lib.history.replay import backfill
    from vmo_lib.history.store import LOCK_TIMEOUT

    path = history_path(args.history, args.folder)
    result = backfill(args.folder, args.first, args.last, path, replace=args.replace, seed=args.seed,
                      timeout=LOCK_TIMEOUT if args.wait is None else args.wait)
    if args.json:
        dump_json({"history": str(path), **result})
    else:
        done = ", ".join(result["recorded"]) or "none"
        skipped = ", ".join(result["skipped"]) or "none"
        print(f"{path}: recorded {done} (reconstructed from today's files); already recorded, skipped: {skipped}")
        for f in result["failed"]:
            print(f"  {f['quarter']} {f['path']}: {f['error']}", file=sys.stderr)
    return EXIT_BATCH if result["failed"] else 0
