"""Period labels and arithmetic.

A case runs on quarterly periods labelled ``"2026Q1"`` or on yearly periods labelled ``"2026"``.
Period 0 is the case's first period. Inside the workbench a period is carried both as its label
(``period``) and as its integer offset from the first period (``t``).

The review period
-----------------
A review is made *as of* a quarter (``--as-of 2026Q3``, a year meaning its last quarter, or a date).
:func:`review_quarter` reads that argument, the one rule every command uses; a malformed or impossible
value (``2026Q9``) raises :class:`~vmo_lib.errors.UsageError` (the CLI exits 2).
:func:`review_period` gives the period of a case's own length that the review covers: the quarter
itself for a quarterly case; for a yearly case its last *completed* year (as of 2026Q4 the year
2026; as of 2026Q1–Q3 the year 2025, because the 2026 return is not due before the year ends).

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
"""

from __future__ import annotations

import datetime as _dt
import re

from vmo_lib.errors import UsageError

__all__ = [
    "PERIOD_LENGTHS",
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
        if not m:
            raise ValueError(f"expected a year such as 2026, got {label!r}")
        return int(m.group(1)), 0
    raise ValueError(f"period length must be 'quarter' or 'year', not {length!r}")


def period_label(year: int, index: int, length: str) -> str:
    """The canonical label of a period: ``"2026Q3"`` or ``"2026"``."""
    return f"{year}Q{index + 1}" if length == "quarter" else f"{year}"


def _ordinal(label: object, length: str) -> int:
    year, idx = parse_period(label, length)
    return year * periods_per_year(length) + idx


def period_offset(label: object, first: object, length: str) -> int:
    """Offset ``t`` of ``label`` from the first period ``first`` (may be negative)."""
    return _ordinal(label, length) - _ordinal(first, length)


def shift_period(label: object, n: int, length: str) -> str:
    """The label ``n`` periods after ``label`` (``n`` may be negative)."""
    k = periods_per_year(length)
    o = _ordinal(label, length) + n
    return period_label(o // k, o % k, length)


def period_range(first: object, n: int, length: str) -> list[str]:
    """The ``n`` consecutive period labels starting at ``first``."""
    return [shift_period(first, i, length) for i in range(n)]


def period_start_date(label: object, length: str) -> _dt.date:
    """First calendar day of a period (calendar quarters and years)."""
    year, idx = parse_period(label, length)
    return _dt.date(year, 1 + 3 * idx, 1) if length == "quarter" else _dt.date(year, 1, 1)


def period_end_date(label: object, length: str) -> _dt.date:
    """Last calendar day of a period."""
    nxt = period_start_date(shift_period(label, 1, length), length)
    return nxt - _dt.timedelta(days=1)


def period_of_date(date: _dt.date, length: str) -> str:
    """The label of the period that contains ``date``."""
    if length == "quarter":
        return period_label(date.year, (date.month - 1) // 3, length)
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
            return form.format(y=y, i=i + 1)
        except ValueError:
            pass
    raise UsageError(f"--as-of must be a quarter such as 2026Q3, a year such as 2026 or a date, not {as_of!r}")


def review_period(as_of: object, length: str) -> str:
    """The period of length ``length`` that a review as of ``as_of`` covers (see the module notes).

    Quarterly: the review quarter. Yearly: the last year that has ended by the end of the review
    quarter.

    Examples
    --------
    >>> review_period("2026Q3", "quarter"), review_period("2026Q3", "year"), review_period("2026", "year")
    ('2026Q3', '2025', '2026')
    """
    q = review_quarter(as_of)
    if length == "quarter":
        return q
    y, i = parse_period(q, "quarter")
    periods_per_year(length)  # raises for an unknown length
    return str(y if i == 3 else y - 1)
