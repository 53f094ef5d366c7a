"""Build the sample portfolio's quarterly history (2025Q1-2026Q2), so the first review shows movement.

``make demo`` runs this before ``vmo review data/sample --as-of 2026Q3 --history reports/vmo-history.duckdb``.
Each quarter from 2025Q1 to 2026Q2 records every sample case that had started by then, as it was
known then: only the actuals up to that quarter (:func:`vmo_lib.history.replay.case_upto`) and the
forecasts as the owners stated them then. For most cases those are today's forecasts (the sample
workbooks keep only the latest), except for the story below, built here in code:

* **A benefit whose forecast drifts** (DATA-2025, line B1, "slipped two quarters running"): at a
  quarter ``k`` quarters before 2026Q3 the owner forecast every period after it at
  ``(1 + 0.04 k)`` times what today's workbook holds for that period (the actual where one has been
  reported since, else today's forecast), rounded to the pound. The expected total therefore falls
  every quarter, and the 2026Q3 review (today's workbook, k = 0) flags it.
* **A decision not carried out** (CHATBOT-2025): its 2026Q2 review decides ``re-plan``; no
  re-baseline has been approved since, so the 2026Q3 review reads "not yet".
* **A re-baseline** (PAY-2024): RB1, approved 2025-09-30, is in force from the 2025Q3 review on;
  the 2025Q2 record still has the original baseline, so 2025Q3's "what changed" lists the re-baseline
  and the packs' status-by-quarter table shows the change.

The runs are recorded with kind ``sample`` and every case listed as reconstructed (the figures were
not reviewed at the time). Quarters already recorded are replaced (a revision row each), so the
script can be run again. The workbooks are never modified.

Usage::

    python scripts/make_sample_history.py [--folder data/sample] [--history reports/vmo-history.duckdb]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from vmo_lib import __version__
from vmo_lib.analysis.review import review_case
from vmo_lib.history.records import TABLES, records_from_review
from vmo_lib.history.replay import case_upto, input_files, quarter_range
from vmo_lib.history.store import open_history
from vmo_lib.intake.loader import load_case, workbook_files
from vmo_lib.model import BusinessCase, normalise_flows
from vmo_lib.periods import review_period

FIRST, LAST, TODAY = "2025Q1", "2026Q2", "2026Q3"
#: The drifting benefit: case, line, and the extra share of today's figures per quarter of distance.
DRIFT_CASE, DRIFT_LINE, DRIFT_STEP = "DATA-2025", "B1", 0.04
KIND = "sample"


def quarters_before(quarter: str, later: str = TODAY) -> int:
    """How many quarters ``quarter`` is before ``later`` (``"2026Q1"`` → 2)."""
    return len(quarter_range(quarter, later)) - 1


def drifted_forecast(today: BusinessCase, quarter: str, line: str = DRIFT_LINE, step: float = DRIFT_STEP) -> pd.DataFrame:
    """The forecast rows the owner stated for ``line`` at ``quarter``: every period after it at
    ``(1 + step * k)`` times today's figure for that period (actual if reported, else forecast),
    ``k`` = quarters before :data:`TODAY`, rounded to whole units."""
    k = quarters_before(quarter)
    tau = today.t_of(review_period(quarter, today.period_length))
    f = today.flows
    rows = f[(f["line_id"] == line) & (f["t"] > tau) & f["scenario"].isin(["actual", "forecast"])]
    # today's figure of each period: the actual where one is reported, else the forecast
    rows = rows.sort_values("scenario").drop_duplicates(["t"], keep="first")  # "actual" < "forecast"
    out = rows.assign(scenario="forecast", amount=(rows["amount"].astype(float) * (1 + step * k)).round(0))
    for col in ("comment",):
        if col in out:
            out[col] = None
    return out


def as_stated_then(case: BusinessCase, today: BusinessCase | None, quarter: str) -> BusinessCase:
    """The case as known at ``quarter`` (actuals up to it), with the drifting line's forecast of then."""
    known = case_upto(case, quarter)
    if today is None or case.case_id != DRIFT_CASE:
        return known
    f = known.flows
    keep = f[~((f["line_id"] == DRIFT_LINE) & (f["scenario"] == "forecast"))]
    new = drifted_forecast(today, quarter).reindex(columns=keep.columns)
    return known.with_flows(normalise_flows(pd.concat([keep, new], ignore_index=True)))


def h_quarters(runs: pd.DataFrame) -> list[str]:
    """The quarters whose latest run is of kind ``sample`` (a later review run replaced the others)."""
    if not len(runs):
        return []
    last = runs.sort_values("finished", kind="stable").groupby("quarter").tail(1)
    return [str(q) for q in last.loc[last["kind"] == KIND, "quarter"]]


def build(folder: str | Path, history: str | Path, *, first: str = FIRST, last: str = LAST,
          seed: int = 0, replace: bool = False) -> dict[str, Any]:
    """Record the sample history of ``folder`` for ``first``..``last`` into ``history`` (module notes).

    Nothing is done when every quarter is already recorded by a ``sample`` run (unless ``replace``);
    otherwise every quarter is (re)recorded.

    Returns
    -------
    dict
        ``recorded`` (quarters) and ``cases`` (number of cases per quarter).
    """
    wanted = quarter_range(first, last)
    if not replace and Path(history).is_file():
        with open_history(history) as h:
            runs = h.runs()
        done = set(h_quarters(runs))
        if set(wanted) <= done:
            return {"recorded": [], "cases": {}}
    files = workbook_files(folder)
    today_cases = {}
    for p in files:
        c = load_case(p, as_of=TODAY)
        if c.case_id == DRIFT_CASE:
            today_cases[c.case_id] = c
    result: dict[str, Any] = {"recorded": [], "cases": {}}
    for q in wanted:
        started = datetime.now(UTC).replace(tzinfo=None)
        parts, inputs, ids = [], [], []
        for p in files:
            case = load_case(p, as_of=q)
            if case.t_of(review_period(q, case.period_length)) < 0:
                continue  # not started by then
            review = review_case(as_stated_then(case, today_cases.get(case.case_id), q), q, seed=seed)
            parts.append(records_from_review(review))
            inputs += input_files(p, case.case_id)
            ids.append(case.case_id)
        frames = {t: pd.concat([r[t] for r in parts], ignore_index=True) for t in TABLES if parts}
        run_id = f"{KIND}-{q}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(3)}"
        with open_history(history, read_only=False) as h:
            h.record_quarter(q, frames, run_id=run_id, started=started, kind=KIND, inputs=inputs,
                             reconstructed=ids,
                             parameters={"folder": str(folder), "as_of": q, "seed": int(seed), "tool": __version__,
                                         "built_by": "scripts/make_sample_history.py",
                                         "story": {"drift": f"{DRIFT_CASE} {DRIFT_LINE} x(1+{DRIFT_STEP}k)"}})
        result["recorded"].append(q)
        result["cases"][q] = len(ids)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", default="data/sample", help="the sample case workbooks (read only)")
    ap.add_argument("--history", default="reports/vmo-history.duckdb", help="the history file to write")
    ap.add_argument("--replace", action="store_true", help="record again even when already recorded")
    args = ap.parse_args(argv)
    Path(args.history).parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = build(args.folder, args.history, replace=args.replace)
    if not res["recorded"]:
        print(f"sample history {args.history}: {FIRST}-{LAST} already recorded (--replace to rebuild)")
        return 0
    print(f"sample history {args.history}: recorded "
          + ", ".join(f"{q} ({n} cases)" for q, n in res["cases"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
