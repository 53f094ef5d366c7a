"""Period labels and arithmetic.

A case runs on quarterly periods labelled ``"2026Q1"`` or on yearly periods labelled ``"2026"``
(calendar years; ``"FY2026"`` is read as the calendar year 2026, as it always was) or ``"FY2025-26"``
(UK financial years, 1 April 2025 to 31 March 2026; ``"FY2025/26"``, ``"2025-26"`` and ``"2025/26"``
are the same year). A yearly case's *form* is its first period's: a case whose first period is a
financial year runs in financial years, and every label of it is written ``FY2025-26``
(:func:`canonical_period`); inside the arithmetic a financial year counts as the calendar year it
starts in (:func:`parse_period` gives ``(2025, 0)`` for FY2025-26). Period 0 is the case's first period. Inside the workbench a period is carried both as its label
(``period``) and as its integer offset from the first period (``t``).

The review period
-----------------
A review is made *as of* a quarter (``--as-of 2026Q3``, a year meaning its last quarter, or a date).
:func:`review_quarter` reads that argument, the one rule every command uses; a malformed or impossible
value (``2026Q9``) raises :class:`~vmo_lib.errors.UsageError` (the CLI exits 2).
:func:`review_period` gives the period of a case's own length that the review covers: the quarter
itself for a quarterly case; for a yearly case its last *completed* year (as of 2026Q4 the year
2026; as of 2026Q1–Q3 the year 2025, because the 2026 return is not due before the year ends); for a
financial-year case (``like=`` its first period) the last financial year ended by the end of the review
quarter: FY2025-26 ends on 31 March 2026, so every review from 2026Q1 to 2026Q4 covers FY2025-26.

Examples
--------
>>> review_quarter("2026-q3"), review_period("2026Q3", "year"), review_period("2026Q4", "year")
('2026Q3', '2025', '2026')
>>> period_range("2025Q3", 4, "quarter")
['2025Q3', '2025Q4', '2026Q1', '2026Q2']
>>> period_offset("2026Q2", "2025Q3", "quarter")
3
>>> periods_per_year("year")
1
>>> period_range("FY2025-26", 3, "year"), review_period("2026Q1", "year", like="FY2024-25")
(['FY2025-26', 'FY2026-27', 'FY2027-28'], 'FY2025-26')
"""

from __future__ import annotations

import datetime as _dt
import functools
import re

from vmo_lib.errors import UsageError

__all__ = [
    "PERIOD_LENGTHS",
    "canonical_period",
    "is_financial_year",
    "parse_period",
    "period_end_date",
    "period_label",
    "period_offset",
    "period_of_date",
    "period_range",
    "period_start_date",
    "periods_per_year",
    "review_period",
    "review_quarter",
    "shift_period",
]

PERIOD_LENGTHS = ("quarter", "year")
_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")
_YEAR = re.compile(r"^\s*(?:FY)?(\d{4})\s*$")
#: A UK financial year: FY2025-26, FY2025/26, 2025-26, 2025/26 (also "FY 2025-2026"); case-insensitive.
_FY = re.compile(r"^\s*(?:FY\s*)?(\d{4})\s*[-/]\s*(\d{2}|\d{4})\s*$", re.IGNORECASE)
#: The month a financial year starts in (April: the UK government's year, 1 April to 31 March).
FY_START_MONTH = 4


def periods_per_year(length: str) -> int:
    """Number of periods in a year: 4 for ``"quarter"``, 1 for ``"year"``."""
    if length == "quarter":
        return 4
    if length == "year":
        return 1
    raise ValueError(f"period length must be 'quarter' or 'year', not {length!r}")


def parse_period(label: object, length: str) -> tuple[int, int]:
    """Parse a period label into ``(year, index_in_year)`` (index 0-based; always 0 for years).

    Accepts ``"2026Q3"``, ``"2026-Q3"``, ``"2026 q3"`` for quarters and ``"2026"``, ``"FY2026"``
    or the number 2026 for years. Raises ``ValueError`` with the expected form otherwise.

    >>> parse_period("2026Q3", "quarter")
    (2026, 2)
    >>> parse_period(2027, "year")
    (2027, 0)
    """
    if isinstance(label, float) and label.is_integer():
        label = int(label)
    text = str(label)
    if length == "quarter":
        m = _QUARTER.match(text)
        if not m:
            raise ValueError(f"expected a quarter such as 2026Q3, got {label!r}")
        return int(m.group(1)), int(m.group(2)) - 1
    if length == "year":
        m = _YEAR.match(text)
        if m:
            return int(m.group(1)), 0
        fy = _fy_start(text)
        if fy is not None:
            return fy, 0
        raise ValueError(f"expected a year such as 2026 or a financial year such as FY2025-26, got {label!r}")
    raise ValueError(f"period length must be 'quarter' or 'year', not {length!r}")


