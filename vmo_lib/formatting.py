"""Numbers as a board reads them: money, percentages and plain numbers, one format for the workbench.

Charts (axis labels), generated sentences, HTML tables, the index page and the CLI all format
through these functions, so ``£1.23m`` in a chart is ``£1.23m`` in the sentence under it. No heavy
imports: a kernel or the batch runner can use it without loading matplotlib or pandas.

Rules
-----
* A missing value (None, NaN, pandas NA) shows as ``–`` (en dash), never ``nan``.
* Negative numbers get a true minus sign (``−``, U+2212), and only when the shown digits are not
  all zero: no ``−£0`` and no ``−0%``.
* Money always carries its currency: GBP, EUR, USD and JPY their symbol, any other ISO code a prefix
  (``CHF 45.2k``).
* Compact money (cards, charts, sentences) keeps three significant digits from ten thousand up:
  ``£12.5k``, ``£350k``, ``£1.23m``, ``£12.3m``, ``£2.50bn``; below that the whole amount,
  ``£9,999``. Full money (tables) is the whole amount with thousands separators.

Examples
--------
>>> format_money(-1234.4, "GBP")
'−£1,234'
>>> format_money(2_345_678, "EUR", compact=True)
'€2.35m'
>>> format_percent(-0.001)
'0%'
"""

from __future__ import annotations

import math
import re
from typing import Any

from vmo_lib.errors import UsageError

__all__ = [
    "CURRENCY_SYMBOLS",
    "MISSING",
    "currency_prefix",
    "format_money",
    "format_money_change",
    "format_number",
    "format_percent",
    "is_missing",
    "parse_amount",
    "parse_rate",
]

