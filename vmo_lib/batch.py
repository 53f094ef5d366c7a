"""The quarterly review batch: one papermill run per case, one for the portfolio, packs and an index.

:func:`run_review` executes the parameterised notebook ``notebooks/case_review`` once per workbook
and ``notebooks/portfolio_review`` once for the folder, on local processes (default) or on an
existing Dask distributed cluster (``scheduler=``), and writes::

    out/
      index.html                 every case with its verdict, RAG and links
      manifest.json              inputs (SHA-256), parameters, versions, status/timing/error per case
      portfolio.html|.ipynb|.xlsx
      cases/<safe_id>/pack.html  the pack for readers (no code cells)
                     pack.ipynb  the executed notebook (audit)
                     pack.xlsx   the Excel workbook for finance (when vmo_lib.outputs.excel is available)
                     pack.pdf    with pdf=True and Debian's chromium installed
                     results.json  the numbers the notebook computed (index, manifest, tests)

Decisions
---------
* **Faults do not stop the batch.** A workbook that cannot be loaded (unreadable or invalid) gets
  ``cases/<id>/failed.html`` with the reason and every validation issue; no notebook is run for it.
  A notebook that fails keeps its partially executed copy as ``pack.failed.ipynb`` (papermill
  saves it with the error marked) and ``pack.failed.html`` (code shown, for the analyst).
  :attr:`ReviewResult.ok` is False and ``vmo review`` exits with code 1.
* **Atomic outputs.** Each case is produced in ``out/.tmp-<id>-<random>`` and moved to
  ``out/cases/<safe_id>`` only when complete (the old folder is renamed aside first, then
  deleted), so no half-written pack ever sits under its final name; index.html and
  manifest.json are written with a temp file and :func:`os.replace`.
* **Re-running into the same folder** replaces each case's folder as a whole: a case that now
  fails shows its failure, not last quarter's pack; folders under ``cases/`` of workbooks that are
  no longer in the input folder are removed, so the index and the folder always agree.
* **Names.** A case folder is :func:`vmo_lib.outputs.html.safe_id` of the case id (the file name when
  the workbook cannot be read); two workbooks with the same id get a suffix from their file name.
* **Kernels never collide.** Each kernel talks over ZMQ's IPC transport with its own absolute
  socket path (no TCP port race, no relative-path hang); a kernel that still fails to start is
  retried once. Each cell has an execution timeout (``timeout`` seconds).
* **Reproducible.** The notebooks get ``seed``; nothing time-dependent goes into results.json
  (the manifest records run times separately).
* Inputs are opened read-only and hashed before and after the run; a changed input is reported.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmo_lib import __version__
from vmo_lib.errors import VmoError
from vmo_lib.outputs.html import (
    RESULTS_FILE,
    atomic_write_text,
    format_money,
    read_results,
    render_failure_page,
    render_index,
    render_pack_html,
    safe_child,
    safe_id,
)

__all__ = [
    "CASE_NOTEBOOK",
    "CASE_PARAMETERS",
    "NOTEBOOK_DIR",
    "PORTFOLIO_NOTEBOOK",
    "PORTFOLIO_PARAMETERS",
    "ReviewResult",
    "prepare_notebook",
    "run_review",
]

#: Folder of the review notebooks (jupytext py:percent files), found as package data so a wheel
#: install runs them too. In the repository ``vmo_lib/notebooks/*.py`` are links to the analysts'
#: canonical ``notebooks/*.py`` (one copy to edit); building a wheel copies the files they point to.
NOTEBOOK_DIR = Path(str(importlib.resources.files("vmo_lib") / "notebooks"))
CASE_NOTEBOOK = NOTEBOOK_DIR / "case_review.py"
PORTFOLIO_NOTEBOOK = NOTEBOOK_DIR / "portfolio_review.py"
#: Parameters the runner passes to each notebook (checked against its parameters cell).
CASE_PARAMETERS = ("case_path", "as_of", "scenario", "seed", "out_dir", "review_file")
PORTFOLIO_PARAMETERS = ("folder", "as_of", "scenario", "seed", "out_dir", "annual_budget", "review_file")
#: File name of the computed review a task hands to its notebook (removed before the pack is placed).
REVIEW_FILE = "review.pickle"

_KERNEL = "python3"
_CHROMIUM = "/usr/bin/chromium"
_RETRY_MARKERS = ("Address already in use", "Kernel died before replying", "Kernel didn't respond",
                  "Kernel not responding")


@dataclass
class ReviewResult:
    """What :func:`run_review` produced.

    Attributes
    ----------
    out : Path
        The output folder.
    index, manifest : Path
        ``out/index.html`` and ``out/manifest.json``.
    cases : list of dict
        One record per workbook, as in the manifest (``case_id``, ``status``, ``step``, ``error``,
        ``outputs``, ``seconds``, ``verdict``, ``rag``...).
    portfolio : dict or None
        The same record for the portfolio pack.
    seconds : float
        Wall time of the whole review.
    """

    out: Path
    index: Path
    manifest: Path
    cases: list[dict[str, Any]] = field(default_factory=list)
    portfolio: dict[str, Any] | None = None
    seconds: float = 0.0

    @property
    def failures(self) -> list[dict[str, Any]]:
        """Failed cases (and portfolio) as :class:`~vmo_lib.errors.BatchError` expects them."""
        recs = self.cases + ([self.portfolio] if self.portfolio else [])
        return [{"case_id": r["case_id"], "step": r["step"], "error": r["error"],
                 "partial_output": r.get("partial_output")} for r in recs if r["status"] != "ok"]

    @property
    def ok(self) -> bool:
        """True when every case and the portfolio pack succeeded."""
        return not self.failures


# --- inputs and notebooks -------------------------------------------------------------------------------
def prepare_notebook(source: str | os.PathLike[str], dest: str | os.PathLike[str],
                     required: Sequence[str] = ()) -> Path:
    """Convert a jupytext ``py:percent`` notebook to ``.ipynb`` at ``dest`` and check its parameters.

    Parameters
    ----------
    source : path
        ``.py`` (jupytext) or ``.ipynb``.
    dest : path
        Where to write the ``.ipynb`` (a work folder; overwritten).
    required : sequence of str
        Names the runner will pass; each must be assigned in the cell tagged ``parameters``
        (papermill only warns about unknown parameters, so the runner checks).

    Raises
    ------
    VmoError
        If the notebook has no ``parameters`` cell or lacks one of ``required``.
    """
    import jupytext
    import nbformat
    import papermill

    source, dest = Path(source), Path(dest)
    if not source.is_file():
        raise VmoError(f"{source}: notebook not found")
    nb = jupytext.read(source)
    nb.metadata.setdefault("kernelspec", {"name": _KERNEL, "display_name": "Python 3", "language": "python"})
    nb.metadata.setdefault("language_info", {"name": "python"})
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(dest))
    if required:
        if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
            raise VmoError(f"{source}: no cell tagged 'parameters' (papermill needs one)")
        declared = set(papermill.inspect_notebook(str(dest)))
        missing = [p for p in required if p not in declared]
        if missing:
            raise VmoError(f"{source}: the parameters cell does not define {', '.join(missing)} "
                           f"(expected {', '.join(required)})")
    return dest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- one task (runs in a worker process or on a Dask worker) ----------------------------------------------
@dataclass(frozen=True)
class _Task:
    kind: str  # "case" | "portfolio"
    source: str  # absolute path of the workbook / the folder
    key: str  # file stem (case) or "portfolio"
    notebook: str  # absolute path of the prepared .ipynb
    parameters: Mapping[str, Any]
    out: str  # absolute output folder (temp folders are made inside it)
    as_of: str
    scenario: str
    pdf: bool
    timeout: float
    footer: str


def _ipc_kernel_manager(sock_dir: str) -> type:
    """A kernel manager class whose kernels use IPC sockets under ``sock_dir`` (absolute, unique),
    and that shuts a finished kernel down without interrupting it first.

    ``KernelManager.shutdown_kernel`` always sends SIGINT before its shutdown request, even to an idle
    kernel. When the signal lands while ipykernel is still finishing the last shell message (after
    the reply nbclient waited for, before the handler returns), ipykernel logs ``[IPKernelApp]
    ERROR | KeyboardInterrupt caught in kernel.`` on the inherited stderr — noise on every few runs,
    not an error. Here the interrupt is skipped only while shutting down: the shutdown request on
    the control channel stops the kernel cleanly, and ``finish_shutdown`` still kills one that does
    not stop within its wait. nbclient's own interrupt on a cell timeout is untouched, and errors
    raised by cells still reach papermill as before.
    """
    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kw: Any) -> None:
            kw.setdefault("transport", "ipc")
            kw.setdefault("ip", os.path.join(sock_dir, "kernel"))
            super().__init__(**kw)

        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return IpcKernelManager


def _execute(task: _Task, parameters: Mapping[str, Any], output: Path, cwd: Path) -> None:
    import papermill

    attempts = 2
    for attempt in range(attempts):
        # AF_UNIX paths are limited to ~100 bytes: keep the sockets in a short /tmp folder.
        sock_dir = tempfile.mkdtemp(prefix="vmo-k-")
        try:
            papermill.execute_notebook(
                task.notebook, str(output), parameters=dict(parameters), kernel_name=_KERNEL,
                progress_bar=False, log_output=False, cwd=str(cwd), start_timeout=60,
                execution_timeout=task.timeout, kernel_manager_class=_ipc_kernel_manager(sock_dir),
            )
            return
        except papermill.PapermillExecutionError:
            raise
        except Exception as exc:  # a kernel that failed to start: retry once
            if attempt + 1 < attempts and any(m in str(exc) for m in _RETRY_MARKERS):
                continue
            raise
        finally:
            shutil.rmtree(sock_dir, ignore_errors=True)


def _load_case(path: Path, as_of: str) -> tuple[Any, dict[str, Any] | None]:
    """(case, None) or (None, failure record) — the loader is another module's job."""
    try:
        from vmo_lib.intake.loader import load_case
    except ModuleNotFoundError:  # loader not available: the notebook will load the case itself
        return None, None
    from vmo_lib.errors import ValidationError, WorkbookError

    try:
        return load_case(path, as_of=as_of), None
    except ValidationError as exc:
        issues = exc.issues
        recs = json.loads(issues.to_json(orient="records", date_format="iso")) if len(issues) else []
        n_err = sum(1 for r in recs if r.get("severity") == "error")
        return None, {"step": "load", "error": f"the workbook breaks {n_err} validation rule(s)", "issues": recs}
    except WorkbookError as exc:
        return None, {"step": "load", "error": exc.reason, "issues": []}
    except VmoError as exc:
        return None, {"step": "load", "error": str(exc), "issues": []}