def _fy_start(text: str) -> int | None:
    """The start year of a financial-year label, None when ``text`` is not one; ``ValueError`` when it
    has the form but not one year's span (``FY2025-27``)."""
    m = _FY.match(text)
    if not m:
        return None
    start, end = int(m.group(1)), m.group(2)
    expected = start + 1
    if (int(end) != expected) if len(end) == 4 else (int(end) != expected % 100):
        raise ValueError(f"a financial year runs from 1 April to 31 March of the next year: expected "
                         f"{_fy_label(start)}, got {text.strip()!r}")
    return start


def _fy_label(start: int) -> str:
    return f"FY{start}-{(start + 1) % 100:02d}"


def is_financial_year(label: object) -> bool:
    """True when ``label`` is a UK financial-year label (``"FY2025-26"``, ``"2025/26"``...).

    ``"FY2026"`` and ``"2026"`` are calendar years (False); a malformed financial year such as
    ``"FY2025-27"`` is False too (:func:`parse_period` says why it is wrong).

    >>> is_financial_year("FY2025-26"), is_financial_year("2025/26"), is_financial_year("FY2026")
    (True, True, False)
    """
    if label is None or isinstance(label, (int, float)):
        return False
    try:
        return _fy_start(str(label)) is not None
    except ValueError:
        return False


def period_label(year: int, index: int, length: str, financial: bool = False) -> str:
    """The canonical label of a period: ``"2026Q3"``, ``"2026"``, or with ``financial`` (years only)
    the financial year starting in ``year``: ``"FY2026-27"``."""
    if length == "quarter":
        return f"{year}Q{index + 1}"
    return _fy_label(year) if financial else f"{year}"


def canonical_period(label: object, length: str) -> str:
    """The canonical form of a period label, keeping its form: ``"2026 q3"`` → ``"2026Q3"``,
    ``2026`` → ``"2026"``, ``"2025/26"`` → ``"FY2025-26"``. ``ValueError`` as :func:`parse_period`.

    >>> canonical_period("2025/26", "year"), canonical_period("FY2026", "year"), canonical_period("2026-q1", "quarter")
    ('FY2025-26', '2026', '2026Q1')
    """
    y, i = parse_period(label, length)
    return period_label(y, i, length, financial=length == "year" and is_financial_year(label))


def _ordinal(label: object, length: str) -> int:
    year, idx = parse_period(label, length)
    return year * periods_per_year(length) + idx


def period_offset(label: object, first: object, length: str) -> int:
    """Offset ``t`` of ``label`` from the first period ``first`` (may be negative)."""
    return _ordinal(label, length) - _ordinal(first, length)


