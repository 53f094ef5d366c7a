"""Read a submitted business-case workbook into raw tables that remember their cells.

The reader does not judge: it turns every sheet into plain Python values with the Excel cell each
came from (``Costs!F12``) and leaves the rules to :mod:`vmo_lib.intake.validation`. It follows the layout
in :mod:`vmo_lib.schema` but tolerates what authors do to a template: reordered or extra columns,
a ``*`` required marker or different case in a label, stray whitespace, formulas.

Values are read with python-calamine (about ten times faster than openpyxl, LIBRARIES.md), which
returns a formula's *cached* value only. A workbook written by a program and never opened in Excel
has no cached value (openpyxl writes none; XlsxWriter writes ``0`` and asks Excel to recalculate on
load), and an error such as ``#DIV/0!`` reads as an empty cell. So the reader also scans the sheet
XML inside the zip for formula cells without a usable cached value and for error cells, and
reports them by cell. That scan is a regular expression over the raw XML: no XML parser, no
openpyxl, no entity expansion.

Examples
--------
>>> raw = parse_sheets({"Case": [["VMO business case"], ["Template version", "1.0"], [],
...                              ["Case id *", "CRM-1"]]})
>>> raw.version
('1.0', 'B2')
>>> raw.case.fields["case_id"]
('CRM-1', 'B4')
"""

from __future__ import annotations

import functools
import html
import io
import itertools
import operator
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vmo_lib import schema
from vmo_lib.errors import WorkbookError

__all__ = [
    "RawCase",
    "RawTable",
    "RawWorkbook",
    "cell_ref",
    "col_letter",
    "is_period_like",
    "normalise_label",
    "parse_sheets",
    "BLANK",
    "NUMBER",
    "OTHER",
    "TEXT",
    "cell_grid",
    "read_workbook",
    "sanitise_grid",
    "strip_invisible",
]

_QUARTER_FORM = re.compile(r"^\s*\d{4}\s*-?\s*[Qq][1-4]\s*$")
_YEAR_FORM = re.compile(r"^\s*(?:FY)?\d{4}\s*$", re.IGNORECASE)
# A header that looks like an attempt at a period (a 4-digit year, or a Q with a digit) but
# may not parse: reported as an unparseable period rather than an unknown column.
_PERIOD_ATTEMPT = re.compile(r"^\s*(?:FY\s*)?\d{4}(?!\d)|\bQ\s*\d\b|^\s*Q\d", re.IGNORECASE)
# Headers of published business cases that stand for a period without naming one ("Year 0",
# "Initial", "Yr 1", "Period 3", "FY25", "2025/26"): read as (unparseable) period headers, so the
# author is told what to write instead of the column being ignored as unknown.
_PERIOD_WORD = re.compile(r"^\s*(?:(?:year|yr|y|period|p|quarter|qtr|month|fy)\s*[-_.#:]?\s*\d{1,4}|"
                          r"(?:initial|init\.?)(?:\s+(?:year|yr|period|quarter|investment))?|year\s*zero|now|today|"
                          r"\d{2,4}\s*[/-]\s*\d{2,4})\s*(?:\(.*\))?\s*$", re.IGNORECASE)


def col_letter(index: int) -> str:
    """Excel column letters of a 0-based column index.

    >>> col_letter(0), col_letter(25), col_letter(26), col_letter(701)
    ('A', 'Z', 'AA', 'ZZ')
    """
    s = ""
    n = index + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def cell_ref(row: int, col: int) -> str:
    """A1-style reference of a 1-based row and 0-based column.

    >>> cell_ref(12, 5)
    'F12'
    """
    return f"{col_letter(col)}{row}"


def normalise_label(label: object) -> str:
    """A header or field label reduced to what matters: case, ``*`` markers and spacing dropped.

    >>> normalise_label("  Case ID * ")
    'case id'
    >>> normalise_label("line_id")
    'line id'
    """
    text = str(label).replace("*", " ").replace("_", " ").strip().rstrip(":").lower()
    return " ".join(text.split())


