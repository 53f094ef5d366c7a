"""Proof of one truth: `vmo review` on the sample portfolio, then every output read back and compared.

For every case, the approved NPV (original and in force), the expected and forward NPV, the verdict,
the RAG, the decision and the realisation are the same in `vmo status --json`, the batch's results
file, the manifest, the case's Excel pack, the portfolio results and the portfolio Excel register;
and every portfolio total equals the sum of its column.
"""

from __future__ import annotations

import io
import json
import math
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import openpyxl
import pytest

from vmo_lib import cli
from vmo_lib.batch import run_review

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
AS_OF = "2026Q3"
FIGURES = ("approved_npv", "in_force_npv", "expected_npv", "forward_npv")
LABELS = ("verdict", "rag", "decision")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("review")]


@pytest.fixture(scope="module")
def review_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("one-truth")
    src = root / "sample"
    shutil.copytree(SAMPLE, src)
    out = root / "out"
    result = run_review(src, AS_OF, out, workers=2, progress="off", annual_budget=3_000_000)
    assert result.ok, result.failures
    return src, out


def _status_json(path: Path) -> dict:
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert cli.main(["status", str(path), "--as-of", AS_OF, "--json"]) == 0
    return json.loads(buf.getvalue())


def _same(a, b, tol=0.005):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=0, abs_tol=tol)


def _summary(xlsx: Path) -> dict:
    ws = openpyxl.load_workbook(xlsx, read_only=True)["Summary"]
    return {row[0]: row[1] for row in ws.iter_rows(min_col=1, max_col=2, values_only=True) if row[0]}


def test_every_output_shows_the_same_figures_for_every_case(review_run):
    src, out = review_run
    manifest = json.loads((out / "manifest.json").read_text())
    portfolio = json.loads((out / "portfolio.results.json").read_text())
    by_id = {c["case_id"]: c for c in portfolio["cases"]}
    index = (out / "index.html").read_text()
    assert len(manifest["cases"]) == len(list(src.glob("*.xlsx")))
    for row in manifest["cases"]:
        cid = row["case_id"]
        status = _status_json(src / Path(row["source"]).name)
        results = json.loads((out / "cases" / row["safe_id"] / "results.json").read_text())
        for k in FIGURES:
            assert _same(status[k], results[k]), (cid, k, status[k], results[k])
            assert _same(status[k], by_id[cid][k]), (cid, k, "portfolio")
        for k in LABELS:
            assert status[k] == results[k] == by_id[cid][k] == row[k], (cid, k)
        assert _same(status["realisation_pct"], results["realisation_pct"], 1e-9)
        summary = _summary(out / "cases" / row["safe_id"] / "pack.xlsx")
        assert _same(summary["Expected NPV"], status["expected_npv"]), cid
        assert _same(summary["Forward NPV (what remains)"], status["forward_npv"]), cid
        assert _same(summary["Baseline NPV (approved)"], status["baseline_npv"]), cid
        assert _same(summary["Baseline NPV (in force)"], status["in_force_npv"]), cid
        assert summary["Decision"] == status["decision"] and summary["Verdict"] == status["verdict"], cid
        assert status["decision"] in index and cid in index


def test_portfolio_totals_are_the_sums_of_their_columns(review_run):
    _, out = review_run
    portfolio = json.loads((out / "portfolio.results.json").read_text())
    register = portfolio["register"]
    own = {c["case_id"]: c for c in portfolio["cases"]}
    for r in register:  # the register's own-basis figures are the case reviews'
        for k in FIGURES:
            assert _same(r[k], own[r["case_id"]][k]), (r["case_id"], k)
    for t in portfolio["totals"]:  # totals add the portfolio-basis columns only, restated cases apart
        rows = [r for r in register if r["currency"] == t["currency"] and r["restated"] == t["restated"]]
        assert t["cases"] == len(rows)
        for k in FIGURES:
            col = f"{k}_pb" if t["restated"] else k
            assert _same(t[f"{k}_pb"], sum(r[col] for r in rows)), k
    ws = openpyxl.load_workbook(out / "portfolio.xlsx", read_only=True)["Register"]
    rows = list(ws.iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r and r[1] == "Case")
    names = list(rows[header])
    col = names.index("Expected NPV")
    reg = {r[1]: r[col] for r in rows[header + 1:] if r and r[1]}
    for c in portfolio["cases"]:
        assert _same(reg[c["case_id"]], c["expected_npv"]), c["case_id"]


def test_a_cancelled_case_is_closed_and_a_proposed_case_not_started(review_run):
    _, out = review_run
    rows = {r["case_id"]: r for r in json.loads((out / "manifest.json").read_text())["cases"]}
    assert rows["LOYALTY-2025"]["decision"] == "closed"
    assert rows["HR-2027"]["decision"] == "not started"
    assert rows["CHATBOT-2025"]["decision"] == "re-plan"  # value destroyed; what remains still pays


def test_status_and_portfolio_json_agree_on_every_key_they_share(tmp_path, capsys):
    folder = tmp_path / "cases"
    folder.mkdir()
    for name in ("CHATBOT-2025", "PAY-2024", "DEVICE-2024"):  # destroyed; re-baselined; yearly
        shutil.copy(SAMPLE / f"{name}.xlsx", folder)
    assert cli.main(["portfolio", str(folder), "--as-of", AS_OF, "--json"]) == 0
    cases = {c["case_id"]: c for c in json.loads(capsys.readouterr().out)["cases"]}
    assert set(cases) == {"CHATBOT-2025", "PAY-2024", "DEVICE-2024"}
    for cid, in_portfolio in cases.items():
        status = _status_json(folder / f"{cid}.xlsx")
        shared = set(status) & set(in_portfolio)
        assert {"decision", "expected_npv", "approved_npv", "in_force_npv", "risk_p10", "prob_below_zero"} <= shared
        assert set(in_portfolio) <= set(status)  # the portfolio's case entry is the status without line tables
        for k in shared:
            assert in_portfolio[k] == status[k], (cid, k, in_portfolio[k], status[k])