def shift_period(label: object, n: int, length: str) -> str:
    """The label ``n`` periods after ``label`` (``n`` may be negative), in ``label``'s form."""
    k = periods_per_year(length)
    o = _ordinal(label, length) + n
    return period_label(o // k, o % k, length, financial=length == "year" and is_financial_year(label))


def period_range(first: object, n: int, length: str) -> list[str]:
    """The ``n`` consecutive period labels starting at ``first``, in ``first``'s form."""
    try:
        return list(_period_range(first, n, length))
    except TypeError:  # an unhashable label: parse_period says what is wrong with it
        return [shift_period(first, i, length) for i in range(n)]


@functools.lru_cache(maxsize=1024, typed=True)
def _period_range(first: object, n: int, length: str) -> tuple[str, ...]:
    # a case's periods are asked for hundreds of times per review (BusinessCase.periods): built once
    return tuple(shift_period(first, i, length) for i in range(n))


def period_start_date(label: object, length: str) -> _dt.date:
    """First day of a period: calendar quarters and years; a financial year starts on 1 April.

    >>> period_start_date("FY2025-26", "year"), period_end_date("FY2025-26", "year")
    (datetime.date(2025, 4, 1), datetime.date(2026, 3, 31))
    """
    year, idx = parse_period(label, length)
    if length == "quarter":
        return _dt.date(year, 1 + 3 * idx, 1)
    return _dt.date(year, FY_START_MONTH if is_financial_year(label) else 1, 1)


def period_end_date(label: object, length: str) -> _dt.date:
    """Last day of a period (31 March for a financial year)."""
    nxt = period_start_date(shift_period(label, 1, length), length)
    return nxt - _dt.timedelta(days=1)


def period_of_date(date: _dt.date, length: str, like: object = None) -> str:
    """The label of the period that contains ``date``; for years, in the form of ``like`` (a label of
    the case, e.g. its first period): a financial year when ``like`` is one.

    >>> period_of_date(_dt.date(2026, 2, 1), "year"), period_of_date(_dt.date(2026, 2, 1), "year", like="FY2030-31")
    ('2026', 'FY2025-26')
    """
    if length == "quarter":
        return period_label(date.year, (date.month - 1) // 3, length)
    if is_financial_year(like):
        return period_label(date.year if date.month >= FY_START_MONTH else date.year - 1, 0, length, financial=True)
    return period_label(date.year, 0, length)


def review_quarter(as_of: object = None, today: _dt.date | None = None) -> str:
    """The review quarter as a label: ``as_of`` (quarter label, year label or date), else today's.

    A year label means its last quarter. This is the one reading of ``--as-of`` in every command.

    Raises
    ------
    UsageError
        If ``as_of`` is neither a quarter, a year nor a date (``"2026Q9"``, ``"next"``).

    Examples
    --------
    >>> review_quarter("2026-q3"), review_quarter(_dt.date(2026, 8, 1)), review_quarter("2026")
    ('2026Q3', '2026Q3', '2026Q4')
    >>> review_quarter("2026Q9")
    Traceback (most recent call last):
    ...
    vmo_lib.errors.UsageError: --as-of must be a quarter such as 2026Q3, a year such as 2026 or a date, not '2026Q9'
    """
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        return period_of_date(today or _dt.date.today(), "quarter")
    if isinstance(as_of, _dt.datetime):
        return period_of_date(as_of.date(), "quarter")
    if isinstance(as_of, _dt.date):
        return period_of_date(as_of, "quarter")
    if hasattr(as_of, "to_pydatetime"):  # a pandas Timestamp
        return period_of_date(as_of.to_pydatetime().date(), "quarter")
    for length, form in (("quarter", "{y}Q{i}"), ("year", "{y}Q4")):
        try:
            y, i = parse_period(as_of, length)
        except ValueError:
            continue
        if length == "year" and is_financial_year(as_of):
            return f"{y + 1}Q1"  # a financial year's last quarter: January to March of the next year
        return form.format(y=y, i=i + 1)
    raise UsageError(f"--as-of must be a quarter such as 2026Q3, a year such as 2026 or a date, not {as_of!r}")


def review_period(as_of: object, length: str, like: object = None) -> str:
    """The period of length ``length`` that a review as of ``as_of`` covers (see the module notes).

    Quarterly: the review quarter. Yearly: the last year that has ended by the end of the review
    quarter; when ``like`` (a label of the case, e.g. its first period) is a financial year, the last
    financial year ended by then (FY2025-26 ends on 31 March 2026, the end of 2026Q1).

    Examples
    --------
    >>> review_period("2026Q3", "quarter"), review_period("2026Q3", "year"), review_period("2026", "year")
    ('2026Q3', '2025', '2026')
    >>> [review_period(q, "year", like="FY2025-26") for q in ("2025Q4", "2026Q1", "2026Q4", "2027Q1")]
    ['FY2024-25', 'FY2025-26', 'FY2025-26', 'FY2026-27']
    """
    q = review_quarter(as_of)
    if length == "quarter":
        return q
    y, i = parse_period(q, "quarter")
    periods_per_year(length)  # raises for an unknown length
    if is_financial_year(like):
        return period_label(y - 1, 0, length, financial=True)  # every quarter of y ends after 31 March y
    return str(y if i == 3 else y - 1)
