"""``vmo history``: what the quarterly history holds, and backfilling quarters reviewed before it existed.

Sub-commands (each reads ``--history PATH``, default ``vmo-history.duckdb`` in the current folder; a
folder means ``FOLDER/vmo-history.duckdb``):

* ``vmo history quarters [--json]`` — the quarters recorded, with their cases and latest run;
* ``vmo history runs [--json]`` — every run that recorded a quarter (and what it replaced);
* ``vmo history show CASE [--json]`` — one case's headline figures quarter by quarter;
* ``vmo history backfill FOLDER --from 2025Q1 --to 2026Q3 [--replace]`` — review every quarter of the
  range the history lacks from today's files (only the actuals up to each quarter) and record it,
  labelled "reconstructed from today's files" (:func:`vmo_lib.history.replay.backfill`);
* ``vmo history trend [FOLDER] [--case ID] [--json]`` — the trend table: the portfolio's value by
  quarter, or one case's figures, verdict, RAG and decision by quarter
  (:func:`vmo_lib.history.access.trend`). The short form ``vmo history FOLDER [--case ID]`` is the
  same: a first argument that is not a sub-command's name is read as ``trend``'s FOLDER (a folder
  named like a sub-command: write ``vmo history trend runs`` or ``./runs``);
* ``vmo history export DIR [--replace]`` — every table as Parquet, one folder per table,
  partitioned by quarter (:func:`vmo_lib.history.access.export_parquet`).

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


class _FolderOrCommand:
    """The sub-commands as argparse checks them, where any other word (not an option) is accepted:
    it is trend's FOLDER."""

    def __init__(self, commands: dict) -> None:
        self.commands = commands

    def __contains__(self, key: object) -> bool:
        return key in self.commands or (isinstance(key, str) and not key.startswith("-"))

    def __iter__(self):
        return iter(self.commands)

    def __len__(self) -> int:
        return len(self.commands)