def print_pdf(html_path: str | os.PathLike[str], pdf_path: str | os.PathLike[str], timeout: float = 120) -> None:
    """Print an HTML pack to PDF with Debian's headless chromium (no network, throwaway profile).

    Raises
    ------
    VmoError
        If chromium is missing or fails.
    """
    if not os.path.exists(_CHROMIUM):
        raise VmoError(f"{_CHROMIUM} not found: install Debian's chromium to print PDF packs")
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory(prefix="vmo-chromium-") as profile:
        cmd = [_CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-quic", f"--user-data-dir={profile}", "--no-pdf-header-footer",
               f"--print-to-pdf={pdf_path}", html_path.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not pdf_path.exists():
        raise VmoError(f"chromium could not print {html_path.name}: {proc.stderr.strip()[-300:]}")


def _error_text(exc: BaseException) -> str:
    import papermill

    if isinstance(exc, papermill.PapermillExecutionError):
        return f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})"
    return f"{type(exc).__name__}: {exc}"


def _skip_slow_imports() -> None:
    """Keep jsonschema (imported by nbformat) from importing ``rfc3987_syntax``.

    That package builds a grammar at import (~1.5 s of CPU per process, measured with
    ``python -X importtime -c "import nbformat"``) only so jsonschema can check the ``iri`` string
    format, which notebook validation never uses. Without it jsonschema skips that one checker.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]


def _run_task(task: _Task) -> dict[str, Any]:
    """Produce one pack in a fresh temp folder inside ``task.out``; never raises for a bad case."""
    _skip_slow_imports()
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # the kernel's debugger warning
    t0 = time.perf_counter()
    src = Path(task.source)
    tmp = Path(task.out) / f".tmp-{safe_id(task.key, 24)}-{secrets.token_hex(4)}"
    tmp.mkdir(parents=True)
    rec: dict[str, Any] = {"kind": task.kind, "key": task.key, "source": str(src), "case_id": task.key,
                           "title": "", "status": "ok", "step": "", "error": "", "issues": [],
                           "verdict": None, "rag": None, "figures": {}, "tmp": str(tmp)}
    if task.kind == "case":
        rec["sha256"] = _sha256(src)
    stem = "pack" if task.kind == "case" else "portfolio"
    try:
        obj = None
        if task.kind == "case":
            obj, failure = _load_case(src, task.as_of)
            if obj is not None:
                rec["case_id"], rec["title"] = obj.case_id, obj.title
            if failure is not None:
                rec.update(status="failed", **failure)
                page = render_failure_page(case_id=task.key, source=src.name, as_of=task.as_of,
                                           error=failure["error"], issues=failure["issues"], footer=task.footer)
                atomic_write_text(tmp / "failed.html", page)
                return rec
        params = {**task.parameters, "out_dir": str(tmp)}
        review_path = tmp / REVIEW_FILE
        if task.kind == "case" and obj is not None:
            rec["step"] = "review"
            from vmo_lib.analysis.review import review_case
            from vmo_lib.portfolio.review import save_review

            review = review_case(obj, task.as_of, seed=int(task.parameters.get("seed", 0)))
            save_review(review, review_path)
            rec["review"] = review
            params["review_file"] = str(review_path)
            rec["step"] = ""
        ipynb = tmp / f"{stem}.ipynb"
        try:
            _execute(task, params, ipynb, tmp)
        except Exception as exc:
            rec.update(status="failed", step="notebook", error=_error_text(exc))
            if ipynb.exists():
                import nbformat

                failed = ipynb.with_name(f"{stem}.failed.ipynb")
                os.replace(ipynb, failed)
                rec["partial_output"] = failed.name
                nb = nbformat.read(str(failed), as_version=4)
                atomic_write_text(failed.with_suffix(".html"), render_pack_html(
                    nb, banner=f"FAILED review {task.as_of}: {task.key}", footer=task.footer, include_code=True))
            return rec
        results: dict[str, Any] = {}
        if (tmp / RESULTS_FILE).exists():
            results = read_results(tmp)
            rec.update({k: results[k] for k in ("verdict", "rag", "decision", "decision_reason")
                        if results.get(k) is not None})
            rec["title"] = rec["title"] or str(results.get("title") or "")
            rec["figures"] = _index_figures(results)
            rec["headline"] = [str(h) for h in results.get("headline") or []]
        rec["step"] = "html"
        import nbformat

        nb = nbformat.read(str(ipynb), as_version=4)
        html_path = tmp / f"{stem}.html"
        atomic_write_text(html_path, render_pack_html(nb, banner=f"Quarterly review {task.as_of}", footer=task.footer))
        review_path.unlink(missing_ok=True)  # the notebook wrote the Excel pack from it
        if task.pdf:
            rec["step"] = "pdf"
            print_pdf(html_path, tmp / f"{stem}.pdf")
        rec["step"] = ""
    except Exception as exc:  # noqa: BLE001 - one broken case must not stop the batch
        rec.update(status="failed", step=rec["step"] or "run", error=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc(limit=8))
    finally:
        rec["seconds"] = round(time.perf_counter() - t0, 3)
    return rec


def _index_figures(results: Mapping[str, Any]) -> dict[str, str]:
    """The key figures a notebook reported (``cards``), formatted for the index."""
    out: dict[str, str] = {}
    for card in results.get("cards") or []:
        value, kind = card.get("value"), card.get("kind", "money")
        if kind == "money":
            text = format_money(value, results.get("currency", "GBP"), compact=True)
        elif kind == "percent":
            from vmo_lib.outputs.html import format_percent

            text = format_percent(value)
        else:
            text = "–" if value is None else str(value)
        out[str(card.get("label"))] = text
    return out


def _portfolio_review(recs: list[dict], as_of: str, seed: int, annual_budget: float | None, work: Path) -> Path:
    """Build the portfolio review from the case reviews the tasks computed and save it for the notebook."""
    import pandas as pd

    from vmo_lib.periods import review_quarter
    from vmo_lib.portfolio.review import review_portfolio, save_review

    reviews = [r["review"] for r in sorted(recs, key=lambda r: r["source"]) if r.get("review") is not None]
    failed = [{"path": os.path.basename(r["source"]), "kind": r.get("step") or "load", "error": r.get("error"),
               "issues": None} for r in recs if r.get("review") is None]
    failures = pd.DataFrame(failed, columns=["path", "kind", "error", "issues"])
    pr = review_portfolio(reviews, review_quarter(as_of), annual_budget=annual_budget, failures=failures, seed=seed)
    return save_review(pr, work / "portfolio_review.pickle")


# --- running many tasks ------------------------------------------------------------------------------------
def _mp_context():
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _run_all(tasks: list[_Task], workers: int, scheduler: str | None, on_done: Callable[[dict], None]) -> list[dict]:
    done: list[dict] = []

    def finish(rec: dict) -> None:
        done.append(rec)
        on_done(rec)

    def crashed(task: _Task, exc: BaseException) -> dict:
        return {"kind": task.kind, "key": task.key, "source": task.source, "case_id": task.key, "title": "",
                "status": "failed", "step": "worker", "error": f"{type(exc).__name__}: {exc}", "issues": [],
                "verdict": None, "rag": None, "figures": {}, "seconds": None, "tmp": None}

    if scheduler:
        from distributed import Client, as_completed

        with Client(scheduler, timeout="20s") as client:
            futures = client.map(_run_task, tasks, retries=1, pure=False)
            by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
            for fut in as_completed(futures):
                try:
                    finish(fut.result())
                except Exception as exc:  # noqa: BLE001 - a task that died twice
                    finish(crashed(by_key[fut.key], exc))
    elif workers <= 1:
        for t in tasks:
            try:
                finish(_run_task(t))
            except Exception as exc:  # noqa: BLE001
                finish(crashed(t, exc))
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as pool:
            futs = {pool.submit(_run_task, t): t for t in tasks}
            for fut in as_completed(futs):
                try:
                    finish(fut.result())
                except Exception as exc:  # noqa: BLE001 - a worker process that died
                    finish(crashed(futs[fut], exc))
    return done


class _Progress:
    """A tqdm bar on a terminal; otherwise one JSON line per finished pack on stderr."""

    def __init__(self, mode: str | None, total: int) -> None:
        if mode in (None, "auto"):
            mode = "bar" if sys.stderr.isatty() else "json"
        if mode not in ("bar", "json", "off"):
            raise ValueError(f"progress must be 'auto', 'bar', 'json' or 'off', not {mode!r}")
        self.mode, self.bar = mode, None
        if mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="pack", file=sys.stderr, desc="review", dynamic_ncols=True)

    def __call__(self, rec: dict) -> None:
        if self.mode == "bar":
            self.bar.set_postfix_str(f"{rec['case_id']}: {rec['status']}", refresh=False)
            self.bar.update(1)
        elif self.mode == "json":
            line = {"event": "pack", "kind": rec["kind"], "case_id": rec["case_id"],
                    "source": Path(rec["source"]).name, "status": rec["status"], "step": rec["step"] or None,
                    "error": rec["error"] or None, "seconds": rec.get("seconds")}
            print(json.dumps(line), file=sys.stderr, flush=True)

    def close(self, summary: Mapping[str, Any]) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.mode == "json":
            print(json.dumps({"event": "summary", **summary}), file=sys.stderr, flush=True)


# --- placing outputs ------------------------------------------------------------------------------------------
def _replace_dir(src: Path, dest: Path) -> None:
    """Move a finished folder to its final name; the old one is renamed aside, then deleted."""
    old = None
    if dest.exists():
        old = dest.with_name(f".old-{dest.name}-{secrets.token_hex(4)}")
        os.replace(dest, old)
    os.replace(src, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _assign_names(recs: list[dict]) -> None:
    """Final folder names: safe_id of the case id, made unique (case-insensitively) by file name."""
    base = {id(r): safe_id(r["case_id"]) for r in recs}
    counts: dict[str, int] = {}
    for r in recs:
        counts[base[id(r)].lower()] = counts.get(base[id(r)].lower(), 0) + 1
    for r in recs:
        name = base[id(r)]
        if counts[name.lower()] > 1:
            name = safe_id(f"{r['case_id']}@{Path(r['source']).name}")
        r["safe_id"] = name


def _place_case(rec: dict, out: Path) -> None:
    cases = out / "cases"
    cases.mkdir(exist_ok=True)
    dest = safe_child(out, "cases", rec["safe_id"])
    files: list[str] = []
    if rec.get("tmp") and Path(rec["tmp"]).is_dir():
        _replace_dir(Path(rec["tmp"]), dest)
        files = sorted(p.name for p in dest.iterdir())
    elif dest.exists():  # the worker died: do not leave last quarter's pack looking current
        shutil.rmtree(dest)
    rec["outputs"] = {p: f"cases/{rec['safe_id']}/{p}" for p in files}
    assert cases.resolve() in dest.parents


def _place_portfolio(rec: dict, out: Path) -> None:
    """Move the portfolio files into ``out`` (each os.replace is atomic), then drop stale ones."""
    tmp = Path(rec["tmp"]) if rec.get("tmp") else None
    files = []
    if tmp is not None and tmp.is_dir():
        for p in sorted(tmp.iterdir()):
            if p.is_file():
                name = "portfolio.results.json" if p.name == RESULTS_FILE else p.name
                os.replace(p, out / name)
                files.append(name)
        shutil.rmtree(tmp, ignore_errors=True)
    for stale in out.glob("portfolio.*"):
        if stale.is_file() and stale.name not in files:
            stale.unlink()
    rec["outputs"] = {p: p for p in files}


def _links(rec: dict) -> list[dict[str, str]]:
    labels = [("pack.html", "Pack"), ("portfolio.html", "Pack"), ("pack.pdf", "PDF"), ("portfolio.pdf", "PDF"),
              ("pack.xlsx", "Excel"), ("portfolio.xlsx", "Excel"), ("failed.html", "Why it failed"),
              ("pack.failed.html", "Failed notebook"), ("portfolio.failed.html", "Failed notebook"),
              ("pack.ipynb", "Notebook"), ("portfolio.ipynb", "Notebook"),
              ("pack.failed.ipynb", ".ipynb"), ("portfolio.failed.ipynb", ".ipynb")]
    outs = rec.get("outputs") or {}
    return [{"label": label, "href": outs[name]} for name, label in labels if name in outs]


# --- the review -----------------------------------------------------------------------------------------------
def run_review(
    folder: str | os.PathLike[str],
    as_of: str,
    out: str | os.PathLike[str],
    workers: int | None = None,
    scheduler: str | None = None,
    pdf: bool = False,
    progress: str | None = None,
    *,
    seed: int = 0,
    scenario: str = "baseline",
    timeout: float = 600,
    annual_budget: float | None = None,
    case_notebook: str | os.PathLike[str] | None = None,
    portfolio_notebook: str | os.PathLike[str] | None = None,
) -> ReviewResult:
    """Run the quarterly review of a folder of case workbooks into ``out``.

    Parameters
    ----------
    folder : path
        Folder of case workbooks (as :func:`vmo_lib.intake.loader.workbook_files` lists them); never
        modified.
    as_of : str
        Review period, e.g. ``"2026Q3"``.
    out : path
        Output folder (created; packs of an earlier run are replaced, see the module notes).
    workers : int, optional
        Local worker processes (default ``min(2, cpu count)``); 1 runs in this process.
    scheduler : str, optional
        Address of an existing Dask distributed scheduler (``tcp://host:8786``): the same tasks
        run there instead (``out`` and the inputs must be on a file system the workers share).
    pdf : bool, default False
        Also print each HTML pack to PDF with Debian's chromium.
    progress : {"auto", "bar", "json", "off"}, optional
        Default "auto": a tqdm bar when stderr is a terminal, else one JSON line per pack.
    seed : int, default 0
        Seed for any randomness in the notebooks (Monte Carlo): same inputs + seed, same numbers.
    scenario : str, default "baseline"
        Scenario the appraisal is computed on.
    timeout : float, default 600
        Longest a single notebook cell may run, in seconds.
    annual_budget : float, optional
        Yearly limit of the portfolio selection (shown on the portfolio pack); None = no selection.
    case_notebook, portfolio_notebook : path, optional
        Other notebooks (jupytext ``.py`` or ``.ipynb``) with the same parameters; default
        ``notebooks/case_review.py`` and ``notebooks/portfolio_review.py``. Pass
        ``portfolio_notebook=""`` to skip the portfolio pack.

    Returns
    -------
    ReviewResult
        ``result.ok`` is False if any case or the portfolio failed; nothing is raised for that.

    Raises
    ------
    WorkbookError
        Before any work, if ``folder`` is not a folder.
    VmoError
        Before any work, if ``as_of`` is not a period or a notebook lacks a parameter.

    Examples
    --------
    >>> result = run_review("data/sample", "2026Q3", "reports/2026Q3")  # doctest: +SKIP
    >>> result.ok, result.index  # doctest: +SKIP
    (True, PosixPath('reports/2026Q3/index.html'))
    """
    from vmo_lib.periods import review_quarter

    _skip_slow_imports()
    t_start, started = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%S%z")
    as_of = review_quarter(as_of)  # the one rule; a malformed --as-of is a UsageError (exit 2)
    from vmo_lib.intake.loader import workbook_files

    folder = Path(folder)
    inputs = workbook_files(folder)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    out_abs = out.resolve()
    if out_abs == folder.resolve():
        raise VmoError(f"{out}: write the review outside the input folder {folder}")
    for leftover in out_abs.glob(".tmp-*"):  # a crashed earlier run
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in [*out_abs.glob(".old-*"), *out_abs.glob(".work-*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in (out_abs / "cases").glob(".old-*"):
        shutil.rmtree(leftover, ignore_errors=True)

    workers = max(1, int(workers if workers is not None else min(2, os.cpu_count() or 1)))
    work = Path(tempfile.mkdtemp(prefix=".work-", dir=out_abs))
    try:
        case_src = Path(case_notebook) if case_notebook else CASE_NOTEBOOK
        case_nb = prepare_notebook(case_src, work / "case_review.ipynb", CASE_PARAMETERS)
        pf_src = None if portfolio_notebook == "" else Path(portfolio_notebook or PORTFOLIO_NOTEBOOK)
        pf_nb = prepare_notebook(pf_src, work / "portfolio_review.ipynb", PORTFOLIO_PARAMETERS) if pf_src else None
        footer = f"VMO Workbench {__version__} · review as of {as_of} · seed {seed} · scenario {scenario}"
        common = {"as_of": as_of, "scenario": scenario, "seed": int(seed)}
        tasks: list[_Task] = []
        for p in inputs:
            tasks.append(_Task("case", str(p.resolve()), p.stem, str(case_nb),
                               {"case_path": str(p.resolve()), **common}, str(out_abs), as_of, scenario, pdf,
                               timeout, footer))
        bar = _Progress(progress, len(tasks) + (pf_nb is not None))
        recs = _run_all(tasks, workers, scheduler, bar)
        if pf_nb is not None:  # the portfolio review is built from the case reviews just computed
            pf_review = _portfolio_review(recs, as_of, seed, annual_budget, work)
            pf_task = _Task("portfolio", str(folder.resolve()), "portfolio", str(pf_nb),
                            {"folder": str(folder.resolve()), **common, "annual_budget": annual_budget,
                             "review_file": str(pf_review)}, str(out_abs), as_of, scenario, pdf, timeout, footer)
            recs += _run_all([pf_task], 1, None, bar)
        for r in recs:
            r.pop("review", None)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    case_recs = sorted((r for r in recs if r["kind"] == "case"), key=lambda r: r["source"])
    pf_rec = next((r for r in recs if r["kind"] == "portfolio"), None)
    _assign_names(case_recs)
    for r in case_recs:
        _place_case(r, out_abs)
    if pf_rec is not None:
        pf_rec["case_id"] = "portfolio"
        _place_portfolio(pf_rec, out_abs)
    keep = {r["safe_id"] for r in case_recs}
    cases_dir = out_abs / "cases"
    if cases_dir.is_dir():  # packs of workbooks no longer in the folder
        for d in cases_dir.iterdir():
            if d.is_dir() and d.name not in keep:
                shutil.rmtree(d)

    for r in case_recs:  # inputs are never modified
        if r.get("sha256") and _sha256(Path(r["source"])) != r["sha256"]:
            r.update(status="failed", step="input", error="the workbook changed while it was being reviewed")
    for r in case_recs + ([pf_rec] if pf_rec else []):
        r.pop("tmp", None)
        r["links"] = _links(r)
        r["source"] = os.path.relpath(r["source"]) if r["kind"] == "case" else str(folder)

    seconds = round(time.perf_counter() - t_start, 3)
    n_failed = sum(r["status"] != "ok" for r in case_recs) + (pf_rec is not None and pf_rec["status"] != "ok")
    manifest = {
        "tool": "vmo-workbench", "version": __version__, "python": platform.python_version(),
        "platform": platform.platform(), "command": "review",
        "parameters": {"folder": str(folder), "as_of": as_of, "scenario": scenario, "seed": int(seed),
                       "annual_budget": annual_budget,
                       "workers": workers, "scheduler": scheduler, "pdf": pdf, "timeout": timeout},
        "notebooks": {p.name: _sha256(p) for p in (case_src, pf_src) if p is not None},
        "inputs": [{"path": r["source"], "sha256": r.get("sha256")} for r in case_recs],
        "started": started, "seconds": seconds,
        "status": "ok" if n_failed == 0 else "failed", "failed": int(n_failed),
        "cases": [_manifest_row(r) for r in case_recs],
        "portfolio": _manifest_row(pf_rec) if pf_rec else None,
    }
    atomic_write_text(out_abs / "manifest.json",
                      json.dumps(manifest, indent=2, default=str, allow_nan=False) + "\n")
    index_html = render_index(
        [_index_entry(r) for r in case_recs], as_of=as_of, source=str(folder),
        portfolio=_index_entry(pf_rec) if pf_rec else None, footer=footer)
    index_path = atomic_write_text(out_abs / "index.html", index_html)
    bar.close({"packs": len(recs), "failed": int(n_failed), "seconds": seconds, "index": str(index_path)})
    return ReviewResult(out=out, index=out / "index.html", manifest=out / "manifest.json",
                        cases=[_manifest_row(r) for r in case_recs],
                        portfolio=_manifest_row(pf_rec) if pf_rec else None, seconds=seconds)


_MANIFEST_KEYS = ("case_id", "title", "source", "sha256", "safe_id", "status", "step", "error", "issues",
                  "partial_output", "verdict", "rag", "decision", "decision_reason", "seconds", "outputs")


def _manifest_row(r: dict) -> dict[str, Any]:
    row = {k: r.get(k) for k in _MANIFEST_KEYS if k in r or k in ("status", "error", "step")}
    if r.get("traceback"):
        row["traceback"] = r["traceback"]
    return row


def _index_entry(r: dict) -> dict[str, Any]:
    return {"case_id": r["case_id"], "title": r.get("title"), "source": Path(r["source"]).name,
            "status": r["status"], "step": r.get("step"), "error": r.get("error"), "issues": r.get("issues") or [],
            "verdict": r.get("verdict"), "rag": r.get("rag"), "decision": r.get("decision"),
            "figures": r.get("figures") or {},
            "links": r.get("links") or [], "headline": r.get("headline") or []}

