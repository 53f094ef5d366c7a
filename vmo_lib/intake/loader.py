"""Import: a submitted workbook (or a folder of them) becomes a validated :class:`BusinessCase`.

The pipeline of :func:`load_case` is file check (:func:`vmo_lib.intake.safety.check_workbook_file`) →
reader (:func:`vmo_lib.intake.workbook.read_workbook`) → rules (:func:`vmo_lib.intake.validation.check_workbook`)
→ the tidy model (:mod:`vmo_lib.model`). Errors stop the import with one
:class:`~vmo_lib.errors.ValidationError` carrying the whole issues table; warnings travel with the
case in ``case.issues``. Workbooks are only ever read.

Examples
--------
>>> import tempfile, pathlib
>>> from vmo_lib.model import make_case
>>> from vmo_lib.intake.template import write_case_workbook
>>> case = make_case({"case_id": "X1", "title": "Demo", "sponsor": "CFO", "strategic_objective": "Save",
...                   "org_unit": "Finance", "approval_date": "2025-12-01", "horizon": 4},
...                  costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [100]}])
>>> path = write_case_workbook(case, pathlib.Path(tempfile.mkdtemp()) / "x1.xlsx")
>>> loaded = load_case(path, as_of="2026Q3")
>>> loaded.case_id, loaded.net_flow().tolist()
('X1', [-100.0, 0.0, 0.0, 0.0])
>>> loaded.issues["rule"].tolist()
['case.no_benefits']
"""

from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib import schema
from vmo_lib.errors import ValidationError, WorkbookError
from vmo_lib.intake.benefit_map import benefit_map_of
from vmo_lib.intake.validation import (
    ISSUE_COLUMNS,
    CheckedWorkbook,
    check_workbook,
    duplicate_rows,
    rebaseline_carry_over,
    rebaseline_order,
    resolve_as_of,
)
from vmo_lib.intake.workbook import read_workbook
from vmo_lib.model import FLOW_COLUMNS, LINE_COLUMNS, BusinessCase, Portfolio, normalise_flows
from vmo_lib.periods import period_offset, period_range, review_period

__all__ = [
    "WORKBOOK_SUFFIXES",
    "check_case_file",
    "duplicate_case_ids",
    "load_case",
    "load_portfolio",
    "load_portfolio_with",
    "validate_workbook",
    "workbook_files",
]

#: File endings read as business-case workbooks.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")

def workbook_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The workbooks of a folder, sorted by name: ``*.xlsx``/``*.xlsm``, no Excel lock files
    (``~$...``), no hidden files, no sub-folders, no saved what-if scenarios
    (``<case>.scenarios.xlsx``, :mod:`vmo_lib.whatif.saved`).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for n in ("b.xlsx", "a.XLSM", "~$b.xlsx", ".hidden.xlsx", "notes.txt", "b.scenarios.xlsx"):
    ...     _ = (d / n).write_bytes(b"")
    >>> [p.name for p in workbook_files(d)]
    ['a.XLSM', 'b.xlsx']
    """
    d = Path(folder)
    if not d.is_dir():
        raise WorkbookError(d, "not a folder" if d.exists() else "no such folder")
    return sorted(
        (p for p in d.iterdir()
         if p.suffix.lower() in WORKBOOK_SUFFIXES and not p.name.startswith(("~$", "."))
         and not p.name.lower().endswith(".scenarios.xlsx") and p.is_file()),
        key=lambda p: p.name,
    )


def _inspect(path: str | os.PathLike[str], as_of: object) -> tuple[CheckedWorkbook, str, list[str]]:
    """File check, read and rules; returns the checked workbook, the file's SHA-256 and its sheet names."""
    # The file check comes first: nothing parses a file it refuses (zip bombs, encrypted, .xls...).
    from vmo_lib.intake.safety import check_workbook_file  # lazy: keeps `import vmo_lib` light

    p = Path(path)
    warnings = check_workbook_file(p)
    try:
        with open(p, "rb") as fh:  # read-only, once: the same bytes are hashed and parsed
            data = fh.read()
    except OSError as exc:
        raise WorkbookError(p, f"cannot open the file ({exc.strerror or exc})") from None
    raw = read_workbook(data, path=str(p))
    checked = check_workbook(raw, as_of=as_of, file_warnings=warnings)
    return checked, hashlib.sha256(data).hexdigest(), list(raw.sheet_names)


