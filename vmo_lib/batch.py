"""The quarterly review batch: one papermill run per case, one for the portfolio, packs and an index.

:func:`run_review` executes the parameterised notebook ``notebooks/case_review`` once per workbook
and ``notebooks/portfolio_review`` once for the folder, on local processes (default) or on an
existing Dask distributed cluster (``scheduler=``), and writes::

    out/ -> .out.runs/<run id>/  (a link to the folder of the current complete run)
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
* **A run is atomic as a whole.** ``out`` is a symbolic link to the folder of one complete run,
  ``.<name>.runs/<run id>/`` beside it (relative, so the parent folder can be moved). A run builds
  everything — ``cases/``, ``portfolio.*``, ``manifest.json``, ``index.html`` — in a new run folder
  (each task in its own ``.tmp-*`` folder there, renamed into ``cases/`` when it is back) and then
  switches ``out`` to it in one step: a new link replaces the old one with :func:`os.replace`, atomic
  on POSIX. A kill at any moment therefore leaves ``out`` showing either the complete previous run or
  the complete new one; manifest, index and packs always belong to the same run (the manifest's
  ``run_id``, also in every page's footer). The previous run's folder is deleted only after the
  switch; folders left by a killed run are deleted by the next one. Paths users open
  (``out/index.html``, ``out/cases/<id>/pack.html``) work through the link.
* **Migration.** A plain ``out`` folder written by an earlier version stays until the new run is
  complete, then is exchanged with the link in one step (Linux ``renameat2(RENAME_EXCHANGE)``) and
  deleted. Where that call is missing the exchange takes two renames; a kill between them leaves
  ``out`` missing for a moment and the next run links it back to the newest complete run.
* **Full disk, read-only folder.** The new run is written beside the previous one, so a failure of
  any kind leaves the previous run as it was. A task that fails on a full disk (or a write that
  fails with ENOSPC, EROFS, EACCES) stops the review: :class:`OutputError` says "no space left on
  device: <folder> is full" (``vmo review`` exits 2), not a broken notebook.
* **One run at a time.** ``.<name>.lock`` beside ``out`` is held with :func:`fcntl.flock` for the
  whole run and records the holder's pid, host and start time; a second run into the same ``out``
  is refused at once with :class:`OutputError` naming them. The lock dies with its process.
* **Stopping is clean.** In the main thread SIGINT, SIGTERM and SIGHUP raise :class:`ReviewStopped`:
  pending cases are cancelled, local workers (each in its own process group) and their kernels are
  killed, the unfinished run folder is deleted, and ``vmo review`` prints one line and exits
  ``128 + signal`` (130, 143, 129). The switch itself is never interrupted. Workers are spawned by
  this process and die with it even on SIGKILL: ``prctl(PR_SET_PDEATHSIG)`` on Linux plus a thread
  polling :func:`os.getppid`; kernels watch their worker (ipykernel's parent poller) and are killed
  with it. Workers keep their temp files in ``$TMPDIR/vmo-run-<pid>-*``, removed at the end of the run
  (or by the next run when the process was killed).
* **Dask.** The cluster must have a worker within ``worker_timeout`` seconds (default 60), else
  :class:`SchedulerError`; ``.tmp-*`` folders of tasks Dask ran twice (a lost worker) are deleted
  before the switch. Tasks already running on the cluster when the review is stopped cannot be
  killed from here: they finish into the deleted run folder, which the next run removes.
* **Re-running into the same folder** gives a new run folder, so a case that now fails shows its
  failure, not last quarter's pack, and workbooks no longer in the input folder have no folder.
* **Names.** A case folder is :func:`vmo_lib.outputs.html.safe_id` of the case id (the file name when
  the workbook cannot be read); two workbooks with the same id get a suffix from their file name.
* **Kernels never collide.** Each kernel talks over ZMQ's IPC transport with its own absolute
  socket path (no TCP port race, no relative-path hang); a kernel that still fails to start is
  retried once. Each cell has an execution timeout (``timeout`` seconds). A kernel's own stdout and
  stderr (ipykernel's log, not the notebook's output) go to a log beside its sockets, never to the
  terminal of ``vmo review``; a kernel that fails to start names its last lines in the case's error.
* **Reproducible.** The notebooks get ``seed``; nothing time-dependent goes into results.json
  (the manifest records run times separately).
* Inputs are opened read-only and hashed before and after the run; a changed input is reported.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import importlib.resources
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmo_lib import __version__
from vmo_lib.errors import VmoError
from vmo_lib.files import RESULTS_FILE, atomic_write_text, read_results, safe_child, safe_id
from vmo_lib.formatting import format_money
from vmo_lib.outputs.html import render_failure_page, render_index, render_pack_html

__all__ = [
    "CASE_NOTEBOOK",
    "CASE_PARAMETERS",
    "NOTEBOOK_DIR",
    "PORTFOLIO_NOTEBOOK",
    "PORTFOLIO_PARAMETERS",
    "OutputError",
    "ReviewResult",
    "ReviewStopped",
    "SchedulerError",
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
CASE_PARAMETERS = ("case_path", "as_of", "scenario", "seed", "out_dir")
PORTFOLIO_PARAMETERS = ("folder", "as_of", "scenario", "seed", "out_dir")
#: Parameters passed only to a notebook that declares them: the review the runner computed once
#: (``review_file``) and the portfolio's budget. The bundled notebooks declare both.
OPTIONAL_PARAMETERS = ("review_file", "annual_budget", "history_file")
#: File name of the computed review a task hands to its notebook (removed before the pack is placed).
REVIEW_FILE = "review.pickle"
#: File name of the history frames a task hands to its notebook (removed before the pack is placed).
HISTORY_FILE = "history.pickle"

_KERNEL = "python3"
_CHROMIUM = "/usr/bin/chromium"
_KERNEL_LOG = "kernel.log"  # a kernel's own stdout/stderr, in its socket folder
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


def _declared(notebook: str | os.PathLike[str], names: Sequence[str]) -> list[str]:
    """Which of ``names`` the prepared notebook's parameters cell assigns."""
    import papermill

    declared = set(papermill.inspect_notebook(str(notebook)))
    return [n for n in names if n in declared]


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
    history_dir: str = ""  # per-case pickles of the earlier quarters (vmo_lib.history), "" = no history
    history_latest: str | None = None  # the latest quarter the history holds


