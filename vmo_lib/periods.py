"""Period labels and arithmetic.

A case runs on quarterly periods labelled ``"2026Q1"`` or on yearly periods labelled ``"2026"``.
Period 0 is the case's first period. Inside the workbench a period is carried both as its label
(``period``) and as its integer offset from the first period (``t``).

Examples
--------
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