def validate_workbook(path: str | os.PathLike[str], as_of: object = None) -> pd.DataFrame:
    """Every issue of one workbook (errors and warnings) and of its filled returns.

    A case workbook is checked by every rule, then its returns (``<stem>.returns/`` beside it,
    :func:`vmo_lib.intake.returns.find_returns`) against it, each issue naming its own file. A
    filled actuals return (a ``Return`` sheet, no ``Case`` sheet) is checked as a return: against
    its case when it sits in a case's ``.returns`` folder, else on its own. See :func:`check_case_file`.

    Parameters
    ----------
    path : str or path-like
        The workbook.
    as_of : str or date, optional
        Review quarter such as ``"2026Q3"`` (default: today's quarter).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`vmo_lib.intake.validation.ISSUE_COLUMNS`.

    Raises
    ------
    WorkbookError
        The file cannot be read as a workbook at all.

    Examples
    --------
    >>> import tempfile, pathlib, openpyxl
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "empty.xlsx"
    >>> openpyxl.Workbook().save(p)
    >>> validate_workbook(p, as_of="2026Q3")[["sheet", "rule"]].values.tolist()
    [['Case', 'workbook.missing_sheet'], ['Costs', 'workbook.missing_sheet'], ['Benefits', 'workbook.missing_sheet']]
    """
    return check_case_file(path, as_of)[0]


def check_case_file(path: str | os.PathLike[str], as_of: object = None) -> tuple[pd.DataFrame, str | None, str]:
    """What ``vmo validate`` needs of one file: its issues (and its returns'), its case id and that id's cell.

    Returns
    -------
    issues : pandas.DataFrame
        Columns :data:`vmo_lib.intake.validation.ISSUE_COLUMNS`; the returns' issues follow the
        workbook's.
    case_id : str or None
        None for a return or when the id could not be read.
    cell : str
        The Case-sheet cell of the case id (``"B4"``), "" when unknown.

    Raises
    ------
    WorkbookError
        The file cannot be read as a workbook at all, or a return file is not a readable return.
    """
    from vmo_lib.intake.returns import check_returns, find_returns, validate_return

    as_of = resolve_as_of(as_of)
    checked, _, names = _inspect(path, as_of)
    if _is_return(names):
        return _check_return_file(Path(path), as_of), None, ""
    issues = checked.issues
    paths = find_returns(path)
    if paths:
        case = _draft_case(checked, path)
        if case is not None:
            more = [check_returns(case, paths, as_of=checked.as_of)]
        else:  # the case cannot be built: each return on its own, so its own problems still show
            more = []
            for p in paths:
                try:
                    more.append(validate_return(p))
                except WorkbookError as exc:
                    more.append(pd.DataFrame([{"file": str(p), "sheet": "", "cell": "", "field": "",
                                               "rule": "return.unreadable", "message": exc.reason,
                                               "severity": "error"}], columns=list(ISSUE_COLUMNS)))
        issues = pd.concat([issues, *[m for m in more if len(m)]], ignore_index=True)
    return issues, checked.meta.get("case_id"), checked.cells.get("case_id", "")


def _is_return(sheet_names: list[str]) -> bool:
    """A filled actuals return: a ``Return`` sheet and no ``Case`` sheet."""
    from vmo_lib.intake.returns import FORM_SHEET

    lower = {n.strip().lower() for n in sheet_names}
    return FORM_SHEET.lower() in lower and "case" not in lower


def _draft_case(checked: CheckedWorkbook, path: str | os.PathLike[str]) -> BusinessCase | None:
    """The case as far as it can be built (as ``load_case(strict=False)``), or None."""
    if not _buildable(checked):
        return None
    try:
        case = build_case(checked)
    except Exception:  # noqa: BLE001 - a draft for checking returns only; the workbook's issues say why
        return None
    case.source = str(path)
    return case


def _check_return_file(path: Path, as_of: str) -> pd.DataFrame:
    """A return on its own; against its case when it is in ``<stem>.returns/`` beside ``<stem>.xlsx``."""
    from vmo_lib.intake.returns import RETURNS_SUFFIX, validate_return

    folder = path.parent
    if folder.name.endswith(RETURNS_SUFFIX):
        stem = folder.name[: -len(RETURNS_SUFFIX)]
        for suffix in WORKBOOK_SUFFIXES:
            case_path = folder.parent / (stem + suffix)
            if case_path.is_file():
                try:
                    case = _draft_case(_inspect(case_path, as_of)[0], case_path)
                except WorkbookError:
                    case = None
                if case is not None:
                    return validate_return(path, case, as_of=as_of)
    return validate_return(path)