def _ipc_kernel_manager(sock_dir: str) -> type:
    """A kernel manager class whose kernels use IPC sockets under ``sock_dir`` (absolute, unique),
    write their own output to ``sock_dir/kernel.log`` (:data:`_KERNEL_LOG`), and that shuts a finished
    kernel down without interrupting it first.

    The kernel process's stdout and stderr are not the user's terminal: what a notebook prints goes to
    the notebook (ipykernel redirects it), and what reaches the process's own streams is ipykernel's
    log — including tracebacks of its shutdown races, e.g. ``ZMQError: Socket operation on non-socket``
    when its control thread publishes "idle" after the IOPub socket was closed (seen on a loaded
    machine, ipykernel 7.4). Inherited, they broke ``vmo review``'s promise of one line on stderr and
    no raw traceback. The log's last lines go into the error of a kernel that fails to start or dies
    (:func:`_execute`).

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

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            if "stdout" in kw or "stderr" in kw:
                await super()._async_launch_kernel(kernel_cmd, **kw)
                return
            with open(os.path.join(sock_dir, _KERNEL_LOG), "ab") as log:  # the child keeps its own copy
                await super()._async_launch_kernel(kernel_cmd, stdout=log, stderr=log, **kw)

    return IpcKernelManager


def _kernel_said(sock_dir: str, lines: int = 5) -> str:
    """The last non-blank lines a kernel wrote to its own output (see :func:`_ipc_kernel_manager`)."""
    try:
        text = Path(sock_dir, _KERNEL_LOG).read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join([ln.strip() for ln in text.splitlines() if ln.strip()][-lines:])[-1000:]


class _KernelFailed(RuntimeError):
    """A kernel that could not start or died, with what it last wrote (``str`` is the whole text)."""


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
            said = _kernel_said(sock_dir)
            if said:
                raise _KernelFailed(f"{type(exc).__name__}: {exc} (the kernel's last output: {said})") from exc
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
    if isinstance(exc, _KernelFailed):
        return str(exc)
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
        if task.kind == "case" and obj is not None and "review_file" in task.parameters:
            rec["step"] = "review"
            from vmo_lib.analysis.review import review_case
            from vmo_lib.portfolio.review import save_review

            history = _case_history(task, obj) if task.history_dir else None
            if history is not None:
                obj, rec["basis"] = history["case"], history["basis"]
            review = review_case(obj, task.as_of, seed=int(task.parameters.get("seed", 0)))
            save_review(review, review_path)
            rec["review"] = review
            params["review_file"] = str(review_path)
            if history is not None:
                rec["records"], rec["inputs"] = _hand_over_history(review, history, tmp / HISTORY_FILE, src)
            if "history_file" in task.parameters:
                params["history_file"] = str(tmp / HISTORY_FILE) if history is not None else None
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
        atomic_write_text(html_path, render_pack_html(nb, banner=_banner(task.as_of, rec.get("basis")),
                                                      footer=task.footer))
        review_path.unlink(missing_ok=True)  # the notebook wrote the Excel pack from it
        (tmp / HISTORY_FILE).unlink(missing_ok=True)
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


def _banner(as_of: str, basis: str | None) -> str:
    """The pack's banner: the quarter, and for an earlier quarter what its figures are built from."""
    from vmo_lib.history.replay import AS_RECORDED, RECONSTRUCTED

    if basis == RECONSTRUCTED:
        return f"Quarterly review {as_of} — {RECONSTRUCTED} (this quarter is not in the history)"
    if basis == AS_RECORDED:
        return f"Quarterly review {as_of} — actuals up to {as_of}, {AS_RECORDED} (from the history)"
    return f"Quarterly review {as_of}"


def _case_history(task: _Task, case: Any) -> dict[str, Any]:
    """The case's earlier quarters from the hand-over folder the main process wrote, and the case to
    review (:func:`vmo_lib.history.replay.replay`: as recorded, reconstructed or current)."""
    from vmo_lib.history.replay import replay
    from vmo_lib.history.store import empty_frames, load_frames

    path = Path(task.history_dir) / f"{safe_id(case.case_id)}.pickle"
    frames = load_frames(path) if path.is_file() else empty_frames()
    frames = {t: df[df["case_id"] == case.case_id] for t, df in frames.items()}  # safe_id may collide
    replayed, basis = replay(case, task.as_of, frames, task.history_latest)
    return {"case": replayed, "basis": basis, "frames": frames}


def _hand_over_history(review: Any, history: Mapping[str, Any], path: Path, src: Path) -> tuple[dict, list]:
    """This quarter's records, the notebook's hand-over file (earlier quarters + this one) and the inputs."""
    import pandas as pd

    from vmo_lib.history.records import records_from_review
    from vmo_lib.history.replay import input_files
    from vmo_lib.history.store import save_frames

    current = records_from_review(review)
    earlier = history["frames"]
    frames = {}
    for t, df in earlier.items():
        before = df[df["quarter"] < review.as_of]
        frames[t] = pd.concat([before, current[t]], ignore_index=True) if len(before) else current[t]
    save_frames(frames, path)
    return current, input_files(src, review.case_id)