def is_period_like(label: object) -> bool:
    """True when a header looks like a period label (``2026Q1``, ``2026``, ``FY2026``) or an attempt.

    Headers that stand for a period without naming one (``"Year 0"``, ``"Initial"``, ``"Yr 1"``,
    ``"FY25"``, ``"2025/26"``) count as attempts too: validation then says what to write instead.

    >>> is_period_like("2026Q1"), is_period_like("2026 Q5"), is_period_like("Total")
    (True, True, False)
    >>> is_period_like("Year 0"), is_period_like("Initial"), is_period_like("Risk driver")
    (True, True, False)
    """
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        return True
    text = str(label)
    return bool(_PERIOD_ATTEMPT.search(text) or _PERIOD_WORD.match(text))


#: Characters that can reorder, hide or fake what a text displays: bidirectional embeddings,
#: overrides and isolates (U+202A-U+202E, U+2066-U+2069), directional and zero-width marks
#: (U+200B-U+200F, U+061C, U+2060-U+2064, U+FEFF), C0 controls other than tab and newline, DEL and
#: C1 controls (terminal escapes). Removed where text cells are read; the cell gets a warning.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                        "\u2066-\u2069\ufeff]")


def strip_invisible(text: str) -> tuple[str, list[str]]:
    """``text`` without invisible or control characters, and the code points removed (``U+202E``...).

    A Windows line break (CR LF) becomes a newline without being reported.

    >>> strip_invisible("Invoice\u202etxt.exe")
    ('Invoicetxt.exe', ['U+202E'])
    >>> strip_invisible("two\r\nlines\tok")
    ('two\nlines\tok', [])
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    found = _INVISIBLE.findall(text)
    if not found:
        return text, []
    return _INVISIBLE.sub("", text), sorted({f"U+{ord(c):04X}" for c in found})


def sanitise_grid(grid: Sequence[Sequence[Any]], first_row: int = 1) -> tuple[Sequence[Sequence[Any]], list[tuple[str, list[str]]]]:
    """The rows of a sheet with invisible characters removed from every text cell (:func:`strip_invisible`).

    Returns the rows (the same object when nothing was found; never modified in place) and
    ``(cell, code points)`` for each cleaned cell, ``cell`` counted from row ``first_row``.

    >>> rows, found = sanitise_grid([["ok", 1.0], [None, "a\u202eb"]])
    >>> rows[1][1], found
    ('ab', [('B2', ['U+202E'])])
    """
    out: list[list[Any]] | None = None
    found: list[tuple[str, list[str]]] = []
    search = _INVISIBLE.search
    # almost every sheet is clean: one search over all its text (joined by a newline, which is neither
    # removed nor a carriage return) before looking cell by cell
    joined = "\n".join([v for row in grid for v in row if v.__class__ is str])
    if not search(joined) and "\r" not in joined:
        return grid, found
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if v.__class__ is str and (search(v) or "\r" in v):
                text, codes = strip_invisible(v)
                if out is None:
                    out = [list(r) for r in grid]
                out[i][j] = text
                if codes:
                    found.append((cell_ref(i + first_row, j), codes))
    return (grid if out is None else out), found


def _clean(value: Any) -> Any:
    """Strip text; an empty or blank string is ``None``."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


# --- the raw tables ----------------------------------------------------------------------------------
@dataclass
class RawCase:
    """The Case sheet: ``fields[key] = (value, "B7")`` for every label found in column A.

    ``label_rows[key]`` is the row of the label; ``unknown`` lists ``(label, "A9")`` for labels not
    in :data:`vmo_lib.schema.CASE_FIELDS`; ``duplicates`` lists ``(key, "A12")`` for a label seen twice.
    """

    fields: dict[str, tuple[Any, str]] = field(default_factory=dict)
    label_rows: dict[str, int] = field(default_factory=dict)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)

    def value(self, key: str) -> Any:
        return self.fields.get(key, (None, ""))[0]

    def cell(self, key: str) -> str:
        return self.fields.get(key, (None, ""))[1]


