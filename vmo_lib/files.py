"""Files the workbench writes: safe names, safe paths, atomic writes, the notebooks' results file.

A case id is never used as a path: :func:`safe_id` turns it into a short, portable file name and
:func:`safe_child` refuses any path that would land outside the output folder. Every output file is
written through :func:`atomic_write_bytes` (a temp file in the same folder, then :func:`os.replace`),
so a reader never sees half a file.

>>> safe_id("CRM-2026")
'CRM-2026'
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_FILE", "atomic_write_bytes", "atomic_write_text", "read_results", "safe_child", "safe_id",
           "write_results"]

#: Name of the JSON results file a review notebook writes beside itself (scrapbook's job).
RESULTS_FILE = "results.json"

_SAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}


# --- safe names and paths ---------------------------------------------------------------------------
def safe_id(case_id: object, max_len: int = 40) -> str:
    """A file-name-safe, collision-proof form of a case id.

    Keeps ``[A-Za-z0-9._-]``, drops leading dots/dashes (no hidden files, no ``..``), avoids the
    Windows device names (``CON``, ``NUL``, ``COM1``...) and caps the length. Whenever the id had
    to change, a short hash of the original id is appended, so two ids that sanitise to the same
    text still get different names.

    Parameters
    ----------
    case_id : object
        The id as typed in the workbook (untrusted).
    max_len : int, default 40
        Longest name returned (at least 16).

    Returns
    -------
    str

    Examples
    --------
    >>> safe_id("CRM-2026")
    'CRM-2026'
    >>> safe_id("a/b") == safe_id("a/b") != safe_id("a_b")
    True
    >>> safe_id("../x").startswith("x-")
    True
    >>> len(safe_id("x" * 500)) <= 40
    True
    """
    max_len = max(int(max_len), 16)
    text = str(case_id)
    name = _SAFE_RUN.sub("_", text).lstrip("._-").rstrip(". ")
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = "case_" + name
    if name == text and 0 < len(name) <= max_len:
        return name
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    stem = (name or "case")[: max_len - 9].rstrip(". ")
    return f"{stem}-{digest}"


def safe_child(root: str | os.PathLike[str], *parts: str) -> Path:
    """``root/parts...`` resolved, refusing anything that escapes ``root``.

    Parameters
    ----------
    root : path
        The output folder.
    *parts : str
        Path components (already passed through :func:`safe_id` when they come from a workbook).

    Raises
    ------
    ValueError
        If the resolved path is ``root`` itself or lies outside it.

    Examples
    --------
    >>> safe_child("/tmp/out", "cases", "A1").as_posix()
    '/tmp/out/cases/A1'
    >>> safe_child("/tmp/out", "..", "x")
    Traceback (most recent call last):
    ValueError: '../x' would leave the output folder /tmp/out
    """
    base = Path(root).resolve()
    target = base.joinpath(*parts).resolve()
    if target == base or not target.is_relative_to(base):
        raise ValueError(f"{'/'.join(parts)!r} would leave the output folder {base}")
    return target


# --- atomic files -------------------------------------------------------------------------------------
def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then :func:`os.replace`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write_bytes(p, b"hi").read_bytes()
    b'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; see :func:`atomic_write_bytes`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "a.txt", "é").read_text("utf-8")
    'é'
    """
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_results(out_dir: str | os.PathLike[str], results: Mapping[str, Any]) -> Path | None:
    """Save a notebook's machine-readable results as ``out_dir/results.json`` (atomically).

    The batch runner reads this file to fill the index and the manifest. With an empty
    ``out_dir`` (the notebook opened interactively) nothing is written and None is returned.
    NaN and infinities become ``null``; keys are sorted so two runs give identical bytes.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> read_results(write_results(d, {"npv": float("nan"), "case_id": "A"}))
    {'case_id': 'A', 'npv': None}
    >>> write_results("", {"a": 1}) is None
    True
    """
    if not out_dir:
        return None
    text = json.dumps(_json_ready(results), indent=2, sort_keys=True, allow_nan=False, default=str)
    return atomic_write_text(Path(out_dir) / RESULTS_FILE, text + "\n")


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a results file written by :func:`write_results` (a folder or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    return json.loads(path.read_text("utf-8"))


def _json_ready(o: Any) -> Any:
    if isinstance(o, Mapping):
        return {str(k): _json_ready(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_json_ready(v) for v in o]
    if hasattr(o, "item") and not isinstance(o, (str, bytes)):  # numpy scalars
        try:
            o = o.item()
        except (TypeError, ValueError):
            return str(o)
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


# --- formatting (vmo_lib.formatting: one format for charts, sentences, tables and the CLI) ----------------