def _index_figures(results: Mapping[str, Any]) -> dict[str, str]:
    """The key figures a notebook reported (``cards``), formatted for the index."""
    out: dict[str, str] = {}
    for card in results.get("cards") or []:
        value, kind = card.get("value"), card.get("kind", "money")
        if kind == "money":
            text = format_money(value, results.get("currency", "GBP"), compact=True)
        elif kind == "percent":
            from vmo_lib.formatting import format_percent

            text = format_percent(value)
        else:
            text = "–" if value is None else str(value)
        out[str(card.get("label"))] = text
    return out


def _refuse_duplicate_ids(recs: list[dict], as_of: str, footer: str) -> None:
    """Two workbooks with one case id (compared ignoring upper/lower case) are refused as
    ``vmo validate`` and ``load_portfolio`` refuse them (:func:`vmo_lib.intake.loader.duplicate_case_ids`):
    the first in file order keeps its pack, each later one fails with the reason and is left out of
    the portfolio."""
    from vmo_lib.intake.loader import duplicate_case_ids

    cases = sorted((r for r in recs if r["kind"] == "case"), key=lambda r: r["source"])
    entries = [(r["source"], r["case_id"] if r["status"] == "ok" else None, "B4") for r in cases]
    for i, issues in duplicate_case_ids(entries).items():
        r = cases[i]
        records = json.loads(issues.to_json(orient="records"))
        r.update(status="failed", step="load", error=records[0]["message"], issues=records, verdict=None, rag=None,
                 decision=None, figures={})
        r.pop("review", None)
        tmp = Path(r["tmp"]) if r.get("tmp") else None
        if tmp is not None and tmp.is_dir():
            for f in tmp.iterdir():
                shutil.rmtree(f) if f.is_dir() else f.unlink()
            atomic_write_text(tmp / "failed.html", render_failure_page(
                case_id=r["case_id"], source=Path(r["source"]).name, as_of=as_of, error=r["error"],
                issues=records, footer=footer))


def _portfolio_review(recs: list[dict], folder: Path, as_of: str, seed: int, annual_budget: float | None,
                      work: Path) -> Path:
    """Build the portfolio review from the case reviews the tasks computed and save it for the notebook."""
    import pandas as pd

    from vmo_lib.periods import review_quarter
    from vmo_lib.portfolio.review import review_portfolio, save_review
    from vmo_lib.portfolio.settings import load_portfolio_settings

    reviews = [r["review"] for r in sorted(recs, key=lambda r: r["source"]) if r.get("review") is not None]
    failed = [{"path": os.path.basename(r["source"]), "kind": r.get("step") or "load", "error": r.get("error"),
               "issues": None} for r in recs if r.get("review") is None]
    failures = pd.DataFrame(failed, columns=["path", "kind", "error", "issues"])
    settings = load_portfolio_settings(folder, {"budget": annual_budget})
    pr = review_portfolio(reviews, review_quarter(as_of), settings=settings, failures=failures, seed=seed)
    return save_review(pr, work / "portfolio_review.pickle")


