"""``vmo portfolio FOLDER --as-of 2026Q3 [--budget AMOUNT] [--json] [--export out.xlsx|out.csv]``.

The register of every case, the selection at a budget per calendar year, what the next slice of
budget would buy, double counting, and what the organisation's history says about each case type.

JSON keys (stable)
------------------
``as_of, view, cases`` (one object per case: the :data:`vmo_lib.portfolio.core.REGISTER_COLUMNS`),
``totals_by_currency`` (``currency, cases, baseline_npv, expected_npv, forward_npv, pv_costs, budget``;
money is never added across currencies), ``failures`` (``path, kind, error``), ``selection`` (null
without ``--budget``; else ``budget, candidates, value_basis, selected, value, note, spend`` — one
``{year, budget, spend, headroom}`` per calendar year — ``must_do`` and ``next_step``:
``{step, value_gain, entering, leaving, next_breakpoint, next_value_gain, sentence}``),
``nonfinite`` (case ids whose figures are not finite: in the register, left out of totals and
selection), ``portfolio_risk`` (null unless a target or ``--portfolio-iterations`` is given: the
portfolio Monte Carlo, :meth:`vmo_lib.portfolio.risk.PortfolioRisk.to_dict`), ``double_counting`` (one object per pair: ``kpi_key, org_unit, case_a, line_a, benefit_a, kpi_a,
case_b, line_b, benefit_b, kpi_b, overlap_from, overlap_to, overlap_quarters, amount_at_stake,
currency, note``), ``kpi_rollup`` and ``reference_class``: ``{history, uplifts, gmpp, sentences}``
(``sentences``: case type → sentence). NaN is null.

``--export`` writes ``.xlsx`` (sheets Register, Benefits, Selection, Double counting, KPI roll-up,
Reference class; text always stored as text, never as a formula) or ``.csv`` (the register; text
that a spreadsheet would run as a formula is prefixed with a quote), atomically.
"""

from __future__ import annotations

import argparse
import gc
import io
import math
import os
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from vmo_lib.commands import AmountAction, add_command

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "portfolio", "every case in a folder: the register, the selection at a budget, double counting",
        "Review every business case in a folder as of a quarter and show: the register (each case's status,\n"
        "decision, verdict, NPVs and value for money), the totals on one portfolio basis (one discount rate\n"
        "and price base, set in portfolio.toml beside the workbooks), which cases a budget funds (cases in\n"
        "delivery or live are committed first; proposed and approved cases compete for what is left), what\n"
        "the next slice of budget would buy, benefits claimed twice by different cases, and what past cases\n"
        "of each type say about cost overruns.",
        ["vmo portfolio data/sample --as-of 2026Q3",
         "vmo portfolio data/sample --as-of 2026Q3 --budget 12m   # select at £12m a year instead",
         "vmo portfolio data/sample --as-of 2026Q3 --export register.xlsx"])
    p.add_argument("folder", metavar="FOLDER", help="folder of business-case workbooks")
    p.add_argument("--as-of", required=True, metavar="QUARTER", help="review quarter, e.g. 2026Q3")
    p.add_argument("--budget", action=AmountAction, default=None, metavar="AMOUNT",
                   help="budget a calendar year for the selection, in the cases' currency: 9000000 or 9m "
                        "(default: portfolio.toml)")
    p.add_argument("--candidates", default=None, help=argparse.SUPPRESS)  # kept only to explain it is gone
    p.add_argument("--value", choices=("forward_npv", "ob_npv"), default="forward_npv",
                   help="what the selection maximises: forward_npv (the NPV still to come, default) or ob_npv "
                        "(the NPV after the optimism-bias uplift)")
    p.add_argument("--must-do", action="append", default=None, metavar="CASE",
                   help="fund this case whatever its value (repeatable; default: the regulatory/mandatory cases)")
    p.add_argument("--exclusive", action="append", default=[], metavar="A,B",
                   help="fund at most one of these cases (repeatable)")
    p.add_argument("--depends", action="append", default=[], metavar="A:B",
                   help="fund case A only if case B is funded (repeatable)")
    p.add_argument("--step", action=AmountAction, default=None, metavar="AMOUNT",
                   help="price this much extra budget a year (default: the smallest amount that buys more)")
    p.add_argument("--view", choices=("economic", "cash"), default="economic",
                   help="economic: every monetised benefit (default); cash: cash-releasing benefits only")
    p.add_argument("--risk-iterations", type=int, default=20_000, metavar="N",
                   help="Monte Carlo runs per case for the chance each NPV ends below zero (0 = no simulation); "
                        "the default matches the packs and vmo status, so every figure agrees")
    p.add_argument("--seed", type=int, default=0, help="random seed of the simulation (default 0)")
    p.add_argument("--target", action=AmountAction, default=None, metavar="AMOUNT",
                   help="total expected benefits the portfolio should deliver (e.g. 60m): prints the chance of "
                        "reaching it from a portfolio Monte Carlo (default: portfolio.toml's [target] benefits)")
    p.add_argument("--portfolio-iterations", type=int, default=None, metavar="N",
                   help="runs of the portfolio Monte Carlo (default 100,000 when a target is given; 0 = none)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes for reading and reviewing the cases (faster on large folders)")
    p.add_argument("--export", default=None, metavar="PATH",
                   help="also write the tables to an Excel (.xlsx) or CSV (.csv, the register only) file")
    p.add_argument("--json", action="store_true", help="machine-readable output (keys listed in the README)")
    p.set_defaults(func=run)