@dataclass
class RawTable:
    """One table sheet as read.

    Attributes
    ----------
    sheet : str
    columns : dict
        Field key → column letter, for every known column found in the header row.
    rows : numpy.ndarray
        Excel row number of each data row (blank rows dropped).
    values : dict
        Field key → object array of cleaned cell values (``None`` for blank), aligned with ``rows``.
    period_headers : list of (raw label, column letter)
        Columns whose header has the form of a period, in sheet order.
    period_values : numpy.ndarray
        Object array (rows × period columns) of the cell values under those headers.
    unknown : list of (label, column letter)
        Headers that are neither a known column nor a period.
    duplicates : list of (key, column letter)
        A known column whose header appears again (the first one is used).
    unlabelled : list of column letter
        Columns with data but no header.
    kinds, period_kinds : dict of arrays, array
        The kind code (:data:`BLANK`, :data:`TEXT`, :data:`NUMBER`, :data:`OTHER`) of every value.

    Values are stripped text, numbers, dates... and ``None`` for a blank cell.
    """

    sheet: str
    columns: dict[str, str]
    rows: np.ndarray
    values: dict[str, np.ndarray]
    period_headers: list[tuple[Any, str]] = field(default_factory=list)
    period_values: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=object))
    unknown: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    kinds: dict[str, np.ndarray] = field(default_factory=dict)
    period_kinds: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.int8))

    def __len__(self) -> int:
        return len(self.rows)

    def refs(self, key: str) -> np.ndarray:
        """Cell references (``"F12"``) of a column's data cells; the header cell row if absent."""
        letter = self.columns.get(key, "")
        return np.array([f"{letter}{r}" for r in self.rows], dtype=object)

    def column(self, key: str) -> np.ndarray:
        """Cleaned values of a column (all ``None`` when the column is missing)."""
        v = self.values.get(key)
        return v if v is not None else np.full(len(self.rows), None, dtype=object)

    def column_kinds(self, key: str) -> np.ndarray:
        """Kind codes of a column's values (all :data:`BLANK` when the column is missing)."""
        k = self.kinds.get(key)
        return k if k is not None else np.zeros(len(self.rows), dtype=np.int8)


@dataclass
class RawWorkbook:
    """Everything the reader found in one workbook, before any rule is applied.

    ``formula_cells`` and ``error_cells`` map a sheet name to the cells holding a formula without a
    usable cached value and an Excel error value (``#DIV/0!``...), respectively.
    ``invisible_cells`` maps a sheet name to ``(cell, code points)`` for each text cell from which
    invisible or control characters were removed (:func:`strip_invisible`).
    """

    path: str
    sheet_names: list[str]
    version: tuple[Any, str]
    case: RawCase
    tables: dict[str, RawTable]
    formula_cells: dict[str, list[str]] = field(default_factory=dict)
    error_cells: dict[str, list[str]] = field(default_factory=dict)
    invisible_cells: dict[str, list[tuple[str, list[str]]]] = field(default_factory=dict)


# --- parsing rows (no file involved) -----------------------------------------------------------------
def _find_sheet(names: Sequence[str], wanted: str) -> str | None:
    for n in names:
        if n == wanted:
            return n
    for n in names:  # tolerate case and surrounding spaces in a tab name
        if n.strip().lower() == wanted.lower():
            return n
    return None


@functools.cache
def _keys_by_label(sheet: str) -> dict[str, str]:
    """Normalised label (and normalised key) → field key, for the Case sheet or a table sheet."""
    cols = schema.CASE_FIELDS if sheet == "Case" else schema.read_columns(sheet)
    by_label = {normalise_label(c.label): c.key for c in cols}
    by_label.update({normalise_label(c.key): c.key for c in cols})
    return by_label