# --- the quarterly history ---------------------------------------------------------------------------------
class _History:
    """The review's side of :mod:`vmo_lib.history.store`: read once before the cases, hand each case its
    frames, record the quarter at the end. Workers never open the database."""

    def __init__(self, history: str | os.PathLike[str] | bool | None, folder: Path, timeout: float | None) -> None:
        from vmo_lib.history.store import DEFAULT_FILE, LOCK_TIMEOUT

        if history is True or history is None:
            self.path: Path | None = Path(folder) / DEFAULT_FILE
        elif history is False:
            self.path = None
        else:
            self.path = Path(history)
        self.timeout = LOCK_TIMEOUT if timeout is None else float(timeout)
        self.case_dir = ""
        self.latest: str | None = None
        self.frames: dict[str, Any] = {}
        self.records: list[dict[str, Any]] = []
        self.inputs: list[dict[str, Any]] = []
        self.basis: dict[str, str] = {}
        self.was_reconstructed: set[str] = set()

    @property
    def on(self) -> bool:
        return self.path is not None

    def read(self, as_of: str, work: Path) -> None:
        """Read the earlier quarters (and this one, for a replay) and write one pickle per case into ``work``."""
        if self.path is None:
            return
        from vmo_lib.history.store import open_history, save_frames

        if self.path.exists() and self.path.is_dir():
            raise OutputError(f"{self.path}: is a folder, not a history file")
        with open_history(self.path, read_only=True, timeout=self.timeout) as h:
            quarters = h.quarters()
            self.frames = h.frames(upto=as_of)
            runs = h.runs()
        self.latest = quarters[-1] if quarters else None
        last = runs[runs["quarter"] == as_of].tail(1)
        # cases whose recorded figures were themselves reconstructed stay labelled so when replayed
        self.was_reconstructed = set(json.loads(last["reconstructed"].iloc[0] or "[]")) if len(last) else set()
        work.mkdir(parents=True, exist_ok=True)
        cq = self.frames["case_quarter"]
        for cid in sorted(set(cq["case_id"])):
            save_frames({t: df[df["case_id"] == cid] for t, df in self.frames.items()},
                        work / f"{safe_id(cid)}.pickle")
        self.case_dir = str(work.resolve())

    def collect(self, recs: Sequence[dict]) -> None:
        """Keep this quarter's records of every case reviewed (before the reviews are dropped)."""
        for r in sorted((r for r in recs if r.get("kind") == "case"), key=lambda r: r["source"]):
            if r.get("review") is not None and r.get("records") is not None:
                self.records.append(r["records"])
                self.inputs.extend(r.get("inputs") or [])
                if r.get("basis"):
                    self.basis[r["review"].case_id] = r["basis"]

    def _current(self, recs: Sequence[dict]) -> list[dict[str, Any]]:
        return [r["records"] for r in sorted(recs, key=lambda r: r["source"])
                if r.get("kind") == "case" and r.get("review") is not None and r.get("records") is not None]

    def portfolio_file(self, recs: Sequence[dict], as_of: str, work: Path) -> str | None:
        """All cases' earlier quarters plus this quarter's records, for the portfolio notebook."""
        if self.path is None:
            return None
        import pandas as pd

        from vmo_lib.history.records import TABLES
        from vmo_lib.history.store import save_frames

        frames = {}
        for t in TABLES:
            parts = [df for df in (self.frames.get(t),) if df is not None and len(df)]
            parts = [df[df["quarter"] < as_of] for df in parts]
            parts += [r[t] for r in self._current(recs)]
            parts = [p for p in parts if len(p)]
            frames[t] = pd.concat(parts, ignore_index=True) if parts else None
        return str(save_frames({t: df for t, df in frames.items() if df is not None}, work / "portfolio_history.pickle"))

    def record(self, as_of: str, run_id: str, started: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Record the quarter in one transaction; what the manifest says about it."""
        if self.path is None:
            return {"file": None, "recorded": False, "reason": "--no-history"}
        import datetime as dt

        import pandas as pd

        from vmo_lib.history.records import TABLES
        from vmo_lib.history.replay import AS_RECORDED, CURRENT, RECONSTRUCTED
        from vmo_lib.history.store import open_history

        info: dict[str, Any] = {"file": str(self.path), "quarter": as_of, "run_id": run_id,
                                "cases": len(self.records), "recorded": False,
                                "earlier_quarters": sorted(set(self.frames.get("case_quarter", pd.DataFrame(
                                    {"quarter": []}))["quarter"]) - {as_of}),
                                "basis": {b: sorted(c for c, x in self.basis.items() if x == b)
                                          for b in sorted(set(self.basis.values())) if b != CURRENT}}
        if not self.records:
            info["reason"] = "no case was reviewed"
            return info
        frames = {t: pd.concat([r[t] for r in self.records if len(r[t])], ignore_index=True)
                  if any(len(r[t]) for r in self.records) else self.records[0][t] for t in TABLES}
        reconstructed = [c for c, b in self.basis.items()
                         if b == RECONSTRUCTED or (b == AS_RECORDED and c in self.was_reconstructed)]
        try:
            t0 = dt.datetime.strptime(started, "%Y-%m-%dT%H:%M:%S%z").astimezone(dt.UTC).replace(tzinfo=None)
        except ValueError:
            t0 = None
        with open_history(self.path, read_only=False, timeout=self.timeout) as h:
            before = h.runs()
            h.record_quarter(as_of, frames, run_id=run_id, started=t0, kind="review", parameters=parameters,
                             inputs=self.inputs, reconstructed=reconstructed)
        prev = before[before["quarter"] == as_of]["run_id"].tolist()
        info.update(recorded=True, replaced_run_id=prev[-1] if prev else None)
        return info


# --- running many tasks ------------------------------------------------------------------------------------
def _mp_context():
    """Worker processes are spawned by this process (not by a forkserver), so each one is a direct
    child: it can notice when this process dies (see :func:`_worker_init`) and nothing outlives us."""
    import multiprocessing

    return multiprocessing.get_context("spawn")


def _proc_children() -> dict[int, list[int]]:
    """{ppid: [pid, ...]} of every process, read from /proc (Linux); empty elsewhere."""
    kids: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return kids
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
            ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(name))
    return kids


def _descendants(pid: int, kids: Mapping[int, list[int]] | None = None) -> list[int]:
    """Every process below ``pid`` (children, grandchildren...), Linux only; [] elsewhere."""
    kids = _proc_children() if kids is None else kids
    found, todo = [], list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(kids.get(p, []))
    return found


def _kill(pids: Sequence[int], *, groups: bool = False) -> None:
    """SIGKILL each pid (its process group first when ``groups``), ignoring ones already gone."""
    for pid in pids:
        if groups:
            try:
                if os.getpgid(pid) == pid:  # a worker leads its own group: its children go too
                    os.killpg(pid, signal.SIGKILL)
                    continue
            except OSError:
                pass
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _ignore_signal(signum: int, frame: Any) -> None:  # pragma: no cover - runs in workers
    """A Python-level 'ignore': unlike SIG_IGN it is not inherited by the kernels a worker execs."""


def _worker_init(parent_pid: int, tmp: str) -> None:
    """Initializer of each local worker process.

    * Its own process group, and Ctrl-C ignored: the terminal's SIGINT goes to ``vmo review`` only,
      which decides (no KeyboardInterrupt traceback from every worker).
    * It dies with its parent: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux, plus a thread that
      polls :func:`os.getppid` (every platform, and the PDEATHSIG race at start) and kills the
      worker's kernels before exiting. A kernel also watches its own parent (ipykernel's parent
      poller, ``JPY_PARENT_PID``), so it exits when its worker does, however the worker died.
    * Temp files (kernel sockets, connection files) go under ``tmp``, a folder of this run that
      ``vmo review`` deletes, even when a worker was killed.
    """
    signal.signal(signal.SIGINT, _ignore_signal)
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    if hasattr(signal, "pthread_sigmask"):  # born with SIGINT blocked (see _run_pool): safe to take it now
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    os.environ["TMPDIR"] = os.environ["JUPYTER_RUNTIME_DIR"] = tmp
    tempfile.tempdir = tmp
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent_pid:  # the parent died before the prctl
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                _kill(_descendants(os.getpid()))
                os._exit(1)

    threading.Thread(target=watch, name="vmo-parent-watch", daemon=True).start()


def _output_reason(exc: OSError, where: Path | str) -> str | None:
    """A sentence for an OSError that means the output cannot be written (full, read-only, denied)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on device: {where} is full"
    if exc.errno == errno.EROFS:
        return f"{where} is on a read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied writing in {where} ({exc.filename or where})"
    if exc.errno == errno.EFBIG:
        return f"file too large for the file system of {where}"
    return None