def _records(df) -> list[dict[str, Any]]:
    import json

    return json.loads(df.to_json(orient="records", date_format="iso"))


def _neutralise(v: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading quote (OWASP CSV injection)."""
    return "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def export_tables(path: str | os.PathLike[str], sheets: dict[str, Any]) -> Path:
    """Write named tables to ``.xlsx`` (one sheet each) or the first one to ``.csv``, atomically."""
    out = Path(path)
    if out.suffix.lower() == ".csv":
        first = next(iter(sheets.values()))
        text = first.map(_neutralise).to_csv(index=False)
        _atomic_write(out, text.encode("utf-8"))
        return out
    if out.suffix.lower() != ".xlsx":
        raise ValueError(f"--export {path}: expected a .xlsx or .csv file name")
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False, "nan_inf_to_errors": False})
    bold = wb.add_format({"bold": True})
    for name, df in sheets.items():
        ws = wb.add_worksheet(name[:31])
        for j, col in enumerate(df.columns):
            ws.write_string(0, j, str(col), bold)
            ws.set_column(j, j, max(10, min(40, len(str(col)) + 2)))
        for i, row in enumerate(df.itertuples(index=False), start=1):
            for j, v in enumerate(row):
                if v is None or (isinstance(v, float) and not math.isfinite(v)):
                    continue
                if isinstance(v, bool):
                    ws.write_boolean(i, j, v)
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    ws.write_number(i, j, float(v))
                elif hasattr(v, "item"):
                    ws.write_number(i, j, float(v.item())) if isinstance(v.item(), (int, float)) else ws.write_string(i, j, str(v))
                else:
                    ws.write_string(i, j, str(v))
        ws.freeze_panes(1, 1)
    wb.close()
    _atomic_write(out, buf.getvalue())
    return out


def run(args: argparse.Namespace) -> int:
    from vmo_lib.analysis.outlook import shared_work
    from vmo_lib.errors import UsageError
    from vmo_lib.periods import review_quarter
    from vmo_lib.portfolio.review import default_basis, review_folder
    from vmo_lib.portfolio.settings import load_portfolio_settings

    as_of = review_quarter(args.as_of)  # a malformed --as-of is a UsageError: exit 2
    if args.risk_iterations < 0:
        raise UsageError(f"--risk-iterations {args.risk_iterations}: give 0 (no simulation) or more")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give 1 or more")
    if args.candidates is not None:
        raise UsageError("--candidates is no longer used: cases in delivery or live are always committed (their "
                         "remaining spend comes off the budget first) and proposed and approved cases compete "
                         "for the rest")
    if not Path(args.folder).is_dir():
        raise UsageError(f"{args.folder} is not a folder; vmo portfolio reads every workbook in a folder, "
                         f"e.g. vmo portfolio data/sample --as-of {as_of} (for one case use vmo status)")
    exclusive = [[x.strip() for x in g.split(",") if x.strip()] for g in args.exclusive]
    depends: dict[str, list[str]] = {}
    for d in args.depends:
        a, _, b = d.partition(":")
        if not a or not b:
            raise UsageError(f"--depends {d}: expected A:B (fund case A only if case B is funded)")
        depends.setdefault(a.strip(), []).append(b.strip())
    settings = load_portfolio_settings(args.folder, {
        "budget": args.budget, "value": None if args.value == "forward_npv" else args.value, "target": args.target,
        "must_do": args.must_do, "exclusive": exclusive or None, "depends_on": depends or None})
    if settings.budget is None:
        shaping = [f for f, v in (("--must-do", args.must_do), ("--exclusive", args.exclusive),
                                  ("--depends", args.depends), ("--step", args.step),
                                  ("--value", args.value != "forward_npv")) if v]
        if shaping:
            raise UsageError(f"{', '.join(shaping)} only shape the selection at a budget, and there is none: add "
                             f"--budget AMOUNT (a year) or set [budget] in {Path(args.folder) / 'portfolio.toml'}")
    # each worker loads a workbook and reviews its case at once (review_case, the one review)
    # each case's expected profile built once for every reader below (cases unchanged): the grid the
    # review built comes back with it (review_folder)
    with shared_work():
        # the cases and reviews live until the command ends: kept out of every cycle collection, which would
        # otherwise walk all of them each time (a one-shot command; nothing to reclaim among them). Collection
        # is paused from the loading to the freeze: the first collection after the reviews arrive would walk
        # every one of them once more (about a second on 1,000 cases)
        collecting = gc.isenabled()
        gc.disable()
        try:
            # the basis the portfolio review restates on: each case's register row is built on it beside its review
            pf, reviews = review_folder(args.folder, as_of, view=args.view, seed=args.seed,
                                        iterations=args.risk_iterations, workers=args.workers,
                                        basis=settings.basis or default_basis(as_of))
            gc.freeze()
        finally:
            if collecting:
                gc.enable()
        return _report(args, as_of, pf, reviews, settings)


def _report(args: argparse.Namespace, as_of: str, pf: Any, reviews: list[Any], settings: Any) -> int:
    """The portfolio review of the reviewed cases and its output (human, --json, --export)."""
    from types import SimpleNamespace

    from vmo_lib.commands import dump_json
    from vmo_lib.portfolio import core as P
    from vmo_lib.portfolio import reference_class as R
    from vmo_lib.portfolio import risk as PR
    from vmo_lib.portfolio.review import review_portfolio

    pr = review_portfolio(reviews, as_of, settings=settings, failures=pf.failures, seed=args.seed)
    reg = SimpleNamespace(as_of=as_of, view=args.view, cases=pr.register, benefits=pr.benefits)
    totals = pr.totals
    dc = pr.double_counting  # one row per KPI group (near-linear in the number of claims)
    kpis = P.kpi_rollup(reg.benefits)
    # the reference class of the loaded cases: the review's own table when it was read from these very case
    # objects at this very quarter (no re-baseline approved after the review date: known_at gave the case
    # itself), else computed here on the loaded cases, as before
    same = (args.as_of == as_of and len(pf.cases) > 0 and len(reviews) == len(pf.cases)
            and all(r.case is c for r, c in zip(reviews, pf.cases, strict=True)))
    history = pr.history if same else R.history_ratios(pf, args.as_of)
    uplifts = R.reference_class_uplifts(history)
    gmpp = R.gmpp_budget_variance(None)
    types = sorted({str(c.meta.get("case_type") or "") for c in pf} - {""})
    sentences = {t: R.reference_class_sentence(t, history, gmpp) for t in types}

    sel = pr.selection  # the one selection: committed cases first, then the discretionary choice
    if pr.selection_infeasible:
        print(f"vmo: {pr.selection_note}", file=sys.stderr)
        return 1
    selection = step = None
    must: list[str] = []
    if sel is not None:
        selection = {"budget": pr.annual_budget, **sel.to_dict(), "decisions": _records(sel.decisions.reset_index())}
        # what the next slice of budget would buy among the discretionary candidates
        options, costs = P.selection_options(pf, as_of, "proposed", settings.value, args.view, reg.cases)
        if len(options):
            available = {int(y): float(v) for y, v in sel.budget["available"].items()}
            must = (list(options.index[options["must_do"].astype(bool)]) if settings.must_do is None
                    else [m for m in settings.must_do if m in options.index])
            step = P.budget_step(options["value"], costs, available, args.step, must, settings.exclusive,
                                 settings.depends_on)
            selection["next_step"] = {"step": step.step, "value_gain": step.value_gain, "entering": step.entering,
                                      "leaving": step.leaving, "next_breakpoint": step.next_breakpoint,
                                      "next_value_gain": step.next_value_gain,
                                      "sentence": step.sentence(str(options["currency"].iloc[0]))}

    # the portfolio's chance of meeting its benefit target (when a target or iterations are given)
    p_iter = args.portfolio_iterations
    if p_iter is None:
        p_iter = PR.DEFAULT_ITERATIONS if pr.target_benefits is not None else 0
    if p_iter < 0:
        print(f"vmo: --portfolio-iterations {p_iter}: expected a whole number >= 0", file=sys.stderr)
        return 2
    p_risk = pr.risk(iterations=p_iter) if p_iter else None

    if args.export:
        sheets = {"Register": reg.cases, "Benefits": reg.benefits}
        if sel is not None:
            sheets["Selection"] = sel.decisions.reset_index().rename(columns=str)
        sheets["Double counting"] = dc.groups
        sheets["KPI roll-up"] = kpis
        sheets["Reference class"] = uplifts
        export_tables(args.export, sheets)

    if args.json:
        dump_json({
            "as_of": reg.as_of, "view": reg.view, "basis": pr.basis.describe(),
            "cases": [r.to_dict(detail=False) for r in pr.reviews.values()],
            "register": _records(reg.cases),
            "totals_by_currency": _records(totals),
            "failures": _records(pf.failures[["path", "kind", "error"]]),
            "nonfinite": list(pr.nonfinite),
            "portfolio_risk": None if p_risk is None else p_risk.to_dict(),
            "selection": selection, "double_counting": dc.to_dict(top=50), "kpi_rollup": _records(kpis),
            "reference_class": {"history": _records(history), "uplifts": _records(uplifts), "gmpp": _records(gmpp),
                                "sentences": sentences, "attribution": R.GMPP_ATTRIBUTION},
        })
        return _left_out(pf)

    _print_human(args, pf, pr, totals, sel, step, must, settings.value, dc, sentences, R.GMPP_ATTRIBUTION,
                 p_risk)
    return _left_out(pf)


_REGISTER = (("case_id", "Case", "l"), ("status", "Status", "l"), ("decision", "Decision", "l"),
             ("verdict", "Verdict", "l"), ("rag", "RAG", "l"), ("in_force_npv", "NPV in force", "r"),
             ("expected_npv", "Expected NPV", "r"), ("forward_npv", "NPV to come", "r"),
             ("vfm", "Value for money", "r"), ("prob_negative", "Chance NPV < 0", "r"))


def _print_human(args, pf, pr, totals, sel, step, must, value, dc, sentences, attribution, p_risk=None) -> None:
    """The human report of ``vmo portfolio``: aligned tables with plain headings, one money format."""
    import pandas as pd

    from vmo_lib.commands import clean, money, table
    from vmo_lib.formatting import format_number, format_percent

    reg = pr.register
    cur0 = str(reg["currency"].iloc[0]) if len(reg) else "GBP"
    print(f"Portfolio {clean(args.folder)} as of {pr.as_of}: {len(pf)} case(s) reviewed"
          + (f", {len(pf.failures)} workbook(s) not loaded" if len(pf.failures) else ""))
    print()
    cols = [c for c in _REGISTER if c[0] != "prob_negative" or reg["prob_negative"].notna().any()]
    rows = []
    for r in reg.to_dict(orient="records"):
        cur = str(r["currency"])
        cells = []
        for key, _, _ in cols:
            v = r[key]
            if key.endswith("_npv"):
                cells.append(money(v, cur))
            elif key == "vfm":
                cells.append(format_number(v, 2))
            elif key == "prob_negative":
                cells.append(format_percent(v))
            else:
                cells.append("–" if pd.isna(v) else str(v).upper() if key == "rag" else str(v))
        rows.append(cells)
    print("Register, best value for money first (each case on its own basis; value for money = expected NPV "
          "per pound of capital cost, discounted)")
    print(table([c[1] for c in cols], rows, align="".join(c[2] for c in cols)))
    print()
    print(f"Totals on the portfolio basis ({pr.basis.describe()}):")
    trows = []
    for _, t in totals.iterrows():
        cur = str(t["currency"])
        label = f"{cur}, {t['cases']} case(s)" + ("" if t["restated"] else ", NOT restated: their own bases")
        trows.append((label, money(t["approved_npv_pb"], cur), money(t["in_force_npv_pb"], cur),
                      money(t["expected_npv_pb"], cur), money(t["forward_npv_pb"], cur)))
    print(table(["Cases", "Approved NPV", "NPV in force", "Expected NPV", "NPV to come"], trows, indent=2))
    for _, f in pf.failures.iterrows():
        print(f"Not loaded: {clean(Path(str(f['path'])).name)}: {clean(f['error'])}")
    if pr.nonfinite_note:
        print(textwrap.fill(clean(pr.nonfinite_note), 100))
    print()
    if sel is not None:
        budget = pr.annual_budget
        per_year = (f"{money(budget, cur0)} a year" if isinstance(budget, (int, float))
                    else "the budget of each year")
        print(f"Selection at {per_year}")
        for label, ids in (("Committed", sel.committed), ("Selected", sel.selection.selected),
                           ("Not funded", sel.not_funded)):
            print(textwrap.fill(", ".join(ids) or "none", 100, initial_indent=f"  {label + ':':<12}",
                                subsequent_indent=" " * 14))
        print(f"  {'Value:':<12}{money(sel.value, cur0)} ({'NPV still to come' if value != 'ob_npv' else 'NPV after optimism bias'}"
              " of the committed and selected cases)")
        b = sel.budget
        print(table(["Year", "Budget", "Committed", "Selected", "Left over"],
                    [(str(y), money(r["budget"], cur0), money(r["committed"], cur0), money(r["discretionary"], cur0),
                      money(r["headroom"], cur0)) for y, r in b.iterrows()], indent=2))
        what = {"forward_npv": "NPV still to come", "ob_npv": "NPV after optimism bias"}.get(value, value)
        rule = (f"Cases in delivery or live are committed: their spend after {pr.as_of} comes off the budget first. "
                f"Proposed and approved cases compete for the rest, the choice maximising the {what}; "
                f"must-do: {', '.join(must) or 'none'}.")
        if sel.over_committed:
            rule += f" Committed spend alone is above the budget in {', '.join(map(str, sel.over_committed))}."
        print(textwrap.fill(rule, 100, initial_indent="  ", subsequent_indent="  "))
        if step is not None:
            import math as _m

            if not _m.isfinite(step.next_breakpoint):
                print("  More budget would buy nothing: every case worth selecting is already in.")
            else:
                moves = (f" (in: {', '.join(step.entering)}" + (f"; out: {', '.join(step.leaving)}" if step.leaving
                                                                else "") + ")") if step.entering or step.leaving else ""
                print(f"  The next {money(step.step, cur0)} a year would add {money(step.value_gain, cur0)} "
                      f"of value{moves}.")
    elif pr.selection_note:
        print(textwrap.fill(clean(pr.selection_note), 100))
    if p_risk is not None:
        from vmo_lib.portfolio import risk as PR

        shown = PR.portfolio_risk_summary(p_risk, top=5)
        cur = p_risk.currency
        print()
        print(f"The portfolio's chance of meeting its target (a Monte Carlo over the case outlooks, in {cur}, on the "
              "portfolio basis)")
        head = shown["headline"]
        print(table(["", *map(str, head.columns)], [(str(i), *(money(v, cur) for v in r)) for i, r in head.iterrows()],
                    indent=2))
        print(textwrap.fill(clean(shown["sentence"]), 100, initial_indent="  ", subsequent_indent="  "))
        d = shown["drivers"]
        print(textwrap.fill("Cases driving the spread (share of the NPV variance): " + ", ".join(
            f"{c} {v:.0%}" for c, v in zip(d["case_id"], d["share of NPV variance"], strict=True)), 100,
            initial_indent="  ", subsequent_indent="  "))
    print()
    g = dc.groups
    if g.empty:
        print("Double counting: no KPI is claimed by two cases for the same unit at the same time.")
    else:
        print(f"Double counting: {len(g)} benefit measure(s) claimed by two or more cases for the same unit "
              f"at the same time")
        print(table(["Measure (KPI)", "Unit", "Claimed by", "Overlap", "At stake"],
                    [(r["kpi"], r["org_unit"] or "–", r["lines"] if r["cases"] <= 6 else f"{r['cases']} cases",
                      f"{r['overlap_from']}–{r['overlap_to']}", money(r["amount_at_stake"], r["currency"]))
                     for _, r in g.head(10).iterrows()], align="lllrr", indent=2, max_width=40))
        if len(g) > 10:
            print(f"  … and {len(g) - 10} more (all of them in --json and --export)")
    print()
    print("Reference class: what past cases of each type say about cost overruns")
    for t_, s in sentences.items():
        print(textwrap.fill(f"{clean(t_)}: {clean(s)}", 100, initial_indent="  ", subsequent_indent="    "))
    print(f"  ({attribution}.)")
    if args.export:
        print(f"\nWritten: {args.export}")


def _left_out(pf) -> int:
    """Exit 1, listing them on stderr, when some workbooks were not loaded (the figures leave them out)."""
    if not len(pf.failures):
        return 0
    names = ", ".join(Path(str(p)).name for p in pf.failures["path"])
    print(f"vmo: {len(pf.failures)} workbook(s) not loaded and left out of the portfolio: {names}", file=sys.stderr)
    return 1
