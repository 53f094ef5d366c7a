"""The review batch end to end: papermill runs, packs, index, manifest, faults, re-runs, Dask.

Each papermill run costs a kernel start (~1 s), so the inputs are small (two or three cases) and
the end-to-end tests share the ``papermill`` xdist group (they must not starve each other of the
two cores).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import nbformat
import openpyxl
import pytest

from vmo_lib import batch, cli
from vmo_lib.analysis.realisation import case_status
from vmo_lib.errors import VmoError
from vmo_lib.intake.loader import load_case
from vmo_lib.intake.template import write_case_workbook
from vmo_lib.model import make_case
from vmo_lib.outputs import html as report

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
XSS = "<script>alert(1)</script>"

pytestmark = pytest.mark.xdist_group("papermill")

#: A small parameterised notebook: fast (no analysis imports), fails on request.
TINY_CASE_NB = '''# %% tags=["parameters"]
case_path = ""
as_of = "2026Q3"
scenario = "baseline"
seed = 0
out_dir = ""

# %% [markdown]
# ## Summary

# %%
import random
from pathlib import Path
from vmo_lib.outputs import html as report
name = Path(case_path).stem
if name == "M365-2022":
    raise RuntimeError("a cell of this notebook fails for " + name)
random.seed(seed)
report.write_results(out_dir, {"case_id": name, "verdict": "on track", "rag": "green",
                               "draw": random.random(), "cards": []})
report.Html.text(name)
'''


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hostile_case(path: Path) -> Path:
    case = make_case(
        {"case_id": "XSS-1", "title": XSS, "sponsor": "<b>CFO</b>", "strategic_objective": "Save",
         "org_unit": "Ops", "approval_date": "2025-12-01", "first_period": "2026Q1", "horizon": 4,
         "discount_rate": 0.0, "go_live_period": "2026Q2"},
        costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [100_000, 0, 0, 0]}],
        benefits=[{"line_id": "B1", "name": "=HYPERLINK(\"http://x\")", "owner": "Ops", "kpi": "Cost", "unit": "GBP",
                   "baseline_value": 10, "baseline_date": "2025-11-01", "target_value": 5,
                   "target_date": "2027-01-01", "frequency": "quarterly", "data_source": "ledger",
                   "confidence": "high", "amounts": [0, 60_000, 60_000, 60_000]}],
        actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 100_000},
                 {"period": "2026Q2", "line_id": "B1", "amount": 50_000, "kpi_value": 9}],
    )
    return write_case_workbook(case, path)


@pytest.fixture
def portfolio(tmp_path) -> Path:
    """One sample case, one case with hostile text, a broken file and an invalid workbook."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLE / "CRM-2025.xlsx", folder)
    _hostile_case(folder / "xss.xlsx")
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04 truncated")
    bad = make_case({"case_id": "../evil", "title": "Bad id", "horizon": 2},
                    costs=[{"line_id": "C1", "name": "Build", "amounts": [1, 0]}])
    write_case_workbook(bad, folder / "invalid.xlsx")
    return folder