_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded", "[Errno 28]", "[Errno 122]")


def _disk_full(folder: Path, rec: Mapping[str, Any]) -> bool:
    """Did a failed task fail because the disk is full? Its error says so, or the folder has < 1 MiB left
    (a notebook written into a full disk is cut short and read back as 'not JSON')."""
    text = f"{rec.get('error') or ''}\n{rec.get('traceback') or ''}"
    if any(t in text for t in _DISK_FULL_TEXT):
        return True
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    return st.f_bavail * st.f_frsize < (1 << 20) or (st.f_files > 0 and st.f_favail == 0)


def _run_guarded(task: _Task) -> dict[str, Any]:
    """:func:`_run_task`, with a full or unwritable output folder marked as such (``output_error``):
    the review then stops, reports it and keeps the previous run (a failed pack would hide the cause)."""
    where = Path(task.out).parent.parent  # task.out is <folder of OUT>/.<name>.runs/<run id>: name the former
    try:
        rec = _run_task(task)
    except OSError as exc:
        reason = _output_reason(exc, where)
        if reason is None:
            raise
        return {**_crashed(task, exc), "output_error": reason}
    if rec.get("status") != "ok" and _disk_full(Path(task.out), rec):
        rec["output_error"] = _output_reason(OSError(errno.ENOSPC, "full"), where)
    return rec


def _crashed(task: _Task, exc: BaseException) -> dict[str, Any]:
    return {"kind": task.kind, "key": task.key, "source": task.source, "case_id": task.key, "title": "",
            "status": "failed", "step": "worker", "error": f"{type(exc).__name__}: {exc}", "issues": [],
            "verdict": None, "rag": None, "figures": {}, "seconds": None, "tmp": None}


def _run_all(tasks: list[_Task], workers: int, scheduler: str | None, on_done: Callable[[dict], None],
             worker_timeout: float = 60.0) -> list[dict]:
    """Run every task; return their records in completion order.

    Raises :class:`OutputError` as soon as a task reports a full or unwritable output folder, and lets
    :class:`ReviewStopped` through; in both cases pending tasks are cancelled and local workers and
    their kernels are killed before the exception leaves.
    """
    done: list[dict] = []

    def finish(rec: dict) -> None:
        done.append(rec)
        on_done(rec)
        if rec.get("output_error"):
            raise OutputError(rec["output_error"])
        _pause_for_tests("task-done")

    if scheduler:
        _run_dask(tasks, scheduler, finish, worker_timeout)
    elif workers <= 1:
        before = set(_descendants(os.getpid()))
        try:
            for t in tasks:
                try:
                    rec = _run_guarded(t)
                except Exception as exc:  # noqa: BLE001
                    rec = _crashed(t, exc)
                finish(rec)
        except BaseException:
            _kill([p for p in _descendants(os.getpid()) if p not in before])  # a kernel still running
            raise
    else:
        _run_pool(tasks, workers, finish)
    return done


