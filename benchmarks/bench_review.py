"""Benchmark: seconds per review pack, `vmo review` serial and with 2 workers, against plain papermill.

One run measures, on N copies of the sample cases (``--n``, default 40):

* **runner, serial**: :func:`vmo_lib.batch.run_review` with ``workers=1`` (analysis, figures, HTML
  without code, Excel), seconds per pack;
* **runner, 2 workers**: the same with ``--workers`` local processes;
* **baseline**: the plain tools on the same notebook, one case after another — the ``papermill``
  CLI, then ``jupyter nbconvert --to html --no-input`` (measured on ``--baseline-n`` cases, default
  10: each costs several seconds);
* **floor**: papermill's Python API executing a notebook that only does the same imports (kernel
  start + library import: the unavoidable cost of a pack), on ``--floor-n`` runs.

It prints the ratios against the targets of issue 7: 2 workers at least 1.8x the throughput of the
serial baseline, and the full per-pack cost (serial runner) within 1.5x the imports-only floor.
Timings are wall-clock on a shared machine: read the ratios, not the seconds.

Usage: ``python benchmarks/bench_review.py [--n 40] [--workers 2] [--baseline-n 10] [--floor-n 5]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
BIN = Path(sys.executable).parent

IMPORTS_ONLY = '''# %%
# %matplotlib inline
from vmo_lib.outputs import charts, excel
from vmo_lib.outputs import html as report
from vmo_lib.portfolio import review as reviews

# %% tags=["parameters"]
case_path = ""
as_of = "2026Q3"
scenario = "baseline"
seed = 0
out_dir = ""
'''


def _copies(folder: Path, n: int) -> list[Path]:
    """``n`` copies of the sample cases, each with a case id of its own (a review refuses two
    workbooks with one id): the first round are the files themselves, later rounds are rewritten
    through the template writer with the id suffixed."""
    from vmo_lib.intake.loader import load_case
    from vmo_lib.intake.template import write_case_workbook

    samples = sorted(SAMPLE.glob("*.xlsx"))
    folder.mkdir(parents=True)
    out = []
    for i in range(n):
        src = samples[i % len(samples)]
        dest = folder / f"{src.stem}__{i:03d}.xlsx"
        if i < len(samples):
            shutil.copy(src, dest)
        else:
            case = load_case(src)
            case.meta["case_id"] = f"{case.case_id}-{i:03d}"
            write_case_workbook(case, dest)
        out.append(dest)
    return out


def _runner(folder: Path, out: Path, workers: int) -> float:
    from vmo_lib.batch import run_review

    t = time.perf_counter()
    result = run_review(folder, "2026Q3", out, workers=workers, progress="off", portfolio_notebook="")
    dt = time.perf_counter() - t
    if not result.ok:
        raise SystemExit(f"review failed: {result.failures[:2]}")
    return dt


def _baseline(cases: list[Path], work: Path) -> float:
    from vmo_lib.batch import CASE_NOTEBOOK, prepare_notebook

    nb = prepare_notebook(CASE_NOTEBOOK, work / "case_review.ipynb")
    t = time.perf_counter()
    for i, case in enumerate(cases):
        out_dir = work / f"b{i}"
        out_dir.mkdir()
        executed = out_dir / "pack.ipynb"
        _run_retrying([str(BIN / "papermill"), str(nb), str(executed), "-p", "case_path", str(case),
                       "-p", "as_of", "2026Q3", "-p", "scenario", "baseline", "-p", "seed", "0",
                       "-p", "out_dir", str(out_dir), "--no-progress-bar", "-k", "python3"], cwd=work)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)],
                       check=True, capture_output=True)
    return time.perf_counter() - t


def _run_retrying(cmd: list[str], cwd: Path) -> None:
    """Run the plain CLI once more when its TCP kernel lost the port race to another process on this
    shared machine (the known papermill/jupyter_client race the runner avoids with IPC sockets)."""
    for attempt in range(2):
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False)
        if proc.returncode == 0:
            return
        if attempt == 0 and ("Address already in use" in proc.stderr or "Kernel died" in proc.stderr):
            print("  (baseline: a kernel lost the TCP port race; run again)", file=sys.stderr)
            continue
        raise SystemExit(f"{cmd[0]} failed:\n{proc.stderr[-2000:]}")


def _floor(n: int, work: Path) -> float:
    """papermill's API on the imports-only notebook, kernels on the runner's IPC transport (the same
    kernel start as a pack, and no TCP port race with other kernels on a shared machine)."""
    import papermill

    from vmo_lib.batch import _ipc_kernel_manager, prepare_notebook

    src = work / "imports_only.py"
    src.write_text(IMPORTS_ONLY)
    nb = prepare_notebook(src, work / "imports_only.ipynb")
    t = time.perf_counter()
    for i in range(n):
        sockets = Path(tempfile.mkdtemp(prefix="vmo-k-"))
        try:
            papermill.execute_notebook(str(nb), str(work / f"floor{i}.ipynb"), kernel_name="python3",
                                       progress_bar=False, kernel_manager_class=_ipc_kernel_manager(str(sockets)))
        finally:
            shutil.rmtree(sockets, ignore_errors=True)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="case packs per runner measurement (default 40)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline-n", type=int, default=10, help="cases for the papermill+nbconvert CLI baseline")
    ap.add_argument("--floor-n", type=int, default=5, help="runs of the imports-only notebook")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="vmo-bench-review-") as tmp:
        tmp = Path(tmp)
        cases = _copies(tmp / "in", args.n)
        print(f"bench_review: {args.n} case packs (copies of {len(list(SAMPLE.glob('*.xlsx')))} sample cases)")
        floor = _floor(args.floor_n, tmp) / args.floor_n
        print(f"  floor (papermill API, imports-only notebook)  {floor:6.2f} s/run   ({args.floor_n} runs)")
        base_n = min(args.baseline_n, args.n)
        (tmp / "base").mkdir()
        baseline = _baseline(cases[:base_n], tmp / "base") / base_n
        print(f"  baseline (papermill CLI + nbconvert --no-input) {baseline:6.2f} s/pack  ({base_n} packs)")
        serial = _runner(tmp / "in", tmp / "serial", 1) / args.n
        print(f"  vmo review --workers 1                         {serial:6.2f} s/pack  ({args.n} packs)")
        parallel = _runner(tmp / "in", tmp / "parallel", args.workers) / args.n
        print(f"  vmo review --workers {args.workers}                         {parallel:6.2f} s/pack  ({args.n} packs)")
    print("ratios")
    print(f"  throughput, {args.workers} workers vs serial baseline: {baseline / parallel:5.2f}x  (target >= 1.8x)")
    print(f"  throughput, serial runner vs serial baseline: {baseline / serial:5.2f}x")
    print(f"  full pack cost / imports-only floor:         {serial / floor:5.2f}x  (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