def duplicate_case_ids(entries: Iterable[Any]) -> dict[int, pd.DataFrame]:
    """The entries whose case id an earlier entry already uses, compared case-insensitively.

    Case ids name files and folders (and ``CRM-2025`` and ``crm-2025`` are one folder on Windows
    and macOS), so two workbooks whose ids differ only in upper/lower case are duplicates. The
    first entry keeps its id; each later one gets an error ``portfolio.duplicate_case_id`` naming
    both files. ``vmo validate FOLDER``, :func:`load_portfolio` and the batch all use this function.

    Parameters
    ----------
    entries : iterable
        In order, each a :class:`~vmo_lib.model.BusinessCase` (its ``source`` and ``case_id``; the
        cell is the template's case-id cell) or a ``(path, case_id, cell)`` tuple; a None case id
        is skipped.

    Returns
    -------
    dict of int to pandas.DataFrame
        Position of each duplicate entry → its issues table (one row, on the Case sheet).

    Examples
    --------
    >>> d = duplicate_case_ids([("a/CRM.xlsx", "CRM-2025", "B4"), ("a/b.xlsx", "X", "B4"),
    ...                         ("a/crm.xlsx", "crm-2025", "B4")])
    >>> list(d), d[2].loc[0, "message"]
    ([2], "case id 'crm-2025' in crm.xlsx is already used by CRM.xlsx (as 'CRM-2025'); case ids are compared ignoring upper/lower case (they name files and folders): expected a case id no other workbook of the folder uses")
    """
    from vmo_lib import schema

    default_cell = f"B{schema.CASE_FIRST_ROW + [c.key for c in schema.CASE_FIELDS].index('case_id')}"
    seen: dict[str, tuple[str, str]] = {}
    out: dict[int, pd.DataFrame] = {}
    for i, e in enumerate(entries):
        if isinstance(e, BusinessCase):
            path, cid, cell = e.source, e.case_id, default_cell
        else:
            path, cid, cell = e
        if cid is None:
            continue
        key = str(cid).casefold()
        if key not in seen:
            seen[key] = (str(path), str(cid))
            continue
        first_path, first_id = seen[key]
        if _same_file(first_path, str(path)):
            continue  # the same workbook named twice is not a second case
        as_first = "" if first_id == cid else f" (as {first_id!r})"
        msg = (f"case id {cid!r} in {Path(str(path)).name} is already used by {Path(first_path).name}{as_first}; case ids "
               "are compared ignoring upper/lower case (they name files and folders): expected a case id no other "
               "workbook of the folder uses")
        out[i] = pd.DataFrame([{"file": str(path), "sheet": "Case", "cell": cell or default_cell, "field": "case_id",
                                "rule": "portfolio.duplicate_case_id", "message": msg, "severity": "error"}],
                              columns=list(ISSUE_COLUMNS))
    return out


def _same_file(a: str, b: str) -> bool:
    try:
        return a == b or Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def load_case(path: str | os.PathLike[str], as_of: object = None, strict: bool = True) -> BusinessCase:
    """Read, validate and return one business case.

    Parameters
    ----------
    path : str or path-like
        A ``.xlsx``/``.xlsm`` workbook in the template layout. It is opened read-only.
    as_of : str or date, optional
        Review quarter (``"2026Q3"``): actuals and returns for later periods are left out with a
        warning (an earlier quarter reviewed after later returns), errors when after today's quarter
        too. Default: today's quarter.
    strict : bool, default True
        Raise on any error. With ``False`` the case is built from what could be read (lines and
        values with errors are left out) and the errors join the warnings in ``case.issues`` — for
        showing an author a draft, never for a review.

    Returns
    -------
    BusinessCase
        ``meta`` typed (dates ``datetime.date``, numbers ``int``/``float``, periods canonical
        labels), tidy ``lines``/``flows`` (scenarios ``baseline``, ``actual``, ``forecast``,
        ``rebaseline:<version>``), the warnings in ``issues``, ``source`` and ``sha256`` of the file.

    Raises
    ------
    WorkbookError
        The file cannot be read as a workbook at all.
    ValidationError
        The workbook breaks one or more rules; ``.issues`` holds every issue found.

    Examples
    --------
    See the module docstring.
    """
    return _load(path, as_of, strict)[0]


