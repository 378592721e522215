"""Daily closes as they arrive: a CSV file (long, or one symbol's such as Yahoo's), the ``prices``
array of a JSON import, and a provider's numbers, read into exact rows (no I/O). A close that is
not given is never invented: a row without one is skipped and counted."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from baas.core.ledger.bounds import amount_problem, date_problem
from baas.core.ledger.symbols import normalize_symbol

_DAY = re.compile(r"(\d{4}-\d\d-\d\d)(?:[T ][0-9:.+\-Z]*)?")


class PriceError(ValueError):
    """A price file or payload that cannot be read; the message names the line or entry."""


def parse_close(value: Any) -> Decimal:
    """A positive, finite close from a JSON number or a string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("must be a number")
    try:
        close = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not close.is_finite() or not close > 0:
        raise ValueError(f"{value!r} is not a positive price")
    problem = amount_problem(close)
    if problem is not None:
        raise ValueError(f"{value!r}: a close {problem}")
    return close


def parse_close_day(value: Any) -> date:
    """The date of a close: an ISO date (see ``parse_day``) within the ledger's dates."""
    day = parse_day(value)
    problem = date_problem(day)
    if problem is not None:
        raise ValueError(f"{value!r}: a date {problem}")
    return day


def parse_day(value: Any) -> date:
    """An ISO date; a date-time is read as its date (``2024-01-02 00:00:00-05:00`` → 2024-01-02)."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO date, e.g. 2024-01-02")
    match = _DAY.fullmatch(value.strip())
    try:
        if match is None:
            raise ValueError
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


def close_text(close: Decimal) -> str:
    """How a close is stored: the exact decimal, without exponent for ordinary prices."""
    text = format(close.normalize(), "f")
    return text


@dataclass(frozen=True, slots=True)
class PriceRow:
    symbol: str
    day: date
    close: Decimal


@dataclass(slots=True)
class ParsedPrices:
    rows: list[PriceRow] = field(default_factory=list)
    skipped: int = 0  # rows without a close (e.g. Yahoo's "null"): not imported, never invented


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int  # closes written
    added: int  # of which dates new for their symbol
    skipped: int
    symbols: dict[str, int]  # closes written per symbol
    first_date: date | None
    last_date: date | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "added": self.added,
            "replaced": self.imported - self.added,
            "skipped": self.skipped,
            "symbols": dict(sorted(self.symbols.items())),
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
        }


_MISSING = frozenset({"", "null", "nan", "none", "n/a", "-"})


def parse_price_csv(text: str, symbol: str | None = None) -> ParsedPrices:
    """Rows of a long CSV (``date,symbol,close[,…]``) or of a one-symbol file such as Yahoo's
    (``Date,Open,High,Low,Close,Adj Close,Volume``, with ``symbol``); the header is required and
    its names are matched without regard to case. With ``symbol`` and a long file, only that
    symbol's rows are read. Raises PriceError naming the line at fault."""
    wanted = normalize_symbol(symbol) if symbol else None
    # newline="": the csv module splits lines itself, so a bare CR ends a line as CRLF and LF do.
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        return _read_price_rows(reader, wanted)
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise PriceError(f"line {reader.line_num}: {exc}") from None


def _read_price_rows(reader: Any, wanted: str | None) -> ParsedPrices:  # a csv.reader
    header = next(reader, None)
    if not header:
        raise PriceError("the file is empty: a header line is required (date,symbol,close)")
    names = [h.strip().lower() for h in header]
    if "date" not in names or "close" not in names:
        raise PriceError(
            "the header needs a date and a close column: date,symbol,close (long) or "
            "Date,Open,High,Low,Close,Adj Close,Volume with a symbol"
        )
    i_date, i_close = names.index("date"), names.index("close")
    i_symbol = names.index("symbol") if "symbol" in names else None
    if i_symbol is None and wanted is None:
        raise PriceError("the file has no symbol column: name the symbol (--symbol SYM)")
    parsed = ParsedPrices()
    for cells in reader:
        line = reader.line_num
        if not cells or all(not c.strip() for c in cells):
            continue
        try:
            if i_symbol is not None:
                row_symbol = normalize_symbol(_cell(cells, i_symbol, "symbol"))
                if wanted is not None and row_symbol != wanted:
                    continue
            else:
                assert wanted is not None
                row_symbol = wanted
            day = parse_close_day(_cell(cells, i_date, "date"))
            raw_close = cells[i_close].strip() if i_close < len(cells) else ""
            if raw_close.lower() in _MISSING:
                parsed.skipped += 1
                continue
            close = parse_close(raw_close)
        except ValueError as exc:
            raise PriceError(f"line {line}: {exc}") from None
        parsed.rows.append(PriceRow(row_symbol, day, close))
    return parsed


def _cell(cells: list[str], index: int, name: str) -> str:
    if index >= len(cells):
        raise ValueError(f"no {name} value")
    return cells[index]


def parse_price_entries(entries: Any) -> list[PriceRow]:
    """The ``prices`` array of a JSON import: ``[{"symbol", "date", "close"}, …]``."""
    if not isinstance(entries, list):
        raise PriceError('prices must be an array of {"symbol", "date", "close"}')
    rows = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise PriceError(f'prices[{i}]: must be an object {{"symbol", "date", "close"}}')
        try:
            rows.append(
                PriceRow(
                    normalize_symbol(entry.get("symbol")),
                    parse_close_day(entry.get("date")),
                    parse_close(entry.get("close")),
                )
            )
        except ValueError as exc:
            missing = [k for k in ("symbol", "date", "close") if entry.get(k) is None]
            reason = f"{missing[0]} is required" if missing else str(exc)
            raise PriceError(f"prices[{i}]: {reason}") from None
    return rows
