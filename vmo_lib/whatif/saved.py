"""Named what-if scenarios saved beside a case, in ``<case stem>.scenarios.xlsx``.

A challenge session ends with a few named settings worth keeping ("board challenge: 2Q late,
cloud +30%"). They are saved to a small workbook **beside** the submitted one, never into it
(ARCHITECTURE.md principle 7: inputs are immutable), so the batch review can show them in the
pack and a later session can load them back.

File layout: one sheet ``Scenarios``; row 1 is the header (``name``, ``scenario`` — the base
scenario — then every control of :class:`vmo_lib.analysis.scenarios.WhatIf`, in order), then one row per
scenario. A loaded scenario is a :class:`vmo_lib.whatif.engine.WhatIfSettings` whose ``what_if.name`` is
its name, so the batch review can apply it with
``apply_what_if(case, s.what_if, s.scenario)`` like any other what-if. Scenario names
are user text: a name starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
written with a leading single quote so Excel never evaluates it (OWASP guidance), and the quote
is removed again on load. The file is replaced atomically on every save.

Examples
--------
>>> import pathlib, tempfile
>>> from vmo_lib.whatif.engine import WhatIfSettings
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> case_path = folder / "CRM-2026.xlsx"
>>> _ = case_path.write_bytes(b"submitted workbook")  # never touched
>>> save_scenario(case_path, "Board: 2Q late", WhatIfSettings().replace(delay_periods=2))
PosixPath('...CRM-2026.scenarios.xlsx')
>>> s = load_scenarios(case_path)["Board: 2Q late"]
>>> s.scenario, s.what_if.delay_periods, s.what_if.name
('baseline', 2, 'Board: 2Q late')
>>> case_path.read_bytes()
b'submitted workbook'
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vmo_lib.analysis.scenarios import WhatIf
from vmo_lib.errors import WorkbookError
from vmo_lib.whatif.engine import WHAT_IF_CONTROLS, WhatIfSettings

__all__ = [
    "SCENARIO_SHEET",
    "delete_scenario",
    "load_scenarios",
    "save_scenario",
    "scenarios_path",
]

#: Name of the only sheet of a scenarios file.
SCENARIO_SHEET = "Scenarios"
#: Suffix that replaces ``.xlsx`` of the case workbook.
SCENARIO_SUFFIX = ".scenarios.xlsx"
#: Longest scenario name accepted (Excel shows it in a cell; keep it a label, not an essay).
MAX_NAME_LENGTH = 80
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def scenarios_path(case_path: str | os.PathLike[str]) -> Path:
    """The scenarios file that belongs to a case workbook: ``<folder>/<stem>.scenarios.xlsx``.

    The name is derived from the workbook's file name (never from the case id, which is workbook
    text), so it always stays in the case's folder.

    >>> scenarios_path("data/sample/ERP-2025.xlsx").as_posix()
    'data/sample/ERP-2025.scenarios.xlsx'
    """
    p = Path(case_path)
    if p.name.endswith(SCENARIO_SUFFIX):
        raise WorkbookError(p, "is a saved-scenarios file, not a business-case workbook")
    return p.with_name(p.stem + SCENARIO_SUFFIX)


def _columns() -> dict[str, str]:
    """Setting column → its type as written in the dataclass (``"float | None"``...)."""
    types = {f.name: str(f.type) for f in dataclasses.fields(WhatIf)}
    return {"scenario": "str", **{k: types[k] for k in WHAT_IF_CONTROLS}}


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a scenario needs a name (some text)")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"a scenario name has at most {MAX_NAME_LENGTH} characters, got {len(name)}")
    if any(ord(ch) < 32 and ch not in "\t" for ch in name):
        raise ValueError("a scenario name cannot contain line breaks or control characters")
    return name


def _neutralise(text: str) -> str:
    """Text Excel shows as typed, never as a formula (a leading quote; removed by :func:`_restore`)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _restore(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def load_scenarios(case_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Named scenarios saved beside a case, in the order they were saved.

    Parameters
    ----------
    case_path : path-like
        The submitted case workbook (only its name and folder are used).

    Returns
    -------
    dict of str to WhatIfSettings
        Empty when no scenario was saved yet.

    Raises
    ------
    WorkbookError
        When the scenarios file exists but is not a safe workbook
        (:func:`vmo_lib.intake.safety.check_workbook_file`) or cannot be read, naming the file, sheet
        and cell and what was expected there.

    Examples
    --------
    >>> load_scenarios("/nonexistent/CASE.xlsx")
    {}
    """
    path = scenarios_path(case_path)
    if not path.exists():
        return {}
    import openpyxl

    from vmo_lib.intake.safety import check_workbook_file

    # Anyone who can drop a file in a case folder can drop a <case>.scenarios.xlsx: the same
    # gatekeeper as a submitted workbook (not a workbook, encrypted, zip or XML bomb) runs first.
    check_workbook_file(path)
    fields = _columns()
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one clear WorkbookError
        raise WorkbookError(path, f"cannot be read as a saved-scenarios workbook ({type(exc).__name__}: {exc})") from exc
    try:
        if SCENARIO_SHEET not in wb.sheetnames:
            raise WorkbookError(path, f"has no sheet {SCENARIO_SHEET!r} (found {wb.sheetnames})")
        rows = list(wb[SCENARIO_SHEET].iter_rows(values_only=True))
    finally:
        wb.close()
    if not rows:
        return {}
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    if not header or header[0] != "name":
        raise WorkbookError(path, f"{SCENARIO_SHEET}!A1 should be 'name', found {header[:1]}")
    unknown = [h for h in header[1:] if h and h not in fields]
    if unknown or "scenario" not in header:
        unknown = unknown or ["(no 'scenario' column)"]
        raise WorkbookError(path, f"{SCENARIO_SHEET} row 1 has unknown setting column(s) {unknown}; "
                                  f"expected some of {list(fields)}")
    from openpyxl.utils import get_column_letter

    out: dict[str, Any] = {}
    for r, row in enumerate(rows[1:], start=2):
        if row is None or all(v is None or v == "" for v in row):
            continue
        name_cell = row[0]
        if not isinstance(name_cell, str) or not name_cell.strip():
            raise WorkbookError(path, f"{SCENARIO_SHEET}!A{r}: expected the scenario's name (text), found {name_cell!r}")
        values: dict[str, Any] = {}
        for c, key in enumerate(header[1:], start=1):
            if not key:
                continue
            raw = row[c] if c < len(row) else None
            where = f"{SCENARIO_SHEET}!{get_column_letter(c + 1)}{r}"
            values[key] = _parse_setting(path, where, key, raw, fields[key])
        name = _restore(name_cell.strip())
        try:
            out[name] = WhatIfSettings.from_dict(values, name=name)
        except (TypeError, ValueError) as exc:
            raise WorkbookError(path, f"{SCENARIO_SHEET} row {r}: {exc}") from exc
    return out


def _parse_setting(path: Path, where: str, key: str, raw: Any, kind: str) -> Any:
    if raw is None or raw == "":
        if "None" in kind:
            return None
        raise WorkbookError(path, f"{where}: {key} is empty; expected a value")
    if "bool" in kind:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("yes", "true", "no", "false"):
            return raw.strip().lower() in ("yes", "true")
        raise WorkbookError(path, f"{where}: {key} should be yes/no (TRUE/FALSE), found {raw!r}")
    if "str" in kind:
        return _restore(str(raw).strip())
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise WorkbookError(path, f"{where}: {key} should be a number, found {raw!r}")
    if "int" in kind and "float" not in kind:
        if float(raw) != int(raw):
            raise WorkbookError(path, f"{where}: {key} should be a whole number of periods, found {raw!r}")
        return int(raw)
    return float(raw)


def _as_settings(settings: Any) -> Any:
    if isinstance(settings, WhatIfSettings):
        return settings
    if isinstance(settings, Mapping):
        return WhatIfSettings.from_dict(settings)
    raise TypeError(f"settings must be a WhatIfSettings or a mapping, not {type(settings).__name__}")


def save_scenario(case_path: str | os.PathLike[str], name: str, settings: Any) -> Path:
    """Save (or replace) one named scenario in the case's scenarios file.

    Parameters
    ----------
    case_path : path-like
        The submitted case workbook; it is never opened for writing.
    name : str
        The scenario's name (user text, at most :data:`MAX_NAME_LENGTH` characters). Saving an
        existing name replaces that scenario in place.
    settings : WhatIfSettings or mapping
        The what-if settings.

    Returns
    -------
    pathlib.Path
        The scenarios file written (atomically: a temporary file in the same folder, then
        ``os.replace``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "X.xlsx"
    >>> save_scenario(p, "=HYPERLINK(1)", {"cost_overrun": 0.3}).name
    'X.scenarios.xlsx'
    >>> list(load_scenarios(p))
    ['=HYPERLINK(1)']
    """
    name = _check_name(name)
    settings = _as_settings(settings)
    scenarios = load_scenarios(case_path)
    scenarios[name] = settings
    return _write(scenarios_path(case_path), scenarios)


def delete_scenario(case_path: str | os.PathLike[str], name: str) -> Path:
    """Remove one named scenario (a ``KeyError`` if there is none of that name).

    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "X.xlsx"
    >>> _ = save_scenario(p, "a", {}); _ = save_scenario(p, "b", {"delay_periods": 1})
    >>> _ = delete_scenario(p, "a"); list(load_scenarios(p))
    ['b']
    """
    scenarios = load_scenarios(case_path)
    del scenarios[name]
    return _write(scenarios_path(case_path), scenarios)


def _write(path: Path, scenarios: Mapping[str, Any]) -> Path:
    import openpyxl
    from openpyxl.styles import Font

    keys = list(_columns())
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SCENARIO_SHEET
    ws.append(["name", *keys])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for name, s in scenarios.items():
        row = [_neutralise(name)]
        values = s.to_dict()
        for k in keys:
            v = values[k]
            row.append(_neutralise(v) if isinstance(v, str) else v)
        ws.append(row)
    for r in ws.iter_rows(min_row=2):
        for cell in r:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # belt and braces: never a formula cell
    ws.column_dimensions["A"].width = 32
    ws.freeze_panes = "B2"
    # Fixed document times: saving the same scenarios twice gives the same content.
    import datetime as dt

    wb.properties.created = wb.properties.modified = dt.datetime(2000, 1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".~scenarios-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