def _load(path: str | os.PathLike[str], as_of: object, strict: bool) -> tuple[BusinessCase, CheckedWorkbook]:
    checked, sha, _ = _inspect(path, as_of)
    issues = checked.issues
    if checked.has_errors and (strict or not _buildable(checked)):
        raise ValidationError(path, issues)
    if strict:  # the warnings (positions taken from the column's array: no boolean Series)
        issues = issues.take(np.flatnonzero(issues["severity"].to_numpy() == "warning")).reset_index(drop=True)
    case = build_case(checked)
    case.issues = issues
    case.source = str(path)
    case.sha256 = sha
    # --- filled actuals returns in <workbook stem>.returns/ (vmo_lib.intake.returns, issue 4): merged into
    # the actuals; a conflict, unknown line, later period or other case raises ValidationError
    # naming the return's file and cell. No folder, no change.
    from vmo_lib.intake.returns import find_returns, merge_returns

    case = merge_returns(case, find_returns(path), as_of=checked.as_of)
    return case, checked


def _buildable(checked: CheckedWorkbook) -> bool:
    m = checked.meta
    return all(m.get(k) is not None for k in ("case_id", "first_period", "period_length", "horizon"))


def build_case(checked: CheckedWorkbook) -> BusinessCase:
    """Assemble the :class:`BusinessCase` from a checked workbook (typed values → tidy tables)."""
    meta = dict(checked.meta)
    case_id = str(meta["case_id"])
    periods = period_range(meta["first_period"], int(meta["horizon"]), meta["period_length"])
    if meta.get("go_live_period") is None:
        meta["go_live_period"] = meta["first_period"]

    # Columns are accumulated as numpy arrays and turned into one DataFrame each: the tables
    # can hold tens of thousands of flows, and per-scenario frames + concat cost more than the rest.
    line_parts: list[pd.DataFrame] = []
    cols: dict[str, list[np.ndarray]] = {c: [] for c in FLOW_COLUMNS}

    def add_flows(line_id, kind, period, t, scenario, amount, kpi_value=None, comment=None, evidence=None,
                  evidence_source=None) -> None:
        n = len(t)
        cols["line_id"].append(np.asarray(line_id, dtype=object))
        cols["kind"].append(np.asarray(kind, dtype=object) if not isinstance(kind, str) else _filled(n, kind))
        cols["period"].append(np.asarray(period, dtype=object))
        cols["t"].append(np.asarray(t, dtype=np.int64))
        cols["scenario"].append(np.asarray(scenario, dtype=object) if not isinstance(scenario, str)
                                else _filled(n, scenario))
        cols["amount"].append(np.asarray(amount, dtype=float))
        cols["kpi_value"].append(np.full(n, np.nan) if kpi_value is None else np.asarray(kpi_value, dtype=float))
        cols["comment"].append(_filled(n, None) if comment is None else np.asarray(comment, dtype=object))
        cols["evidence"].append(_filled(n, None) if evidence is None else np.asarray(evidence, dtype=object))
        cols["evidence_source"].append(_filled(n, None) if evidence_source is None
                                       else np.asarray(evidence_source, dtype=object))

    period_labels = np.asarray(periods, dtype=object)
    for sheet, kind in (("Costs", "cost"), ("Benefits", "benefit")):
        cols_in = checked.lines.get(sheet)
        if cols_in is None or not len(cols_in["row"]):
            continue
        ts, nums = checked.amounts[sheet]
        ok = ~pd.isna(cols_in["line_id"])
        ids = cols_in["line_id"][ok]
        part = {c: cols_in[c][ok] for c in LINE_COLUMNS if c in cols_in}
        part["case_id"], part["kind"] = _filled(len(ids), case_id), _filled(len(ids), kind)
        line_parts.append(part)
        if len(ts) and nums.size:
            m = nums[ok]
            r, c = np.nonzero(~np.isnan(m))
            t = np.asarray(ts, dtype=np.int64)[c]
            add_flows(ids[r], kind, period_labels[t], t, "baseline", m[r, c])
    lines = _lines_frame(line_parts)

    horizon = len(periods)
    for sheet, scenario in (("Actuals", "actual"), ("Forecast", "forecast"), ("KPI plan", "kpi plan"),
                            ("Baselines", None)):
        d = checked.long.get(sheet)
        if d is None or not len(d["row"]):
            continue
        t = d["t"]
        usable = ~pd.isna(d["kind"]) & (t >= 0) & (t < horizon)
        if sheet == "KPI plan":  # a trajectory belongs to a benefit; one value per period and line
            usable &= (d["kind"] == "benefit") & ~duplicate_rows(d)[0]
        amount = d["amount"].astype(float) if "amount" in d else np.full(len(t), np.nan)
        kpi = d["kpi_value"].astype(float) if "kpi_value" in d else None
        usable &= ~np.isnan(amount) if kpi is None else ~(np.isnan(amount) & np.isnan(kpi))
        if scenario is None:
            usable &= ~pd.isna(d["version"])
        if sheet == "Actuals":  # identical repeats are a warning; keep the first
            usable &= ~duplicate_rows(d)[0]
            if checked.as_of:  # actuals after the review date (an earlier quarter reviewed later): left out
                rp = review_period(checked.as_of, meta["period_length"], like=meta["first_period"])
                usable &= t <= period_offset(rp, meta["first_period"], meta["period_length"])
        idx = np.nonzero(usable)[0]
        scen = scenario if scenario else np.array([f"rebaseline:{v}" for v in d["version"][idx]], dtype=object)
        add_flows(d["line_id"][idx], d["kind"][idx], d["period"][idx], t[idx], scen, amount[idx],
                  None if kpi is None else kpi[idx], d["comment"][idx] if "comment" in d else None,
                  d["evidence"][idx] if "evidence" in d else None,
                  d["evidence_source"][idx] if "evidence_source" in d else None)
    data = {c: np.concatenate(v) if v else np.empty(0, dtype=object) for c, v in cols.items()}
    data["case_id"] = _filled(len(data["t"]), case_id)
    # Amount units (Case field): every amount cell counts thousands or millions when the Case sheet says
    # so. From here on the case is in units of its currency (meta "units" says so; the entered units
    # are kept in "units_entered"), so a case written back to a workbook is not multiplied twice.
    scale = schema.UNIT_SCALE.get(meta.get("units") or "units", 1.0)
    meta["units_entered"] = meta.get("units") or "units"
    meta["units"] = "units"
    if scale != 1.0:
        data["amount"] = data["amount"].astype(float) * scale
        if isinstance(meta.get("residual_value"), (int, float)):
            meta["residual_value"] = float(meta["residual_value"]) * scale
        for key in _AMOUNT_LINE_KEYS:
            if key in lines.columns:
                lines[key] = pd.to_numeric(lines[key], errors="coerce") * scale
    data = {c: _object_column(v) if v.dtype == object else v for c, v in data.items()}
    flows = _frame_of(data, FLOW_COLUMNS)  # a new frame, object columns as object
    if not (data["t"].dtype == np.int64 and data["amount"].dtype == data["kpi_value"].dtype == np.float64):
        flows = normalise_flows(flows)  # (no flows at all: empty object columns); else it would only copy
    bl = checked.long.get("Baselines")
    if bl is not None and len(bl["row"]):
        flows = _carry_over(flows, bl)

    versions: dict[str, dict[str, Any]] = {}
    bl = checked.long.get("Baselines")
    if bl is not None:
        for v, approved, reason in zip(bl["version"], bl["approved"], bl["reason"], strict=True):
            if v is None:
                continue
            if v not in versions:
                versions[v] = {"version": v, "approved": approved, "reason": reason}
            else:  # the first date and reason given on the version's rows (as validation reads them)
                for key, value in (("approved", approved), ("reason", reason)):
                    if versions[v][key] is None and value is not None:
                        versions[v][key] = value
    baselines = pd.DataFrame(list(versions.values()), columns=["version", "approved", "reason"])
    case = BusinessCase(meta=meta, lines=lines, flows=flows, baselines=baselines,
                        benefit_map=benefit_map_of(checked.long.get(schema.BENEFIT_MAP_SHEET)))
    # --- options of the economic case (column "Option", vmo_lib.intake.options): bau / do-minimum lines
    # are kept apart in case.options; with none stated the case is returned unchanged.
    from vmo_lib.intake.options import option_of_lines, split_options

    return split_options(case, option_of_lines(checked.lines))