class _TrendByDefault(argparse._SubParsersAction):
    """Sub-parsers of ``vmo history`` where ``vmo history FOLDER …`` means ``vmo history trend FOLDER …``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.choices = _FolderOrCommand(self._name_parser_map)

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: D102
        if values and values[0] not in self._name_parser_map:
            values = ["trend", *values]
        super().__call__(parser, namespace, values, option_string)


def register(subparsers: argparse._SubParsersAction) -> None:
    from vmo_lib.commands import add_command

    p = add_command(
        subparsers, "history", "the quarterly history: trend, quarters, runs, one case, backfill, export",
        "Read the quarterly history every review records (the file vmo-history.duckdb beside the cases),\n"
        "or fill in the quarters reviewed before it existed.\n\n"
        "Given a folder (or a history file) instead of a sub-command, it prints the portfolio's value by\n"
        "quarter from that history (--case ID: one case's figures, verdict, RAG and decision by quarter):\n"
        "the same as the trend sub-command.",
        ["vmo history backfill data/sample --from 2026Q3 --to 2026Q3   # record a quarter the history lacks",
         "vmo history quarters --history data/sample                   # the quarters recorded",
         "vmo history show CRM-2025 --history data/sample              # one case, quarter by quarter",
         "vmo history runs --history data/sample                       # every run, and what it replaced",
         "vmo history data/sample                                      # the portfolio's value by quarter",
         "vmo history data/sample --case CRM-2025                      # one case's trend",
         "vmo history export history-parquet --history data/sample     # Parquet by quarter, for Dask or Spark"])
    sub = p.add_subparsers(dest="history_command", metavar="SUBCOMMAND", action=_TrendByDefault)
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
    t = add_command(sub, "trend", "the trend table: the portfolio's value by quarter, or one case's",
                    "The portfolio's approved, in-force, expected and forward NPV and benefits realised by quarter\n"
                    "(sums per currency, each case on its own basis), or with --case one case's figures, verdict,\n"
                    "RAG and decision by quarter, as each quarter's review recorded them. FOLDER is the cases\n"
                    "folder whose vmo-history.duckdb is read, or the history file itself; 'vmo history FOLDER'\n"
                    "is the same command.",
                    ["vmo history trend data/sample                     # the portfolio, quarter by quarter",
                     "vmo history data/sample --case CRM-2025 --json    # one case, as JSON"])
    t.add_argument("folder", metavar="FOLDER", nargs="?", default=None,
                   help="cases folder holding vmo-history.duckdb, or the history file (default: --history, or .)")
    t.add_argument("--case", metavar="ID", default=None, help="one case's trend instead of the portfolio's")
    _common(t)
    t.set_defaults(func=_trend)
    e = add_command(sub, "export", "write the history as Parquet, partitioned by quarter",
                    "Write every table of the history as Parquet files under DIR, one folder per table, split\n"
                    "by quarter (DIR/case_quarter/quarter=2026Q3/data_0.parquet), so Dask, Spark or DuckDB\n"
                    "read it without VMO Workbench. Written into a temporary folder beside DIR and renamed into\n"
                    "place: a failure leaves nothing half-written. DIR must be new or empty unless --replace.",
                    ["vmo history export history-parquet --history data/sample"])
    e.add_argument("out_dir", metavar="DIR", help="folder to create")
    e.add_argument("--replace", action="store_true", help="replace DIR if it already holds files")
    _common(e)
    e.set_defaults(func=_export)
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


_SUBCOMMANDS = ("quarters", "runs", "show", "backfill", "accuracy", "trend", "export")


def _trend_source(args: argparse.Namespace) -> Path:
    from vmo_lib.errors import UsageError

    if args.history:
        return history_path(args.history)
    if args.folder is not None and not Path(args.folder).exists():
        raise UsageError(f"vmo history {args.folder}: neither a sub-command ({', '.join(_SUBCOMMANDS)}) nor an "
                         "existing cases folder or history file")
    return Path(args.folder or ".")


@_guarded
def _trend(args: argparse.Namespace) -> int:
    from vmo_lib.commands import dump_json, money, table
    from vmo_lib.formatting import format_percent
    from vmo_lib.history.access import case_trend, history_file, portfolio_trend
    from vmo_lib.history.store import LOCK_TIMEOUT

    src = _trend_source(args)
    wait = LOCK_TIMEOUT if args.wait is None else args.wait
    path = history_file(src)
    if args.case is not None:
        t = case_trend(path, args.case, timeout=wait)
        from vmo_lib.history.store import open_history

        with open_history(path, timeout=wait) as h:
            title = str(h.case_frames(args.case)["case_quarter"]["title"].iloc[-1] or "")
        cur = str(t["currency"].iloc[-1] or "GBP")
        if args.json:
            dump_json({"history": str(path), "case_id": args.case, "title": title, "currency": cur,
                       "trend": t.drop(columns=["currency"]).to_dict("records")})
            return 0
        print(f"{args.case} — {title}: value by review quarter ({len(t)} on record)")
        rows = [[r.quarter, money(r.approved_npv, r.currency or cur), money(r.in_force_npv, r.currency or cur),
                 money(r.expected_npv, r.currency or cur), money(r.forward_npv, r.currency or cur),
                 format_percent(r.realisation_pct), r.verdict or "–", r.rag or "–", r.decision or "–"]
                for r in t.itertuples(index=False)]
        print(table(["quarter", "approved NPV", "in force NPV", "expected NPV", "forward NPV", "realised",
                     "verdict", "RAG", "decision"], rows, align="lrrrrrlll"))
        return 0
    p = portfolio_trend(path, timeout=wait)
    if args.json:
        dump_json({"history": str(path), "case_id": None, "trend": p.to_dict("records")})
        return 0
    if not len(p):
        print(f"{path}: no quarter recorded")
        return 0
    print(f"Portfolio value by review quarter ({path}): sums per currency, each case on its own basis")
    rows = [[r.quarter, str(r.currency or "–"), str(r.cases), money(r.approved_npv, r.currency or "GBP"),
             money(r.in_force_npv, r.currency or "GBP"), money(r.expected_npv, r.currency or "GBP"),
             money(r.forward_npv, r.currency or "GBP"), money(r.benefit_actual_to_date, r.currency or "GBP"),
             format_percent(r.realisation_pct)] for r in p.itertuples(index=False)]
    print(table(["quarter", "currency", "cases", "approved NPV", "in force NPV", "expected NPV", "forward NPV",
                 "realised", "realisation"], rows, align="llrrrrrrr"))
    return 0


@_guarded
def _export(args: argparse.Namespace) -> int:
    from vmo_lib.commands import dump_json
    from vmo_lib.history.access import export_parquet
    from vmo_lib.history.store import LOCK_TIMEOUT

    src = history_path(args.history)
    counts = export_parquet(src, args.out_dir, replace=args.replace,
                            timeout=LOCK_TIMEOUT if args.wait is None else args.wait)
    if args.json:
        dump_json({"history": str(src), "out_dir": str(args.out_dir), "rows": counts})
        return 0
    print(f"{args.out_dir}: the history {src} as Parquet, one folder per table, partitioned by quarter")
    print("  " + ", ".join(f"{name} {n:,} rows" for name, n in counts.items()))
    print(f"  read it with dask.dataframe.read_parquet('{args.out_dir}/case_quarter') or DuckDB's read_parquet")
    return 0