def _run_pool(tasks: list[_Task], workers: int, finish: Callable[[dict], None]) -> None:
    """Local worker processes. On any exception (a signal, a full disk) the pool is not drained: pending
    tasks are cancelled and the workers, with their kernels, are killed at once."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    before = {p.pid for p in multiprocessing.active_children()}
    tmp = tempfile.mkdtemp(prefix=f"vmo-run-{os.getpid()}-")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context(), initializer=_worker_init,
                               initargs=(os.getpid(), tmp))
    try:
        # Workers are spawned during the submits. SIGINT is blocked meanwhile so that they are born with
        # it blocked: a Ctrl-C reaching the terminal's whole process group while a worker starts would
        # print a KeyboardInterrupt traceback from it. The worker unblocks it once it ignores it; here
        # a Ctrl-C that came meanwhile is delivered when the mask is restored.
        masked = hasattr(signal, "pthread_sigmask")
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if masked else None
        try:
            futs = {pool.submit(_run_guarded, t): t for t in tasks}
        finally:
            if masked:
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for fut in as_completed(futs):
            try:
                rec = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker process that died
                rec = _crashed(futs[fut], exc)
            finish(rec)
    except BaseException:
        procs = [p for p in multiprocessing.active_children() if p.pid not in before]
        kids = _proc_children()
        victims = [k for p in procs for k in _descendants(p.pid, kids)]  # kernels: their own session
        _kill([p.pid for p in procs if p.pid], groups=True)
        _kill(victims)
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            p.join(timeout=10)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_dask(tasks: list[_Task], scheduler: str, finish: Callable[[dict], None], worker_timeout: float) -> None:
    """The tasks on a Dask distributed cluster; a cluster with no worker fails after ``worker_timeout`` s."""
    from distributed import Client, as_completed

    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    futures: list[Any] = []
    try:
        try:
            client.wait_for_workers(1, timeout=worker_timeout)
        except TimeoutError:
            raise SchedulerError(
                f"the Dask scheduler at {scheduler} has no worker after {worker_timeout:g} s: start one "
                f"(dask worker {scheduler}) or run without --scheduler") from None
        futures = client.map(_run_guarded, tasks, retries=1, pure=False)
        by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        for fut in as_completed(futures):
            try:
                rec = fut.result()
            except Exception as exc:  # noqa: BLE001 - a task that died twice
                rec = _crashed(by_key[fut.key], exc)
            finish(rec)
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel(futures, force=True)
        raise
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=10)


def _pause_for_tests(step: str) -> None:
    """Test hook: with ``VMO_REVIEW_PAUSE=<step>`` and ``VMO_REVIEW_PAUSE_FILE=<path>`` in the environment,
    the runner writes ``<pid> <step>`` to that file when it reaches ``step`` and waits there (up to 10
    minutes) for the test to send a signal. Steps: ``task-done`` (the first pack is back, others run),
    ``placing`` (half the packs placed in the new run's folder), ``switch`` (the new run is complete,
    just before the switch), ``switched`` (just after it, before old runs are deleted)."""
    if os.environ.get("VMO_REVIEW_PAUSE") != step or not os.environ.get("VMO_REVIEW_PAUSE_FILE"):
        return
    path = os.environ.pop("VMO_REVIEW_PAUSE_FILE")
    atomic_write_text(path, f"{os.getpid()} {step}\n")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(0.05)


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


# --- one run, one generation: locking, switching, stopping ------------------------------------------------
class OutputError(VmoError):
    """The output folder cannot take the review: another run holds it, it is read-only, or the disk is
    full. Nothing was switched: ``out`` still holds the previous complete run. ``vmo review`` exits 2."""


class SchedulerError(VmoError):
    """The Dask scheduler cannot be reached, or has no worker within the deadline. ``vmo review`` exits 2."""


class ReviewStopped(KeyboardInterrupt):
    """The review was stopped by a signal (SIGINT, SIGTERM, SIGHUP) after its workers and kernels were killed.

    A :class:`KeyboardInterrupt` (not an :class:`Exception`), so no ``except Exception`` swallows it.

    Attributes
    ----------
    signum : int
        The signal.
    completed : bool
        True when the signal came after the switch: ``out`` holds the new run; otherwise it still holds
        the previous one.
    exit_code : int
        ``128 + signum`` (130 for Ctrl-C, 143 for SIGTERM), the shell's convention.
    """

    def __init__(self, signum: int, completed: bool = False) -> None:
        self.signum, self.completed = int(signum), completed
        super().__init__(f"stopped by {signal.Signals(self.signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


class _StopSignals:
    """SIGINT/SIGTERM/SIGHUP raise :class:`ReviewStopped` in the main thread (once; later ones are
    ignored while the run cleans up), or are held back inside :meth:`deferred` (the switch)."""

    def __init__(self) -> None:
        self.old: dict[int, Any] = {}
        self.stopping: int | None = None
        self.deferring = False

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in _STOP_SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup, `cmd &`: an ignored signal stays so
                    self.old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.old.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stopping is not None:
            return
        self.stopping = signum
        if not self.deferring:
            raise ReviewStopped(signum)

    @contextlib.contextmanager
    def deferred(self):
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False


def _layout(out: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """(OUT as an absolute path — its last part not resolved, it is our link —, the runs folder, the lock)."""
    p = Path(os.path.abspath(out))
    parent = p.parent.resolve()
    return parent / p.name, parent / f".{p.name}.runs", parent / f".{p.name}.lock"


def _holder_text(raw: bytes) -> str:
    try:
        h = json.loads(raw.decode())
        return f"pid {h['pid']} on host {h['host']}, started {h['started']}"
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "pid unknown"


@contextlib.contextmanager
def _run_lock(lock: Path, out: Path):
    """Hold ``lock`` (``fcntl.flock``) for the run; refuse at once if another run holds it."""
    import fcntl

    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(_output_reason(exc, lock.parent) or f"cannot create the lock file {lock}: {exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_text(os.pread(fd, 4096, 0))
            raise OutputError(f"{out} is being written by another review ({holder}); wait for it to finish "
                              f"or choose another --out (lock file {lock})") from None
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me).encode() + b"\n", 0)
        try:
            yield me
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


def _remove(path: Path) -> None:
    """Delete a file, a link (never what it points to) or a folder tree, ignoring errors."""
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(OSError):
            path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def _current_run(out: Path, runs: Path) -> Path | None:
    """The run folder ``out`` links to, if ``out`` is one of our links."""
    if not out.is_symlink():
        return None
    target = (out.parent / os.readlink(out)).resolve()
    return target if target.parent == runs.resolve() and target.is_dir() else None


def _is_complete(run: Path) -> bool:
    return (run / "manifest.json").is_file() and (run / "index.html").is_file()


def _tidy(out: Path, runs: Path, keep: Path | None) -> None:
    """Delete what earlier runs left (under the lock, so nothing here is in use): run folders other
    than ``keep``, half-made links, temp folders of local workers whose ``vmo`` is dead."""
    if runs.is_dir():
        for run in runs.iterdir():
            if keep is None or run.resolve() != keep.resolve():
                _remove(run)
    for left in out.parent.glob(f".{glob.escape(out.name)}.swap-*"):
        _remove(left)
    for left in Path(tempfile.gettempdir()).glob("vmo-run-*-*"):
        try:
            pid = int(left.name.split("-")[2])
            os.kill(pid, 0)
        except ProcessLookupError:
            _remove(left)
        except (ValueError, IndexError, OSError):
            continue


def _recover(out: Path, runs: Path) -> None:
    """Repair a switch cut short between its two renames (only where the one-step exchange is not
    available): ``out`` missing but complete runs exist -> link ``out`` to the newest complete one."""
    if os.path.lexists(out) or not runs.is_dir():
        return
    complete = [r for r in runs.iterdir() if r.is_dir() and not r.is_symlink() and _is_complete(r)]
    if complete:
        newest = max(complete, key=lambda r: (r / "manifest.json").stat().st_mtime)
        _switch(out, newest)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where not supported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _switch(out: Path, run: Path) -> Path | None:
    """Point ``out`` at ``run`` in one step; return an earlier plain folder moved aside (to delete).

    ``out`` is a symbolic link, replaced by a new link with one :func:`os.replace` (atomic on POSIX).
    A plain folder left by an earlier version is exchanged with the new link in one step where Linux
    allows (``renameat2``), else renamed into the runs folder and then replaced (a kill between the two
    leaves ``out`` missing; the next run's :func:`_recover` restores it).
    """
    link = out.with_name(f".{out.name}.swap-{secrets.token_hex(4)}")
    os.symlink(os.path.relpath(run, out.parent), link)
    if out.is_dir() and not out.is_symlink():
        if _exchange(link, out):
            return link
        aside = run.parent / f"earlier-{secrets.token_hex(4)}"
        os.rename(out, aside)
        os.replace(link, out)
        return aside
    os.replace(link, out)
    return None


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
    worker_timeout: float = 60.0,
    history: str | os.PathLike[str] | bool = True,
    history_timeout: float | None = None,
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
        Output folder: a link to this run's folder, switched in one step when the run is complete (see
        the module notes); the previous run stays until then.
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
    worker_timeout : float, default 60
        With ``scheduler``: how long to wait for the cluster's first worker before failing.
    history : path or bool, default True
        The quarterly history (:mod:`vmo_lib.history.store`): True = ``vmo-history.duckdb`` in
        ``folder``, a path = that file, False = none. Read once before the cases are reviewed (the
        notebooks get their frames as ``history_file``); the quarter is recorded in one transaction
        when every pack is built, before the switch (see the module notes).
    history_timeout : float, optional
        Seconds to wait while another process holds the history's lock (default
        :data:`vmo_lib.history.store.LOCK_TIMEOUT`); then :class:`~vmo_lib.history.store.HistoryLocked`.

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
    OutputError
        If another review is writing into ``out``, or ``out`` cannot be written (read-only, no space
        left): ``out`` keeps the previous complete run.
    SchedulerError
        If the Dask scheduler cannot be reached or has no worker within ``worker_timeout``.
    HistoryError
        The history is locked by another process beyond ``history_timeout``, written by a newer
        version or not a history: ``out`` keeps the previous run and the history is unchanged.
    ReviewStopped
        On SIGINT, SIGTERM or SIGHUP (in the main thread): pending cases are cancelled, workers and
        kernels killed, and ``out`` keeps the previous complete run (unless ``completed``).

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
    out_path, runs, lock = _layout(out)
    if os.path.lexists(out_path) and not out_path.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")
    if folder.resolve() in (out_path, out_path.resolve()):
        raise VmoError(f"{out}: write the review outside the input folder {folder}")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(_output_reason(exc, out_path.parent) or f"{out}: {exc}") from None
    workers = max(1, int(workers if workers is not None else min(2, os.cpu_count() or 1)))
    run_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(3)}"
    hist = _History(history, folder, history_timeout)

    with _run_lock(lock, out_path), _StopSignals() as stop:
        try:
            _recover(out_path, runs)
            _tidy(out_path, runs, keep=_current_run(out_path, runs))
            runs.mkdir(exist_ok=True)
            gen = runs / run_id
            gen.mkdir()
        except OSError as exc:
            raise OutputError(_output_reason(exc, out_path.parent) or f"{out}: {exc}") from None
        switched = False
        try:
            result, bar, summary = _review_into(
                gen, run_id, out, folder, inputs, as_of, workers, scheduler, pdf, progress, seed, scenario, timeout,
                case_notebook, portfolio_notebook, worker_timeout, started, t_start, annual_budget, hist)
            _pause_for_tests("switch")
            with stop.deferred():
                aside = _switch(out_path, gen)
                switched = True
            _pause_for_tests("switched")
            if aside is not None:
                _remove(aside)
            _tidy(out_path, runs, keep=gen)
            if stop.stopping is not None:
                raise ReviewStopped(stop.stopping, completed=True)
        except ReviewStopped as exc:
            exc.completed = switched
            raise
        except OSError as exc:
            reason = _output_reason(exc, out_path.parent)
            if reason is None or switched:
                raise
            was = "still holds the previous run" if _current_run(out_path, runs) or out_path.is_dir() else \
                "was not created"
            raise OutputError(f"{reason}; the review was not written and {out} {was}") from None
        except OutputError as exc:
            was = "still holds the previous run" if _current_run(out_path, runs) or out_path.is_dir() else \
                "was not created"
            raise OutputError(f"{exc}; the review was not written and {out} {was}") from None
        finally:
            if not switched:
                _remove(gen)
    bar.close(summary)
    return result


def _review_into(out_abs: Path, run_id: str, out: Path, folder: Path, inputs: Sequence[Path], as_of: str,
                 workers: int, scheduler: str | None, pdf: bool, progress: str | None, seed: int, scenario: str,
                 timeout: float, case_notebook: str | os.PathLike[str] | None,
                 portfolio_notebook: str | os.PathLike[str] | None, worker_timeout: float, started: str,
                 t_start: float, annual_budget: float | None = None,
                 hist: _History | None = None) -> tuple[ReviewResult, _Progress, dict[str, Any]]:
    """The whole review written into ``out_abs``, the new run's folder (not yet visible as ``out``)."""
    hist = hist or _History(False, folder, None)
    work = Path(tempfile.mkdtemp(prefix=".work-", dir=out_abs))
    try:
        hist.read(as_of, work / "history")
        case_src = Path(case_notebook) if case_notebook else CASE_NOTEBOOK
        case_nb = prepare_notebook(case_src, work / "case_review.ipynb", CASE_PARAMETERS)
        pf_src = None if portfolio_notebook == "" else Path(portfolio_notebook or PORTFOLIO_NOTEBOOK)
        pf_nb = prepare_notebook(pf_src, work / "portfolio_review.ipynb", PORTFOLIO_PARAMETERS) if pf_src else None
        footer = (f"VMO Workbench {__version__} · review as of {as_of} · seed {seed} · scenario {scenario}"
                  f" · run {run_id}")
        common = {"as_of": as_of, "scenario": scenario, "seed": int(seed)}
        case_optional = _declared(case_nb, OPTIONAL_PARAMETERS)
        tasks: list[_Task] = []
        for p in inputs:
            tasks.append(_Task("case", str(p.resolve()), p.stem, str(case_nb),
                               {"case_path": str(p.resolve()), **common, **dict.fromkeys(case_optional, "")},
                               str(out_abs), as_of, scenario, pdf, timeout, footer,
                               hist.case_dir, hist.latest))
        bar = _Progress(progress, len(tasks) + (pf_nb is not None))
        recs = _run_all(tasks, workers, scheduler, bar, worker_timeout)
        _refuse_duplicate_ids(recs, as_of, footer)
        if pf_nb is not None:  # the portfolio review is built from the case reviews just computed
            pf_review = _portfolio_review(recs, folder, as_of, seed, annual_budget, work)
            optional = {"annual_budget": annual_budget, "review_file": str(pf_review),
                        "history_file": hist.portfolio_file(recs, as_of, work)}
            pf_params = {k: v for k, v in optional.items() if k in _declared(pf_nb, OPTIONAL_PARAMETERS)}
            pf_task = _Task("portfolio", str(folder.resolve()), "portfolio", str(pf_nb),
                            {"folder": str(folder.resolve()), **common, **pf_params}, str(out_abs), as_of, scenario,
                            pdf, timeout, footer)
            recs += _run_all([pf_task], 1, None, bar, worker_timeout)
        hist.collect(recs)
        for r in recs:
            r.pop("review", None)
            r.pop("records", None)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    case_recs = sorted((r for r in recs if r["kind"] == "case"), key=lambda r: r["source"])
    pf_rec = next((r for r in recs if r["kind"] == "portfolio"), None)
    _assign_names(case_recs)
    for i, r in enumerate(case_recs):
        _place_case(r, out_abs)
        if i == len(case_recs) // 2:
            _pause_for_tests("placing")
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

    # The quarter is recorded before the manifest and the switch: a kill before this line leaves the
    # history as it was; after it, the history holds the quarter and OUT may still show the previous
    # run until the switch — re-running replaces the quarter (a revision row) and switches OUT.
    history_info = hist.record(as_of, run_id, started, {"folder": str(folder), "as_of": as_of, "scenario": scenario,
                                                        "seed": int(seed), "annual_budget": annual_budget})
    seconds = round(time.perf_counter() - t_start, 3)
    n_failed = sum(r["status"] != "ok" for r in case_recs) + (pf_rec is not None and pf_rec["status"] != "ok")
    manifest = {
        "tool": "vmo-workbench", "version": __version__, "run_id": run_id, "python": platform.python_version(),
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
        "history": history_info,
    }
    atomic_write_text(out_abs / "manifest.json",
                      json.dumps(manifest, indent=2, default=str, allow_nan=False) + "\n")
    index_html = render_index(
        [_index_entry(r) for r in case_recs], as_of=as_of, source=str(folder),
        portfolio=_index_entry(pf_rec) if pf_rec else None, footer=footer, movement=_index_movement(hist, as_of))
    atomic_write_text(out_abs / "index.html", index_html)
    for leftover in [*out_abs.glob(".tmp-*"), *out_abs.glob(".work-*")]:  # e.g. a task Dask ran twice
        _remove(leftover)
    summary = {"packs": len(recs), "failed": int(n_failed), "seconds": seconds, "index": str(out / "index.html"),
               "run_id": run_id}
    return ReviewResult(out=out, index=out / "index.html", manifest=out / "manifest.json",
                        cases=[_manifest_row(r) for r in case_recs],
                        portfolio=_manifest_row(pf_rec) if pf_rec else None, seconds=seconds), bar, summary




_MANIFEST_KEYS = ("case_id", "title", "source", "sha256", "safe_id", "status", "step", "error", "issues",
                  "partial_output", "verdict", "rag", "decision", "decision_reason", "seconds", "outputs", "basis")


def _index_movement(hist: _History, as_of: str) -> dict[str, Any] | None:
    """The index's movement cell per case (:func:`vmo_lib.outputs.movement.index_movement_cells`): the
    history's earlier quarters plus this quarter's records; None without a history."""
    if hist.path is None or not hist.records:
        return None
    from vmo_lib.history.movement import concat_frames
    from vmo_lib.outputs.movement import index_movement_cells

    earlier = {t: df[df["quarter"] < as_of] for t, df in hist.frames.items() if df is not None}
    return index_movement_cells(concat_frames([earlier, *hist.records]), as_of)


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