def _lines_frame(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """The lines table of the Costs and Benefits parts (typed columns each): the frame that
    ``pd.concat([pd.DataFrame(part, columns=LINE_COLUMNS) for part in parts], ignore_index=True)``
    gives, with the same dtypes and values, built in one step.

    A frame per sheet and their concat cost about three times as much (pandas infers and combines
    every column twice). The dtype of a column is decided as pandas does: on its own, a part's
    object column of text (and blanks) becomes the ``str`` dtype (blanks NaN), any other object
    column stays object, and a column absent from a part is NaN (object); combined, equal dtypes
    are kept and ``str`` with object gives object (the text part's blanks NaN). Anything else
    (an empty part, a number column absent from a sheet) takes pandas' own path.
    """
    if not parts:
        return pd.DataFrame(columns=list(LINE_COLUMNS))
    sizes = [len(p["line_id"]) for p in parts]
    if min(sizes) == 0:
        return pd.concat([pd.DataFrame(p, columns=list(LINE_COLUMNS)) for p in parts], ignore_index=True)
    data: dict[str, Any] = {}
    for c in LINE_COLUMNS:
        arrays = [p.get(c) for p in parts]
        kinds = [_part_kind(a) for a in arrays]
        numeric = {k for k in kinds if k in ("float64", "int64")}
        if "other" in kinds or len(numeric) > 1:
            return pd.concat([pd.DataFrame(p, columns=list(LINE_COLUMNS)) for p in parts], ignore_index=True)
        if all(k == kinds[0] for k in kinds) and kinds[0] != "object":  # one dtype: numbers or text
            values = np.concatenate(arrays)
            data[c] = pd.array(values, dtype=_STR) if kinds[0] == "str" else values
            continue
        pieces = []  # mixed: object, each part's values as pandas holds them
        for a, k, n in zip(arrays, kinds, sizes, strict=True):
            if a is None:  # a column the sheet does not have: NaN
                a = _filled(n, np.nan)
            elif k == "str":  # the str dtype's blanks are NaN
                blank = pd.isna(a)
                if blank.any():
                    a = a.copy()
                    a[blank] = np.nan
            elif k != "object":
                a = a.astype(object)
            pieces.append(a)
        data[c] = np.concatenate(pieces)
    return _frame_of(data, LINE_COLUMNS)


def _frame_of(data: dict[str, Any], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of ``columns`` in which every object array of ``data`` stays an object column as
    it is (no text column turned into the ``str`` dtype) and every other array keeps its dtype.

    ``pd.DataFrame`` infers a dtype for each object array and a ``pd.Series(values, dtype=object)``
    per column costs an index alignment each; one two-dimensional object block does neither.
    """
    obj = [c for c in columns if isinstance(data[c], np.ndarray) and data[c].dtype == object]
    block = np.empty((len(obj), len(data[columns[0]])), dtype=object)
    for j, c in enumerate(obj):
        block[j] = data[c]
    frame = pd.DataFrame(block.T, columns=obj, dtype=object, copy=False)
    if len(obj) == len(columns):
        return frame
    taken = set(obj)
    others = [c for c in columns if c not in taken]
    frame = pd.concat([frame, pd.DataFrame({c: data[c] for c in others})], axis=1)
    at = {c: j for j, c in enumerate(obj + others)}
    return frame.take([at[c] for c in columns], axis=1)  # back in the order of columns


_STR = pd.StringDtype(na_value=np.nan)  # pandas' default "str" dtype


def _part_kind(a: np.ndarray | None) -> str:
    """How pandas types one part's column: ``"str"``, ``"object"``, the numpy dtype's name, or
    ``"other"`` for values pandas may convert (datetimes...), left to pandas."""
    if a is None:
        return "object"
    if a.dtype != object:
        return "float64" if a.dtype == np.float64 else "int64" if a.dtype == np.int64 else "other"
    inferred = pd.api.types.infer_dtype(a, skipna=True)
    if inferred == "string":
        return "str"
    # blanks, dates (datetime.date is kept as object), text mixed with other values
    return "object" if inferred in ("empty", "date", "mixed") else "other"


#: The money columns of a line (schema kind ``amount``): scaled with the workbook's Amount units.
_AMOUNT_LINE_KEYS = tuple(dict.fromkeys(c.key for sheet in ("Costs", "Benefits")
                                        for c in schema.TABLE_COLUMNS[sheet] if c.kind == "amount"))


def _carry_over(flows: pd.DataFrame, baselines: dict[str, np.ndarray]) -> pd.DataFrame:
    """Complete the re-baselines that carry unlisted lines over (``carry_over`` = yes).

    In approval order (:func:`~vmo_lib.intake.validation.rebaseline_order`), a line such a
    re-baseline does not list takes the flows of the baseline in force before it: the original
    (``baseline``) for the first, else the re-baseline approved just before (itself completed).
    So every ``rebaseline:<version>`` scenario holds a complete plan.
    """
    carry = rebaseline_carry_over(baselines)
    previous = "baseline"
    for v in rebaseline_order(baselines):
        scenario = f"rebaseline:{v}"
        if carry.get(v):
            scen = flows["scenario"].to_numpy(dtype=object)
            listed = set(baselines["line_id"][(baselines["version"] == v) & ~pd.isna(baselines["line_id"])])
            take = (scen == previous) & ~flows["line_id"].isin(listed).to_numpy()
            if take.any():
                extra = flows[take].copy()
                extra["scenario"] = scenario
                extra["comment"] = None
                flows = normalise_flows(pd.concat([flows, extra], ignore_index=True))
        previous = scenario
    return flows


def _object_column(values: np.ndarray) -> np.ndarray:
    """An object column's values as ``pd.Series(values).astype(object)`` gives them, without the round trip.

    pandas 3 reads an object array of text as its string dtype, where blanks (None) become NaN;
    a flows table keeps object columns (:func:`vmo_lib.model.normalise_flows`) built by
    :func:`_frame_of`, which keeps them as they are. Same values, a third of the time.
    """
    if pd.api.types.infer_dtype(values, skipna=True) == "string":
        blank = pd.isna(values)
        if blank.any():
            values = values.copy()
            values[blank] = np.nan
    return values


def _filled(n: int, value: object) -> np.ndarray:
    """An object array of ``n`` times ``value`` (10x faster than ``np.full`` for objects)."""
    a = np.empty(n, dtype=object)
    a.fill(value)
    return a


#: From this many workbooks (or cases), ``workers=None`` means worker processes.
AUTO_WORKERS_FROM = 50


def auto_workers(n_items: int, workers: int | None) -> int:
    """Worker processes to use for ``n_items`` independent items: ``workers`` when given, else
    ``min(4, usable CPUs)`` from :data:`AUTO_WORKERS_FROM` items on (1 below, and 1 inside a daemonic
    process, which may not start children)."""
    if workers is not None:
        return max(1, int(workers))
    if n_items < AUTO_WORKERS_FROM:
        return 1
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def _load_one(path: Path, as_of: object) -> tuple[BusinessCase | None, str, dict[str, Any] | None]:
    """One workbook of a portfolio: (case, cell of its case id, None) or (None, "", failure record).

    Top-level so worker processes can run it (:func:`load_portfolio` with ``workers``).
    """
    try:
        case, checked = _load(path, as_of, strict=True)
    except WorkbookError as exc:
        return None, "", {"path": str(path), "kind": "workbook", "error": exc.reason, "issues": None}
    except ValidationError as exc:
        return None, "", {"path": str(path), "kind": "validation", "error": str(exc).split(": ", 1)[-1],
                          "issues": exc.issues}
    except Exception as exc:  # noqa: BLE001 - one broken case must not sink the portfolio
        return None, "", {"path": str(path), "kind": "internal", "error": f"{type(exc).__name__}: {exc}",
                          "issues": None}
    return case, checked.cells.get("case_id", ""), None


def load_portfolio(folder: str | os.PathLike[str], as_of: object = None, workers: int | None = None) -> Portfolio:
    """Load every workbook of a folder; a workbook that fails is listed, never fatal.

    Parameters
    ----------
    folder : str or path-like
        Folder of ``.xlsx``/``.xlsm`` workbooks (see :func:`workbook_files` for which are read).
    as_of : str or date, optional
        Review quarter for every case (default: today's quarter).
    workers : int, optional
        Load in this many worker processes (1: in this process). Default: one per CPU (at most 4)
        from :data:`AUTO_WORKERS_FROM` workbooks on, else in this process. The result is the same,
        in the same order; on 2 idle cores two workers take about 0.6x the time of one.

    Returns
    -------
    Portfolio
        ``cases`` in file-name order; ``failures`` one row per workbook that did not load, with
        ``path``, ``kind`` (``workbook``, ``validation`` or ``internal``), ``error`` (a sentence) and
        ``issues`` (the issues table, for validation failures). A case id already used by an earlier
        workbook, compared case-insensitively (:func:`duplicate_case_ids`), is a validation failure of the
        later one (rule ``portfolio.duplicate_case_id``).

    Raises
    ------
    WorkbookError
        ``folder`` is not a folder.

    Examples
    --------
    >>> import tempfile
    >>> p = load_portfolio(tempfile.mkdtemp(), as_of="2026Q3")
    >>> len(p), len(p.failures)
    (0, 0)
    """
    return load_portfolio_with(folder, as_of, workers)[0]


def load_portfolio_with(folder: str | os.PathLike[str], as_of: object = None, workers: int | None = None,
                        then: Callable[[BusinessCase], Any] | None = None) -> tuple[Portfolio, list[Any]]:
    """:func:`load_portfolio`, running ``then(case)`` on every case where it was loaded.

    With worker processes each worker loads a workbook and runs ``then`` on the case at once, so the
    work on the cases (a review, say) is spread over the workers too and only its result comes back.
    ``then`` must then be picklable: a top-level function or a :func:`functools.partial` of one.

    Parameters
    ----------
    folder, as_of, workers
        As :func:`load_portfolio`.
    then : callable, optional
        Called with each loaded case; its result is returned beside the case. None: nothing is run.

    Returns
    -------
    (Portfolio, list)
        The portfolio as :func:`load_portfolio` gives it, and ``then``'s result for each of its
        ``cases``, in the same order (None each without ``then``).

    Raises
    ------
    Exception
        Whatever ``then`` raises on a case of the portfolio, raised here as if ``then`` had run in this
        process: a case whose ``then`` fails in a worker is run again here, in file-name order, and the
        first failure raises (a workbook left out of the portfolio never raises).

    Examples
    --------
    >>> import tempfile
    >>> p, sizes = load_portfolio_with(tempfile.mkdtemp(), as_of="2026Q3", then=len)
    >>> len(p), sizes
    (0, [])
    """
    as_of = resolve_as_of(as_of)
    cases: list[BusinessCase] = []
    extras: list[Any] = []
    failures: list[dict[str, Any]] = []
    paths = workbook_files(folder)
    workers = auto_workers(len(paths), workers)
    if workers > 1 and len(paths) > 1:
        from concurrent.futures import ProcessPoolExecutor

        # with `then` an item costs several times a load: smaller chunks keep both workers busy to the end
        chunk = max(1, len(paths) // ((16 if then is not None else 4) * workers))
        # Unpickling the results builds many objects, and each batch would trigger the cycle collector over
        # every result already received (measured: 2/3 of the unpickling time of 1,000 reviews). Nothing
        # received forms garbage cycles meanwhile: it is paused for the gathering, then restored.
        paused = gc.isenabled()
        gc.disable()
        try:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(_load_one_then, paths, [as_of] * len(paths), [then] * len(paths),
                                        chunksize=chunk))
        finally:
            if paused:
                gc.enable()
    else:
        results = [_load_one_then(p, as_of, then) for p in paths]
    loaded = [(path, r[0], r[1]) for path, r in zip(paths, results, strict=True) if r[2] is None]
    dups = duplicate_case_ids((str(path), case.case_id, cell) for path, case, cell in loaded)
    dup_of = {str(loaded[i][0]): issues for i, issues in dups.items()}
    for path, (case, _, failure, extra) in zip(paths, results, strict=True):
        if failure is not None:
            failures.append(failure)
        elif str(path) in dup_of:
            issues = dup_of[str(path)]
            failures.append({"path": str(path), "kind": "validation", "error": issues.loc[0, "message"],
                             "issues": issues})
        else:
            cases.append(case)
            # `then` failed in the worker: run it here, where it raises its own error as a serial run would
            extras.append(then(case) if isinstance(extra, _ThenFailed) else extra)
    return (Portfolio(cases=cases, failures=pd.DataFrame(failures, columns=["path", "kind", "error", "issues"])),
            extras)


class _ThenFailed:
    """What :func:`_load_one_then` returns in place of ``then(case)`` when it raised (a class: it keeps
    its identity through the pickling between processes)."""


def _load_one_then(path: Path, as_of: object, then: Callable[[BusinessCase], Any] | None
                   ) -> tuple[BusinessCase | None, str, dict[str, Any] | None, Any]:
    """:func:`_load_one` and ``then(case)`` on the case it loaded (a :class:`_ThenFailed` if it raised)."""
    case, cell, failure = _load_one(path, as_of)
    extra = None
    if case is not None and then is not None:
        try:
            extra = then(case)
        except Exception:  # noqa: BLE001 - raised again in the parent, in order (load_portfolio_with)
            extra = _ThenFailed()
    return case, cell, failure, extra