def _parse_case(grid: Sequence[Sequence[Any]]) -> tuple[tuple[Any, str], RawCase]:
    vrow = int(schema.VERSION_CELL[1:]) - 1
    vcol = ord(schema.VERSION_CELL[0]) - 65
    version = None
    if len(grid) > vrow and len(grid[vrow]) > vcol:
        version = _clean(grid[vrow][vcol])
    by_label = _keys_by_label("Case")
    case = RawCase()
    for i in range(schema.CASE_FIRST_ROW - 1, len(grid)):
        row = grid[i]
        if not row:
            continue
        label = _clean(row[0])
        if label is None or not isinstance(label, str):
            continue
        r = i + 1
        key = by_label.get(normalise_label(label))
        if key is None:
            case.unknown.append((label, f"A{r}"))
            continue
        if key in case.fields:
            case.duplicates.append((key, f"A{r}"))
            continue
        value = _clean(row[1]) if len(row) > 1 else None
        case.fields[key] = (value, f"B{r}")
        case.label_rows[key] = r
    return (version, schema.VERSION_CELL), case


def _parse_table(sheet: str, grid: Sequence[Sequence[Any]]) -> RawTable:
    h = schema.HEADER_ROW - 1
    header = list(grid[h]) if len(grid) > h else []
    width = max(map(len, grid), default=0)
    header += [""] * (width - len(header))
    if all(v is None or v.__class__ is str for v in header):
        # the usual header (text and blanks): the same row in most workbooks of a template, read once
        found = _header_of_text(sheet, tuple(header))
    else:
        found = _header_of(sheet, header)
    columns, col_index = dict(found[0]), dict(found[1])
    period_idx, period_headers, unknown, duplicates, blank_idx = (list(x) for x in found[2:])
    body = grid[schema.TABLE_FIRST_ROW - 1:]
    arr, kinds = cell_grid(body, width)
    keep = (kinds != BLANK).any(axis=1) if arr.size else np.zeros(len(arr), dtype=bool)
    arr, kinds = arr[keep], kinds[keep]
    rows = np.nonzero(keep)[0] + schema.TABLE_FIRST_ROW
    values = {key: arr[:, j] for key, j in col_index.items()}
    col_kinds = {key: kinds[:, j] for key, j in col_index.items()}
    unlabelled = [col_letter(j) for j in blank_idx if len(arr) and (kinds[:, j] != BLANK).any()]
    pv = arr[:, period_idx] if period_idx else np.empty((len(arr), 0), dtype=object)
    pk = kinds[:, period_idx] if period_idx else np.empty((len(arr), 0), dtype=np.int8)
    return RawTable(sheet, columns, rows, values, period_headers, pv, unknown, duplicates, unlabelled,
                    kinds=col_kinds, period_kinds=pk)


def _header_of(sheet: str, header: Sequence[Any]) -> tuple:
    """What a table's header row says: ``(columns, col_index, period_idx, period_headers, unknown,
    duplicates, blank_idx)`` (see :class:`RawTable`)."""
    by_label = _keys_by_label(sheet)
    columns: dict[str, str] = {}
    col_index: dict[str, int] = {}
    period_idx: list[int] = []
    period_headers: list[tuple[Any, str]] = []
    unknown: list[tuple[str, str]] = []
    duplicates: list[tuple[str, str]] = []
    blank_idx: list[int] = []
    for j, raw in enumerate(header):
        label = _clean(raw)
        letter = col_letter(j)
        if label is None:
            blank_idx.append(j)
            continue
        key = by_label.get(normalise_label(label)) if isinstance(label, str) else None
        if key is not None:
            if key in columns:
                duplicates.append((key, letter))
            else:
                columns[key] = letter
                col_index[key] = j
        elif sheet in schema.WIDE_SHEETS and is_period_like(label):
            period_idx.append(j)
            period_headers.append((label, letter))
        else:
            unknown.append((str(label), letter))
    return columns, col_index, period_idx, period_headers, unknown, duplicates, blank_idx


@functools.lru_cache(maxsize=256)
def _header_of_text(sheet: str, header: tuple[str | None, ...]) -> tuple:
    """:func:`_header_of` of a header of text and blanks only (equal texts read alike), kept."""
    return _header_of(sheet, header)


#: Cell kinds (codes of :func:`cell_grid`).
BLANK, TEXT, NUMBER, OTHER = 0, 1, 2, 3
_KIND_OF_TYPE = {type(None): BLANK, str: TEXT, float: NUMBER, int: NUMBER}


