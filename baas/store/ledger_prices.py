"""Daily closes in the store, what fills them (CSV files, HTTP imports, price providers), and what
reads them (order prices, marks, NAV, benchmarks).

Layout (see ``Keyspace``): per symbol, a hash ``{px:SYMBOL}:closes`` of ISO date → close (an exact
decimal string) and ``{px:SYMBOL}:latest`` (``<date> <close>`` of the newest date); a global set
of the symbols known. These are shared by every tenant (the operator's imports, the provider's
closes). A tenant's own imports live under its hash tag (``{t:TENANT}:px:SYMBOL:closes``) and win,
for that tenant, over the shared close of the same date. A close that is not in the store is
never invented: no interpolation, no carrying over into a missing date when an order's price is
resolved (the NAV carries a held symbol's last close, see ``baas.core.ledger.nav``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import redis.asyncio as aioredis

from baas.core.keyspace import Keyspace
from baas.core.ledger.bounds import amount_problem, date_problem

log = logging.getLogger("baas.prices")

SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.^=_:+-]{0,31}|\^[A-Z0-9.=_:+-]{1,31}")
PUT_CHUNK = 2000  # (date, close) pairs per server-side call
_DAY = re.compile(r"(\d{4}-\d\d-\d\d)(?:[T ][0-9:.+\-Z]*)?")


class PriceError(ValueError):
    """A price file or payload that cannot be read; the message names the line or entry."""


def normalize_symbol(value: Any) -> str:
    """Upper-case ticker (``aapl`` → ``AAPL``; ``BTC-USD``, ``^GSPC``, ``BRK.B``, ``ES=F``)."""
    if not isinstance(value, str):
        raise ValueError("must be a string, e.g. AAPL")
    symbol = value.strip().upper()
    if not SYMBOL.fullmatch(symbol):
        raise ValueError(
            f"{value!r} is not a ticker: 1 to 32 letters, digits or . ^ = _ : + -, e.g. AAPL"
        )
    return symbol


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


# Providers


class PriceProvider(Protocol):
    """Where closes the store lacks can come from (Polygon; room for IBKR historical bars)."""

    name: str

    async def closes(self, symbol: str, start: date, end: date) -> dict[date, Decimal]:
        """Daily closes of ``symbol`` from ``start`` to ``end`` inclusive (only dates with one)."""
        ...


class PolygonProvider:
    """Daily aggregates from Polygon.io (``pip install polygon-api-client``), as traded
    (``adjusted=False``: the marks agree with the fill prices an order reports; splits are not
    adjusted). A bar's date is its session's date in New York."""

    name = "polygon"

    def __init__(self, api_key: str, client: Any = None) -> None:
        if client is None:
            try:
                from polygon import RESTClient  # optional dependency, imported only when used
            except ImportError as exc:
                raise RuntimeError(
                    "POLYGON_API_KEY is set but polygon-api-client is not installed: "
                    "pip install 'polygon-api-client>=1.14'"
                ) from exc
            client = RESTClient(api_key)
        self._client = client

    async def closes(self, symbol: str, start: date, end: date) -> dict[date, Decimal]:
        return await asyncio.to_thread(self._closes, symbol, start, end)

    def _closes(self, symbol: str, start: date, end: date) -> dict[date, Decimal]:
        from zoneinfo import ZoneInfo

        new_york = ZoneInfo("America/New_York")
        found: dict[date, Decimal] = {}
        aggs = self._client.list_aggs(
            symbol, 1, "day", start.isoformat(), end.isoformat(), adjusted=False, limit=50000
        )
        for bar in aggs:
            close, stamp = getattr(bar, "close", None), getattr(bar, "timestamp", None)
            if close is None or stamp is None:
                continue
            day = datetime.fromtimestamp(stamp / 1000, UTC).astimezone(new_york).date()
            if start <= day <= end:
                found[day] = parse_close(close)
        return found


# IBKR historical bars fit the same protocol: an ``IbkrBarsProvider(ib)`` would call
# ``ib.reqHistoricalDataAsync(contract, end, "N D", "1 day", "TRADES", useRTH=True)`` on the
# broker's ib_async connection and map ``bar.date → bar.close``.


def provider_from_env(environ: Mapping[str, str] | None = None) -> PriceProvider | None:
    """Polygon when ``POLYGON_API_KEY`` is set (and its client installed), else none."""
    env = os.environ if environ is None else environ
    api_key = env.get("POLYGON_API_KEY", "").strip()
    if not api_key:
        return None
    try:
        return PolygonProvider(api_key)
    except RuntimeError as exc:
        log.warning("price provider unavailable", extra={"reason": str(exc)})
        return None


# The store


def _usable(close: str) -> bool:
    """False for a close stored before closes were bounded (1e-30): it is never read."""
    return amount_problem(Decimal(close)) is None


class PriceStore:
    def __init__(
        self,
        store: aioredis.Redis,
        keyspace: Keyspace,
        provider: PriceProvider | None = None,
        provider_days: int = 10,
    ) -> None:
        self.store = store
        self.keys = keyspace
        self.provider = provider
        # A close asked of the provider brings the days before it too (one call, a week's cache).
        self.provider_days = provider_days

    async def put(
        self, symbol: str, closes: Mapping[date, Decimal], tenant_id: str | None = None
    ) -> int:
        """Write ``closes`` of one symbol (replacing closes of the same dates), shared or
        ``tenant_id``'s own; the number of new dates."""
        symbol = normalize_symbol(symbol)
        pairs = sorted((d.isoformat(), close_text(c)) for d, c in closes.items())
        added = 0
        for start in range(0, len(pairs), PUT_CHUNK):
            args = [x for pair in pairs[start : start + PUT_CHUNK] for x in pair]
            added += int(
                await self.store.fcall(
                    "baas_prices_put",
                    2,
                    self.keys.price_closes(symbol, tenant_id),
                    self.keys.price_latest(symbol, tenant_id),
                    *args,
                )
            )
        if pairs:
            symbols = (
                self.keys.price_symbols
                if tenant_id is None
                else self.keys.tenant_price_symbols(tenant_id)
            )
            async with self.store.pipeline(transaction=False) as pipe:
                pipe.sadd(symbols, symbol)
                pipe.incr(self.keys.price_generation)
                await pipe.execute()
        return added

    async def import_rows(
        self, rows: Iterable[PriceRow], skipped: int = 0, tenant_id: str | None = None
    ) -> ImportResult:
        by_symbol: dict[str, dict[date, Decimal]] = {}
        for row in rows:
            by_symbol.setdefault(row.symbol, {})[row.day] = row.close
        added = 0
        for symbol, closes in by_symbol.items():
            added += await self.put(symbol, closes, tenant_id)
        days = [d for closes in by_symbol.values() for d in closes]
        return ImportResult(
            imported=sum(len(c) for c in by_symbol.values()),
            added=added,
            skipped=skipped,
            symbols={s: len(c) for s, c in by_symbol.items()},
            first_date=min(days) if days else None,
            last_date=max(days) if days else None,
        )

    async def symbols(self) -> list[str]:
        """The symbols with shared closes."""
        return sorted(m.decode() for m in await self.store.smembers(self.keys.price_symbols))

    def _sources(self, tenant_id: str | None) -> tuple[str | None, ...]:
        """Where a tenant's closes come from, the one that wins last: shared, then its own."""
        return (None,) if tenant_id is None else (None, tenant_id)

    async def closes(
        self, symbols: Collection[str], tenant_id: str | None = None
    ) -> dict[str, dict[date, str]]:
        """Every close of each symbol (exact decimal strings), the shared ones and, with
        ``tenant_id``, the tenant's own, which win on their dates; a symbol without any is
        left out."""
        ordered = sorted(set(symbols))
        if not ordered:
            return {}
        sources = self._sources(tenant_id)
        async with self.store.pipeline(transaction=False) as pipe:
            for symbol in ordered:
                for source in sources:
                    pipe.hgetall(self.keys.price_closes(symbol, source))
            replies = iter(await pipe.execute())
        found = {}
        for symbol in ordered:
            series: dict[date, str] = {}
            for _ in sources:
                rows = next(replies)
                series.update(
                    (date.fromisoformat(d.decode()), c.decode())
                    for d, c in rows.items()
                    if _usable(c.decode())
                )
            if series:
                found[symbol] = dict(sorted(series.items()))
        return found

    async def closes_of(
        self,
        symbol: str,
        start: date | None = None,
        end: date | None = None,
        tenant_id: str | None = None,
    ) -> dict[date, Decimal]:
        series = (await self.closes([symbol], tenant_id)).get(symbol, {})
        return {
            d: Decimal(c)
            for d, c in series.items()
            if (start is None or d >= start) and (end is None or d <= end)
        }

    async def latest(
        self, symbols: Collection[str], tenant_id: str | None = None
    ) -> dict[str, tuple[date, Decimal]]:
        """The newest close of each symbol that has one (the tenant's on a date both have)."""
        ordered = sorted(set(symbols))
        if not ordered:
            return {}
        sources = self._sources(tenant_id)
        async with self.store.pipeline(transaction=False) as pipe:
            for symbol in ordered:
                for source in sources:
                    pipe.get(self.keys.price_latest(symbol, source))
            replies = iter(await pipe.execute())
        found: dict[str, tuple[date, Decimal]] = {}
        for symbol in ordered:
            for _ in sources:
                raw = next(replies)
                if not raw:
                    continue
                day, _, close = raw.decode().partition(" ")
                newest = found.get(symbol)
                if _usable(close) and (newest is None or date.fromisoformat(day) >= newest[0]):
                    found[symbol] = (date.fromisoformat(day), Decimal(close))
        return found

    async def closes_on(
        self, wanted: Collection[tuple[str, date]], tenant_id: str | None = None
    ) -> dict[tuple[str, date], Decimal]:
        """The close of each (symbol, date) the store has (the tenant's own first), else the
        provider's (then stored, shared); pairs with no close anywhere are left out."""
        pairs = sorted(set(wanted))
        if not pairs:
            return {}
        sources = self._sources(tenant_id)
        async with self.store.pipeline(transaction=False) as pipe:
            for symbol, day in pairs:
                for source in sources:
                    pipe.hget(self.keys.price_closes(symbol, source), day.isoformat())
            replies = iter(await pipe.execute())
        found = {}
        for pair in pairs:
            for _ in sources:
                raw = next(replies)
                if raw and _usable(raw.decode()):
                    found[pair] = Decimal(raw.decode())
        missing = [pair for pair in pairs if pair not in found]
        if missing and self.provider is not None:
            found.update(await self._from_provider(missing))
        return found

    async def _from_provider(
        self, missing: list[tuple[str, date]]
    ) -> dict[tuple[str, date], Decimal]:
        assert self.provider is not None
        by_symbol: dict[str, list[date]] = {}
        for symbol, day in missing:
            by_symbol.setdefault(symbol, []).append(day)
        found: dict[tuple[str, date], Decimal] = {}
        for symbol, days in by_symbol.items():
            start = min(days) - timedelta(days=self.provider_days)
            try:
                closes = await self.provider.closes(symbol, start, max(days))
            except Exception as exc:  # a provider's outage must not fail the request
                log.warning(
                    "price provider failed",
                    extra={"provider": self.provider.name, "symbol": symbol, "error": str(exc)},
                )
                continue
            if closes:
                await self.put(symbol, closes)
            found.update({(symbol, d): closes[d] for d in days if d in closes})
        return found
