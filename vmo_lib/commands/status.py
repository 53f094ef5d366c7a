"""``vmo status PATH --as-of 2026Q3 [--json] [--view economic|cash]``: benefits realisation and value verdict.

Loads one business-case workbook (with the filled actuals returns in ``<workbook stem>.returns/``
beside it) and prints, as of the review quarter: the verdict in words with the figures behind it,
the NPVs (approved baseline, baseline in force, expected = actuals then forecast, forward-looking),
the value bridge (cost, benefit and timing effects that add up to the NPV change), realisation to
date, a RAG per benefit and the measurement gaps. Variances: positive = better than plan.

``--json`` prints one object with the stable keys of
:meth:`vmo_lib.analysis.realisation.CaseStatus.to_dict` (:data:`vmo_lib.analysis.realisation.STATUS_KEYS`), among
them ``case_id, as_of, baseline_npv, current_baseline_npv, expected_npv, forward_npv, verdict, rag,
realisation_pct, cost_spend_pct, bridge`` (``cost``, ``benefit``, ``timing``, which sum to
``expected_npv - baseline_npv``), ``benefits`` and ``gaps``. Percentages are fractions; NaN is null.

Exit code: 0 when the status was produced (whatever the verdict), 1 when the workbook or a return
has errors, 2 when a file cannot be read.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="benefits realisation, value bridge and verdict of one case",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="PATH", help="business-case workbook (.xlsx)")
    p.add_argument("--as-of", required=True, metavar="QUARTER", help="review quarter, e.g. 2026Q3")
    p.add_argument("--view", choices=("economic", "cash"), default="economic",
                   help="benefits counted: economic (all monetised, default) or cash (cash-releasing only)")
    p.add_argument("--json", action="store_true", help="machine-readable output (stable keys)")
    p.add_argument("--history", metavar="PATH", default=None,
                   help="quarterly history consulted for an earlier quarter (default: vmo-history.duckdb beside PATH)")
    p.set_defaults(func=run)


def _clean(text: object) -> str:
    """Workbook text made safe for a terminal (no control characters or escape sequences)."""
    return _CONTROL.sub("?", "" if text is None else str(text))


def _pct(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{0.0 if abs(x) < 0.005 else x:.0%}"


def run(args: argparse.Namespace) -> int:
    from vmo_lib.analysis.review import review_case
    from vmo_lib.commands import dump_json
    from vmo_lib.intake.loader import load_case
    from vmo_lib.periods import review_quarter

    as_of = review_quarter(args.as_of)  # a malformed --as-of is a UsageError: exit 2
    case = load_case(args.path, as_of=as_of)
    from vmo_lib.history.replay import replay_from_file
    from vmo_lib.history.store import DEFAULT_FILE, HistoryError

    history = getattr(args, "history", None) or Path(args.path).with_name(DEFAULT_FILE)
    try:  # an earlier quarter: the forecasts as recorded then, or reconstructed from today's files
        case, _, note = replay_from_file(case, as_of, history)
    except HistoryError as exc:
        print(f"vmo: {exc}", file=sys.stderr)
        return 2
    if note:
        print(f"vmo: note: {note}", file=sys.stderr)
    review = review_case(case, as_of, view=args.view, seed=getattr(args, "seed", 0) or 0)
    if args.json:
        dump_json(review.to_dict())
        return 0
    print(format_status(review.status))
    print(f"\nDecision: {review.decision.upper()}: {_clean(review.decision_reason)}")
    return 0


def format_status(s) -> str:
    """The human summary of a :class:`~vmo_lib.analysis.realisation.CaseStatus` (what ``vmo status`` prints)."""
    from vmo_lib.analysis.realisation import VARIANCE_NOTE
    from vmo_lib.outputs.charts import format_money

    cur = s.currency

    def m(x: float, sign: bool = False) -> str:
        t = format_money(x, cur)
        return ("+" + t) if sign and x > 0 and t != format_money(0, cur) else t

    out = [f"{_clean(s.case_id)} · {_clean(s.title)} · as of {s.as_of} ({s.view} view, {cur})", ""]
    out.append(f"Verdict: {s.verdict.label.upper()}  (RAG {s.rag}: {_clean(s.rag_reason)})")
    out.append(f"  {s.verdict_sentence}")
    out.append(f"  Rule: {s.verdict.rule}.")
    out.append("")
    out.append("NPV (discounted to period 0)")
    out.append(f"  approved baseline     {m(s.baseline_npv):>12}")
    if s.baseline_in_force != "baseline":
        out.append(f"  baseline in force     {m(s.current_baseline_npv):>12}  ({s.baseline_in_force})")
    out.append(f"  expected              {m(s.expected_npv):>12}  (actuals to {s.as_of}, then forecast, else plan)")
    if s.continue_signal == "complete":
        out.append("  forward               nothing remains in the horizon")
    else:
        out.append(f"  forward               {m(s.forward_npv):>12}  (what remains, valued at "
                   f"{s.forward_discounted_to}; sunk cost ignored)")
    b = s.bridge
    out.append("")
    out.append(f"Value bridge: baseline {m(b.start)}  cost {m(b.cost, True)}  benefit {m(b.benefit, True)}  "
               f"timing {m(b.timing, True)}  = expected {m(b.end)}")
    if s.bridge_current is not None:
        c = s.bridge_current
        out.append(f"  from {s.baseline_in_force}: {m(c.start)}  cost {m(c.cost, True)}  "
                   f"benefit {m(c.benefit, True)}  timing {m(c.timing, True)}  = {m(c.end)}")
    t = s.totals
    out.append("")
    out.append(f"Realisation to date: benefits {_pct(s.realisation_pct)} of plan "
               f"({m(t['benefit_actual_to_date'])} of {m(t['benefit_plan_to_date'])}); "
               f"costs {_pct(s.cost_spend_pct)} of plan ({m(t['cost_actual_to_date'])} of {m(t['cost_plan_to_date'])})")
    if len(s.benefits):
        out.append("")
        out.append(f"  {'benefit':<40} {'plan':>9} {'actual':>9} {'variance':>9} {'real.':>6} {'KPI':>6}  RAG")
        for r in s.benefits.itertuples(index=False):
            name = _clean(f"{r.line_id} {r.name or ''}")
            name = name if len(name) <= 40 else name[:39] + "…"
            out.append(f"  {name:<40} {m(r.plan_to_date):>9} {m(r.actual_to_date):>9} {m(r.variance_to_date, True):>9} "
                       f"{_pct(r.realisation_pct):>6} {_pct(r.kpi_progress_pct):>6}  {r.rag}")
    out.append("")
    if len(s.gaps):
        out.append(f"Measurement gaps ({len(s.gaps)}):")
        for g in s.gaps.itertuples(index=False):
            when = f" [{g.periods}]" if g.periods else ""
            out.append(f"  {_clean(g.line_id)}: {g.gap}: {_clean(g.detail)}{when}")
    else:
        out.append("Measurement gaps: none")
    out.append("")
    out.append(VARIANCE_NOTE)
    return "\n".join(out)