def _tiny_inputs(tmp_path: Path, names: list[str]) -> Path:
    """Copies of sample workbooks (they must load; the folder is named by the case id)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    for n in names:
        shutil.copy(SAMPLE / f"{n}.xlsx", folder)
    return folder


def _tiny_notebook(tmp_path: Path) -> Path:
    p = tmp_path / "tiny_case.py"
    p.write_text(TINY_CASE_NB)
    return p


# --- end to end with the real notebooks ------------------------------------------------------------------
def test_review_produces_good_packs_reports_broken_ones_and_exits_1(portfolio, tmp_path, capsys):
    out = tmp_path / "reports" / "2026Q3"
    before = {p.name: _sha(p) for p in portfolio.iterdir()}

    code = cli.main(["review", str(portfolio), "--as-of", "2026Q3", "--out", str(out), "--workers", "2",
                     "--progress", "json"])

    assert code == 1
    captured = capsys.readouterr()
    assert f"open {out / 'index.html'}" in captured.out
    events = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    assert sorted(e["case_id"] for e in events if e["event"] == "pack") == [
        "CRM-2025", "XSS-1", "broken", "invalid", "portfolio"]
    assert events[-1]["event"] == "summary" and events[-1]["failed"] == 2
    after = {p.name: _sha(p) for p in portfolio.iterdir() if not p.name.startswith("vmo-history.duckdb")}
    assert after == before  # inputs never modified (the quarterly history is written beside them)

    manifest = json.loads((out / "manifest.json").read_text())
    by_id = {c["case_id"]: c for c in manifest["cases"]}
    assert manifest["status"] == "failed" and manifest["failed"] == 2
    assert by_id["CRM-2025"]["status"] == "ok" and by_id["XSS-1"]["status"] == "ok"
    assert by_id["broken"]["step"] == "load" and "zip" in by_id["broken"]["error"]
    assert by_id["invalid"]["step"] == "load"
    assert any(i["cell"] == "B4" and i["field"] == "case_id" for i in by_id["invalid"]["issues"])
    assert manifest["portfolio"]["status"] == "ok"
    assert {i["sha256"] for i in manifest["inputs"]} == set(before.values())
    assert manifest["parameters"]["as_of"] == "2026Q3" and manifest["parameters"]["seed"] == 0
    assert manifest["version"] and manifest["python"]

    for cid in ("CRM-2025", "XSS-1"):
        pack = out / "cases" / cid
        assert {"pack.html", "pack.ipynb", "results.json"} <= {p.name for p in pack.iterdir()}
        page = (pack / "pack.html").read_text()
        assert "jp-InputArea" not in page and "In&nbsp;[" not in page and "<script" not in page
        assert "load_case" not in page  # no code
    assert (out / "cases" / "broken" / "failed.html").exists()
    assert "B4" in (out / "cases" / "invalid" / "failed.html").read_text()
    assert (out / "portfolio.html").exists() and (out / "portfolio.ipynb").exists()
    for book in (out / "cases" / "CRM-2025" / "pack.xlsx", out / "portfolio.xlsx"):  # Excel for finance
        assert openpyxl.load_workbook(book, read_only=True).sheetnames
    assert not list(out.glob(".tmp-*")) and not list(out.glob(".work-*"))

    # the pack's numbers are the analysis' numbers (computed here independently of the notebook)
    status = case_status(load_case(SAMPLE / "CRM-2025.xlsx", as_of="2026Q3"), "2026Q3")
    results = report.read_results(out / "cases" / "CRM-2025")
    assert results["expected_npv"] == pytest.approx(status.expected_npv, rel=1e-12)
    assert results["decision"] == status.decision and by_id["CRM-2025"]["decision"] == status.decision
    assert results["verdict"] == status.verdict.label and results["rag"] == status.rag
    assert by_id["CRM-2025"]["verdict"] == status.verdict.label

    # escaping: the hostile title is text in the index and in the pack
    index = (out / "index.html").read_text()
    pack = (out / "cases" / "XSS-1" / "pack.html").read_text()
    for page in (index, pack):
        assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;CFO&lt;/b&gt;" in pack
    assert 'href="cases/CRM-2025/pack.html"' in index and 'href="cases/broken/failed.html"' in index
    assert "zip" in index and status.verdict.label in index


def test_rerun_gives_identical_numbers_and_replaces_packs_cleanly(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLE / "CHATBOT-2025.xlsx", folder)
    out = tmp_path / "out"
    first = batch.run_review(folder, "2026Q3", out, workers=1, progress="off", portfolio_notebook="")
    assert first.ok
    numbers = (out / "cases" / "CHATBOT-2025" / "results.json").read_bytes()
    (out / "cases" / "GONE-2020").mkdir()  # a case no longer in the folder
    (out / "cases" / "GONE-2020" / "pack.html").write_text("old")

    second = batch.run_review(folder, "2026Q3", out, workers=1, progress="off", portfolio_notebook="")

    assert second.ok
    assert (out / "cases" / "CHATBOT-2025" / "results.json").read_bytes() == numbers
    assert sorted(p.name for p in (out / "cases").iterdir()) == ["CHATBOT-2025"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


# --- the machinery, with a tiny notebook --------------------------------------------------------------------
def test_a_failing_notebook_keeps_its_partial_output_and_the_others_go_on(tmp_path):
    folder = _tiny_inputs(tmp_path, ["RPA-2025", "M365-2022"])
    out = tmp_path / "out"
    (out / "cases" / "M365-2022").mkdir(parents=True)  # last quarter's good pack of that case
    (out / "cases" / "M365-2022" / "pack.html").write_text("last quarter")

    result = batch.run_review(folder, "2026Q3", out, workers=2, progress="off",
                              case_notebook=_tiny_notebook(tmp_path), portfolio_notebook="")

    assert not result.ok
    [failure] = result.failures
    assert failure["step"] == "notebook" and "a cell of this notebook fails" in failure["error"]
    broken = out / "cases" / "M365-2022"
    assert sorted(p.name for p in broken.iterdir()) == ["pack.failed.html", "pack.failed.ipynb"]
    nb = nbformat.read(broken / "pack.failed.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    assert "RuntimeError" in (broken / "pack.failed.html").read_text()
    assert (out / "cases" / "RPA-2025" / "pack.html").exists()
    index = (out / "index.html").read_text()
    assert 'href="cases/M365-2022/pack.failed.html"' in index and "a cell of this notebook fails" in index


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path):
    folder = _tiny_inputs(tmp_path, ["RPA-2025"])
    nb = _tiny_notebook(tmp_path)
    draws = []
    for seed, out in ((3, "a"), (3, "b"), (4, "c")):
        batch.run_review(folder, "2026Q3", tmp_path / out, workers=1, progress="off", seed=seed,
                         case_notebook=nb, portfolio_notebook="")
        draws.append(report.read_results(tmp_path / out / "cases" / "RPA-2025")["draw"])
    assert draws[0] == draws[1] != draws[2]


def test_notebook_parameters_are_checked_before_any_run(tmp_path):
    nb = tmp_path / "nb.py"
    nb.write_text('# %% tags=["parameters"]\ncase_path = ""\nas_of = ""\n\n# %%\nprint(case_path)\n')
    with pytest.raises(VmoError, match="does not define scenario, seed, out_dir"):
        batch.prepare_notebook(nb, tmp_path / "nb.ipynb", batch.CASE_PARAMETERS)
    nb.write_text("# %%\ncase_path = ''\n")
    with pytest.raises(VmoError, match="no cell tagged 'parameters'"):
        batch.prepare_notebook(nb, tmp_path / "nb.ipynb", batch.CASE_PARAMETERS)


def test_kernels_talk_over_ipc_with_an_absolute_socket_path(tmp_path):
    km = batch._ipc_kernel_manager(str(tmp_path))()
    assert km.transport == "ipc" and os.path.isabs(km.ip) and km.ip.startswith(str(tmp_path))


def test_shutdown_does_not_interrupt_the_finished_kernel(tmp_path):
    # jupyter_client interrupts (SIGINT) before every shutdown; landing inside ipykernel's last message
    # handler that logged "KeyboardInterrupt caught in kernel." on stderr. While shutting down the
    # interrupt is skipped; otherwise it is the library's (which refuses when no kernel runs).
    import asyncio

    km = batch._ipc_kernel_manager(str(tmp_path))()
    with pytest.raises(RuntimeError, match="No kernel is running"):
        asyncio.run(km._async_interrupt_kernel())
    km.shutting_down = True
    assert asyncio.run(km._async_interrupt_kernel()) is None


def test_the_runner_finds_its_notebooks_and_templates_as_package_resources():
    import importlib.resources
    import tomllib
    from fnmatch import fnmatch

    package = importlib.resources.files("vmo_lib")
    assert batch.NOTEBOOK_DIR == Path(str(package / "notebooks"))
    assert report.TEMPLATE_DIR == Path(str(package / "templates" / "report"))
    # the notebooks the runner executes are the analysts' notebooks/ (one copy to edit)
    for nb in (batch.CASE_NOTEBOOK, batch.PORTFOLIO_NOTEBOOK):
        assert nb.read_bytes() == (ROOT / "notebooks" / nb.name).read_bytes()
    templates = [p for p in report.TEMPLATE_DIR.rglob("*") if p.is_file()]
    assert {"review_index.html.j2", "load_failure.html.j2", "vmo.css", "index.html.j2"} <= {p.name for p in templates}
    # and a wheel ships every one of them: each file matches a package-data pattern of pyproject.toml
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["vmo_lib"]
    root = Path(str(package))
    for f in [batch.CASE_NOTEBOOK, batch.PORTFOLIO_NOTEBOOK, *templates]:
        rel = f.relative_to(root).as_posix()
        assert any(fnmatch(rel, pat) and rel.count("/") == pat.count("/") for pat in patterns), rel


@pytest.mark.parametrize("case_id", ["../x", "a/b", "CON", "x" * 300, "A", "a"])
def test_case_folders_stay_inside_out_whatever_the_id(tmp_path, case_id):
    out = tmp_path / "out"
    out.mkdir()
    recs = []
    for i, cid in enumerate([case_id, case_id]):  # the same id twice: two folders
        tmp = out / f".tmp-{i}"
        tmp.mkdir()
        (tmp / "pack.html").write_text(cid)
        recs.append({"case_id": cid, "source": str(tmp_path / f"w{i}.xlsx"), "tmp": str(tmp)})
    batch._assign_names(recs)
    for r in recs:
        batch._place_case(r, out)
    dirs = [p for p in (out / "cases").iterdir()]
    assert len(dirs) == 2 and all(d.resolve().parent == (out / "cases").resolve() for d in dirs)
    assert not (tmp_path / "x").exists() and not (out / "x").exists()


def test_not_a_folder_is_refused(tmp_path):
    assert cli.main(["review", str(tmp_path / "nope"), "--as-of", "2026Q3", "--out", str(tmp_path / "o")]) == 2


def test_bad_as_of_is_refused(tmp_path):
    with pytest.raises(VmoError, match="as-of"):
        batch.run_review(tmp_path, "Q3 2026", tmp_path / "o", progress="off")


@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="needs Debian's chromium")
def test_pdf_pack_is_printed(tmp_path):
    folder = _tiny_inputs(tmp_path, ["RPA-2025"])
    result = batch.run_review(folder, "2026Q3", tmp_path / "out", workers=1, progress="off", pdf=True,
                              case_notebook=_tiny_notebook(tmp_path), portfolio_notebook="")
    assert result.ok
    assert (tmp_path / "out" / "cases" / "RPA-2025" / "pack.pdf").read_bytes()[:5] == b"%PDF-"


def test_dask_scheduler_runs_the_same_tasks(tmp_path):
    distributed = pytest.importorskip("distributed")
    folder = _tiny_inputs(tmp_path, ["RPA-2025", "PORTAL-2025"])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        result = batch.run_review(folder, "2026Q3", tmp_path / "out", scheduler=cluster.scheduler_address,
                                  progress="off", case_notebook=_tiny_notebook(tmp_path), portfolio_notebook="")
    assert result.ok, result.failures
    assert sorted(c["case_id"] for c in result.cases) == ["PORTAL-2025", "RPA-2025"]
    for n in ("PORTAL-2025", "RPA-2025"):
        assert report.read_results(tmp_path / "out" / "cases" / n)["case_id"] == n


def test_duplicate_case_ids_are_refused_by_the_review_as_by_validate(tmp_path):
    # CRM-2025 and crm-2025 name one folder on Windows and macOS: the second in file order fails with
    # the reason vmo validate and load_portfolio give, and is left out of the portfolio.
    folder = _tiny_inputs(tmp_path, ["CRM-2025"])
    case = load_case(folder / "CRM-2025.xlsx")
    case.meta["case_id"] = "crm-2025"
    write_case_workbook(case, folder / "zz-copy.xlsx")
    result = batch.run_review(folder, "2026Q3", tmp_path / "out", workers=1, progress="off",
                        case_notebook=_tiny_notebook(tmp_path), portfolio_notebook="")
    rows = {Path(r["source"]).name: r for r in result.cases}
    assert rows["CRM-2025.xlsx"]["status"] == "ok"
    dup = rows["zz-copy.xlsx"]
    assert dup["status"] == "failed" and dup["step"] == "load"
    assert "already used by CRM-2025.xlsx" in dup["error"] and "ignoring upper/lower case" in dup["error"]
    assert "already used by CRM-2025.xlsx" in (tmp_path / "out" / "cases" / dup["safe_id"] / "failed.html").read_text()
    assert not result.ok