def _kinds_of(arr: np.ndarray) -> np.ndarray:
    """Kind code of every cell of an object array (the exact type decides: bool, dates... are OTHER)."""
    # map() over C-level callables: no Python function call per cell
    codes = map(_KIND_OF_TYPE.get, map(type, arr.flat), itertools.repeat(OTHER))
    return np.fromiter(codes, dtype=np.int8, count=arr.size).reshape(arr.shape)


def cell_grid(rows: Sequence[Sequence[Any]], width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cell values as a 2-D object array (text stripped, blanks ``None``) and their kinds.

    One vectorised pass classifies every cell as :data:`BLANK`, :data:`TEXT`, :data:`NUMBER`
    (float or int, not bool) or :data:`OTHER` (date, time, bool); only text cells are touched
    in Python, to strip them.

    >>> values, kinds = cell_grid([[" a ", 1.0, ""], [None, True, "  "]])
    >>> values.tolist(), kinds.tolist()
    ([['a', 1.0, None], [None, True, None]], [[1, 2, 0], [0, 3, 0]])
    """
    if width is None:
        width = max((len(r) for r in rows), default=0)
    if not rows or not width:
        return np.empty((len(rows), width), dtype=object), np.zeros((len(rows), width), dtype=np.int8)
    arr = np.empty((len(rows), width), dtype=object)
    if all(len(r) == width for r in rows):
        arr[:] = rows
    else:
        arr[:] = [list(r) + [None] * (width - len(r)) for r in rows]
    kinds = _kinds_of(arr)
    idx = np.nonzero(kinds == TEXT)
    if len(idx[0]):
        stripped = list(map(str.strip, arr[idx]))  # exactly str (TEXT): C-level calls, no lambda
        empty = np.fromiter(map(operator.not_, stripped), dtype=bool, count=len(stripped))
        arr[idx] = stripped
        arr[idx[0][empty], idx[1][empty]] = None
        kinds[idx[0][empty], idx[1][empty]] = BLANK
    return arr, kinds


def parse_sheets(
    sheets: Mapping[str, Sequence[Sequence[Any]]],
    *,
    path: str = "",
    formula_cells: Mapping[str, list[str]] | None = None,
    error_cells: Mapping[str, list[str]] | None = None,
) -> RawWorkbook:
    """Turn the cell grids of a workbook (one list of rows per sheet, from A1) into raw tables.

    This is the reader without the file: :func:`read_workbook` feeds it what calamine returns,
    tests can feed it rows written by hand.

    Parameters
    ----------
    sheets : mapping of sheet name to rows
        Each row a list of cell values; blank cells ``""`` or ``None``.
    path : str
        The file the grids came from (for messages).
    formula_cells, error_cells : mapping, optional
        Cells found by :func:`scan_formula_cells`.

    Examples
    --------
    >>> raw = parse_sheets({"Costs": [[], [], [], ["Line id", "Cost line", "2026Q1"],
    ...                               ["C1", "Build", 100.0]]})
    >>> t = raw.tables["Costs"]
    >>> t.columns, t.rows.tolist(), t.period_headers
    ({'line_id': 'A', 'name': 'B'}, [5], [('2026Q1', 'C')])
    """
    names = list(sheets)
    canon = {n: (_find_sheet(list(schema.SHEETS), n) or n) for n in names}
    invisible: dict[str, list[tuple[str, list[str]]]] = {}
    cleaned: dict[str, Sequence[Sequence[Any]]] = {}
    for n in names:  # the one place text cells of a workbook are cleaned
        cleaned[n], found = sanitise_grid(sheets[n])
        if found:
            invisible[canon[n]] = found
    sheets = cleaned
    case_name = _find_sheet(names, "Case")
    if case_name is not None:
        version, case = _parse_case(sheets[case_name])
    else:
        version, case = (None, schema.VERSION_CELL), RawCase()
    tables = {}
    for sheet in schema.TABLE_COLUMNS:
        name = _find_sheet(names, sheet)
        if name is not None:
            tables[sheet] = _parse_table(sheet, sheets[name])
    return RawWorkbook(
        path=str(path),
        sheet_names=names,
        version=version,
        case=case,
        tables=tables,
        formula_cells={canon.get(k, k): list(v) for k, v in (formula_cells or {}).items()},
        error_cells={canon.get(k, k): list(v) for k, v in (error_cells or {}).items()},
        invisible_cells=invisible,
    )


# --- reading the file --------------------------------------------------------------------------------
_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b([^>]*?)/?>")
_ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*?)/?>")
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.DOTALL)
_CELL_REF = re.compile(rb'\br="([A-Z]+[0-9]+)"')
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
# A formula element (not <formula1> of a data validation) or an error-typed cell.
_MARKER = re.compile(rb"<(?:\w+:)?f[\s>/]|\bt=\"e\"")
_FULL_CALC = re.compile(rb"<(?:\w+:)?calcPr\b[^>]*\bfullCalcOnLoad=\"(?:1|true)\"")


def _sheet_parts(zf: zipfile.ZipFile) -> tuple[dict[str, str], bool]:
    """Sheet name → part name in the zip, and whether the workbook asks Excel to recalculate on load."""
    wb = zf.read("xl/workbook.xml")
    rels = zf.read("xl/_rels/workbook.xml.rels")
    targets = {}
    for raw in _REL_TAG.findall(rels):
        a = {k: v for k, v in _ATTR.findall(raw)}
        target = a.get(b"Target", b"").decode("utf-8", "replace")
        target = target.lstrip("/") if target.startswith("/") else "xl/" + target
        targets[a.get(b"Id", b"").decode()] = os.path.normpath(target).replace(os.sep, "/")
    parts = {}
    for raw in _SHEET_TAG.findall(wb):
        a = {k: v for k, v in _ATTR.findall(raw)}
        rid = next((v for k, v in a.items() if k.endswith(b":id") or k == b"id"), b"").decode()
        name = html.unescape(a.get(b"name", b"").decode("utf-8", "replace"))
        if rid in targets:
            parts[name] = targets[rid]
    return parts, bool(_FULL_CALC.search(wb))


def _cell_start(xml: bytes, pos: int) -> int:
    """Offset of the ``<c`` (or ``<x:c``) tag that opens the cell containing ``pos``."""
    plain = xml.rfind(b"<c ", 0, pos)
    prefixed = xml.rfind(b":c ", 0, pos)
    if prefixed > plain:
        return xml.rfind(b"<", 0, prefixed)
    return plain


def _holds_marker(xml: bytes, lo: int, hi: int) -> bool:
    """Whether ``xml[lo:hi]`` holds ``<f`` or ``t="e"``: the answer of ``xml.find(b"<f", lo, hi) >= 0 or
    xml.find(b't="e"', lo, hi) >= 0``, in a few vectorised passes over the bytes.

    ``bytes.find`` is slow on sheet XML, where ``<`` and ``"`` start almost every other word; here the
    positions of ``<`` (and of ``t``) are found at once and only their next bytes compared.
    """
    a = np.frombuffer(xml, dtype=np.uint8)[lo:hi]  # slice semantics, as find's start and end
    lt = np.flatnonzero(a[:-1] == ord("<"))
    if lt.size and (a[lt + 1] == ord("f")).any():
        return True
    t = np.flatnonzero(a[:-4] == ord("t"))
    return bool(t.size) and bool(((a[t + 1] == ord("=")) & (a[t + 2] == ord('"')) & (a[t + 3] == ord("e"))
                                  & (a[t + 4] == ord('"'))).any())


def scan_formula_cells(zf: zipfile.ZipFile, sheets: Sequence[str] | None = None) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Find formula cells without a usable cached value, and error cells, in each sheet's XML.

    A formula has no usable cached value when its ``<v>`` is absent or empty, or when the workbook
    asks Excel to recalculate everything on load (``fullCalcOnLoad``, set by openpyxl and XlsxWriter)
    and the cached value is XlsxWriter's placeholder ``0``. Error cells have ``t="e"``.

    Returns ``({sheet: [cell, ...]}, {sheet: [cell, ...]})``.
    """
    try:
        parts, full_calc = _sheet_parts(zf)
    except KeyError:
        return {}, {}
    formulas: dict[str, list[str]] = {}
    errors: dict[str, list[str]] = {}
    for name, part in parts.items():
        if sheets is not None and name not in sheets:
            continue
        try:
            xml = zf.read(part)
        except KeyError:
            continue
        # Most sheets hold neither: two substring searches of the cell data (fast) before any
        # regular expression. Inside <sheetData> only a formula element starts with "<f".
        lo, hi = xml.find(b"sheetData"), xml.rfind(b"sheetData")
        prefixed = lo > 0 and xml[lo - 1:lo] == b":"
        if not prefixed and not _holds_marker(xml, lo, hi):
            continue
        # Visit only the cells that hold a formula or an error: find the marker, then the
        # enclosing <c ...>...</c>. Never a pass over every cell of a large sheet.
        done: set[int] = set()
        for m in _MARKER.finditer(xml):
            start = _cell_start(xml, m.start())
            if start < 0 or start in done:
                continue
            done.add(start)
            cell = _CELL.match(xml, start)
            if cell is None:
                continue
            attrs, inner = cell.group(1), cell.group(2) or b""
            ref_m = _CELL_REF.search(attrs)
            ref = ref_m.group(1).decode() if ref_m else "?"
            v = _VALUE.search(inner)
            if b't="e"' in attrs:
                if v is not None and v.group(1):
                    errors.setdefault(name, []).append(ref)
            elif _FORMULA.search(inner) and (v is None or not v.group(1).strip()
                                             or (full_calc and v.group(1).strip() == b"0")):
                formulas.setdefault(name, []).append(ref)
    return formulas, errors


def read_workbook(source: str | os.PathLike | bytes, *, path: str | None = None) -> RawWorkbook:
    """Read a workbook file (or its bytes) into a :class:`RawWorkbook`.

    The file is opened read-only and never modified. Only the sheets of :data:`schema.SHEETS`
    that the reader uses are loaded.

    Parameters
    ----------
    source : path or bytes
        The ``.xlsx``/``.xlsm`` file, or its content.
    path : str, optional
        Name to use in messages when ``source`` is bytes.

    Raises
    ------
    WorkbookError
        When the file is not a readable workbook.

    Examples
    --------
    >>> import tempfile, openpyxl, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.xlsx"
    >>> wb = openpyxl.Workbook(); ws = wb.active; ws.title = "Case"
    >>> ws["A2"], ws["B2"], ws["A4"], ws["B4"] = "Template version", "1.0", "Case id", "X1"
    >>> wb.save(p)
    >>> read_workbook(p).case.fields["case_id"]
    ('X1', 'B4')
    """
    import python_calamine as pc

    data = source if isinstance(source, bytes) else None
    name = path or (str(source) if data is None else "<bytes>")
    if data is None:
        try:
            with open(source, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise WorkbookError(name, f"cannot open the file ({exc.strerror or exc})") from None
    try:
        wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types and sometimes plain ones
        raise WorkbookError(name, f"not a readable Excel workbook (.xlsx): {exc}") from None
    try:
        names = list(wb.sheet_names)
        wanted = [n for n in names if _find_sheet(list(schema.SHEETS), n) not in (None, "Guide", "Lists")]
        grids = {}
        for n in names:
            if n in wanted:
                grids[n] = wb.get_sheet_by_name(n).to_python(skip_empty_area=False)
            else:
                grids[n] = []
    except Exception as exc:
        raise WorkbookError(name, f"cannot read the sheets: {exc}") from None
    finally:
        wb.close()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            formulas, errors = scan_formula_cells(zf, wanted)
    except Exception as exc:  # noqa: BLE001 - corrupt deflate data, bad CRC...: one clear message
        raise WorkbookError(name, f"not a readable Excel workbook (.xlsx): {exc}") from None
    return parse_sheets(grids, path=name, formula_cells=formulas, error_cells=errors)