#: Currencies shown by their symbol; any other code is written before the amount (``CHF 1,200``).
CURRENCY_SYMBOLS: dict[str, str] = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥"}
#: What a missing figure shows as.
MISSING = "–"
_MINUS = "−"
_UNITS = (("k", 1e3), ("m", 1e6), ("bn", 1e9))


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' NA/NaT (a figure with no defined value).

    Examples
    --------
    >>> is_missing(None), is_missing(float("nan")), is_missing(0), is_missing("x")
    (True, True, False, False)
    """
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN (float, numpy) and NaT are not equal to themselves
    except (TypeError, ValueError):  # pd.NA refuses bool()
        return True


def currency_prefix(currency: Any) -> str:
    """The text written before an amount: a symbol, ``"CHF "`` for other codes, ``""`` for none.

    Examples
    --------
    >>> currency_prefix("gbp"), currency_prefix("CHF"), currency_prefix("")
    ('£', 'CHF ', '')
    """
    code = str(currency or "").strip()
    return CURRENCY_SYMBOLS.get(code.upper(), f"{code} " if code else "")


def _sign(negative: bool, body: str) -> str:
    """A minus sign for a negative number unless every digit shown is zero (no ``−0``)."""
    return _MINUS if negative and any(ch in "123456789" for ch in body) else ""


def _compact_body(a: float, decimals: int | None) -> str:
    if round(a) < 10_000:
        return f"{a:,.{0 if decimals is None else decimals}f}"
    for i, (suffix, scale) in enumerate(_UNITS):
        s = a / scale
        r = float(f"{s:.3g}")  # three significant digits decide the decimals: 9.9996 → 10.0, not 10.00
        d = decimals if decimals is not None else (2 if r < 10 else 1 if r < 100 else 0)
        text = f"{s:,.{d}f}"
        if float(text.replace(",", "")) < 1000 or i == len(_UNITS) - 1:  # 999.96k shows as 1.00m
            return text + suffix
    raise AssertionError("unreachable")  # pragma: no cover


def format_money(value: Any, currency: str = "GBP", compact: bool = False, decimals: int | None = None) -> str:
    """Money for people: currency, thousands separators, a true minus sign, no pence.

    Parameters
    ----------
    value : number
    currency : str, default "GBP"
        ISO code; see :data:`CURRENCY_SYMBOLS`. An empty code shows the bare number.
    compact : bool, default False
        Three significant digits with k/m/bn from ten thousand up (cards, charts, sentences).
    decimals : int, optional
        With ``compact``: fixed decimals instead of three significant digits (axis ticks).

    Returns
    -------
    str
        ``–`` for a missing value.

    Examples
    --------
    >>> format_money(1234567.8), format_money(1234567.8, compact=True)
    ('£1,234,568', '£1.23m')
    >>> format_money(-350_000, "GBP", True), format_money(12_500, "GBP", True), format_money(9_999, "USD", True)
    ('−£350k', '£12.5k', '$9,999')
    >>> format_money(45_200, "CHF", compact=True), format_money(2.5e9, "GBP", compact=True)
    ('CHF 45.2k', '£2.50bn')
    >>> format_money(-0.4), format_money(float("nan"))
    ('£0', '–')
    """
    if is_missing(value):
        return MISSING
    v = float(value)
    if not math.isfinite(v):
        return MISSING
    a = abs(v)
    body = _compact_body(a, decimals) if compact else f"{a:,.0f}"
    return _sign(v < 0, body) + currency_prefix(currency) + body


def format_money_change(value: Any, currency: str = "GBP", compact: bool = False) -> str:
    """A change in money (a variance, a bridge step): :func:`format_money` with a ``+`` on a rise.

    Zero (as shown) carries no sign, so ``£0`` is never ``+£0``.

    Examples
    --------
    >>> format_money_change(3_674, "GBP", True), format_money_change(-21_400, "GBP", True)
    ('+£3,674', '−£21.4k')
    >>> format_money_change(0.3), format_money_change(None)
    ('£0', '–')
    """
    text = format_money(value, currency, compact=compact)
    if text == MISSING or float(value) <= 0 or not any(ch in "123456789" for ch in text):
        return text
    return "+" + text


_RATE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(%?)\s*$")


def parse_rate(text: Any, name: str = "rate") -> float:
    """A rate a person typed, as a fraction: ``"0.08"`` and ``"8%"`` are both 8 % a year.

    A plain number above 1 is refused rather than guessed: ``8`` would otherwise be 800 %.

    Parameters
    ----------
    text : str or number
        A fraction (``0.08``) or a percentage with its sign (``8%``, ``8.5 %``).
    name : str
        What the rate is called in the error message (``"--rate"``).

    Returns
    -------
    float
        The fraction (``0.08``).

    Raises
    ------
    UsageError
        Not a number, a plain number above 1, or a rate of −100 % or below.

    Examples
    --------
    >>> parse_rate("0.08"), parse_rate("8%"), parse_rate(" 3.5 % "), parse_rate("0")
    (0.08, 0.08, 0.035, 0.0)
    >>> parse_rate("8", "--rate")
    Traceback (most recent call last):
    ...
    vmo_lib.errors.UsageError: --rate 8: a rate is a fraction (0.08) or a percentage with a % sign (8%); a plain 8 would be 800% a year. Did you mean 8%?
    """
    raw = str(text).strip()
    m = _RATE.match(raw)
    if not m:
        raise UsageError(f"{name} {raw}: expected a rate such as 0.08 or 8%")
    number, percent = float(m.group(1)), bool(m.group(2))
    value = number / 100 if percent else number
    if not percent and value > 1:
        raise UsageError(f"{name} {raw}: a rate is a fraction (0.08) or a percentage with a % sign (8%); "
                         f"a plain {raw} would be {format_number(value * 100)}% a year. Did you mean {raw}%?")
    if value <= -1:
        raise UsageError(f"{name} {raw}: a rate must be above −100%")
    return round(value, 12)  # 8% is 0.08, not 0.08000000000000002


_AMOUNT = re.compile(r"^([+-]?)\s*([^\d\s.+-]{1,3}\s?)?((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:e\+?\d+)?|\.\d+)\s*(k|m|bn)?$",
                     re.IGNORECASE)


def parse_amount(text: Any, name: str = "amount") -> float:
    """An amount of money a person typed: ``9000000``, ``9,000,000``, ``9m``, ``£9m``, ``450k``, ``1.2bn``.

    The suffixes are those :func:`format_money` writes (k, m, bn), so a figure copied from a pack
    reads back; a currency symbol in front is allowed and ignored (the cases' currency applies).

    Raises
    ------
    UsageError
        Not an amount.

    Examples
    --------
    >>> parse_amount("9m"), parse_amount("£9,000,000"), parse_amount("450k"), parse_amount("1.2bn"), parse_amount("1.2e8")
    (9000000.0, 9000000.0, 450000.0, 1200000000.0, 120000000.0)
    >>> parse_amount("nine", "--budget")
    Traceback (most recent call last):
    ...
    vmo_lib.errors.UsageError: --budget nine: expected an amount such as 9000000, 9,000,000 or 9m
    """
    raw = str(text).strip()
    m = _AMOUNT.match(raw.replace("\u2212", "-"))
    if not m:
        raise UsageError(f"{name} {raw}: expected an amount such as 9000000, 9,000,000 or 9m")
    sign, _, number, unit = m.groups()
    value = float(number.replace(",", "")) * {"": 1, "k": 1e3, "m": 1e6, "bn": 1e9}[(unit or "").lower()]
    return round(-value if sign == "-" else value, 6)


def format_percent(value: Any, digits: int = 0) -> str:
    """A fraction as a percentage: ``0.873`` → ``'87%'``; never ``−0%``.

    Examples
    --------
    >>> format_percent(0.8734, 1), format_percent(-0.25), format_percent(-0.004), format_percent(None)
    ('87.3%', '−25%', '0%', '–')
    """
    if is_missing(value) or not math.isfinite(float(value)):
        return MISSING
    v = float(value) * 100
    body = f"{abs(v):,.{digits}f}%"
    return _sign(v < 0, body) + body


def format_number(value: Any, digits: int = 0) -> str:
    """A plain number with thousands separators (text passes through); never ``−0``.

    Examples
    --------
    >>> format_number(12345.678, 1), format_number(-0.001, 2), format_number("n/a")
    ('12,345.7', '0.00', 'n/a')
    """
    if isinstance(value, str):
        return value
    if is_missing(value) or not math.isfinite(float(value)):
        return MISSING
    v = float(value)
    body = f"{abs(v):,.{digits}f}"
    return _sign(v < 0, body) + body
