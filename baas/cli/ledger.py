"""``baas strategies …`` and ``baas prices …``: the ledger's strategies and daily closes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

import orjson

from baas.adapters.polygon import price_provider
from baas.bootstrap import cli_services
from baas.core.ledger.errors import UnknownTenant
from baas.core.ledger.price_files import PriceError, parse_price_csv
from baas.core.ledger.symbols import normalize_symbol
from baas.settings import Settings


def _print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


async def strategies_create(args: argparse.Namespace, settings: Settings) -> int:
    name = args.name.strip()
    currency = args.base_currency.strip().upper()
    if not name:
        return _error("--name must not be empty")
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        return _error("--base-currency must be a 3-letter code, e.g. USD")
    async with cli_services(settings) as cli:
        try:
            strategy = await cli.ledger.create_strategy(args.tenant, name, currency)
        except UnknownTenant:
            return _error(f"no tenant {args.tenant}")
    if args.json:
        _print_json({"strategy_id": strategy.strategy_id})
    else:
        print(f"Strategy ID: {strategy.strategy_id}  ({strategy.name}, {strategy.base_currency})")
        print("Make its API key with POST /strategies/<id>/api-keys (X-Api-Key: the tenant's key).")
    return 0


async def strategies_list(args: argparse.Namespace, settings: Settings) -> int:
    async with cli_services(settings) as cli:
        if not await cli.store.hexists(cli.keyspace.tenants, args.tenant):
            return _error(f"no tenant {args.tenant}")
        strategies = await cli.ledger.list_strategies(args.tenant)
    if args.json:
        _print_json([s.as_dict() for s in strategies])
    else:
        for s in strategies:
            default = "  (default)" if s.is_default else ""
            print(f"{s.strategy_id}  {s.created_at}  {s.base_currency}  {s.name}{default}")
    return 0


async def prices_import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _error(f"cannot read {path}: {exc}")
    try:
        parsed = parse_price_csv(text, args.symbol)
    except (PriceError, ValueError) as exc:
        return _error(f"{path}: {exc}")
    async with cli_services(settings) as cli:
        result = await cli.prices.import_rows(parsed.rows, parsed.skipped)
    if args.json:
        _print_json(result.as_dict())
    else:
        summary = ", ".join(f"{s} {n}" for s, n in sorted(result.symbols.items())) or "none"
        print(
            f"imported {result.imported} closes ({result.added} new, "
            f"{result.imported - result.added} replaced, {result.skipped} rows without a close "
            f"skipped): {summary}"
        )
    return 0


async def prices_fetch(args: argparse.Namespace, settings: Settings) -> int:
    provider = price_provider(settings)
    if provider is None:
        return _error(
            "no price provider: set BAAS_POLYGON_API_KEY (and pip install polygon-api-client)"
        )
    try:
        symbol = normalize_symbol(args.symbol)
        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    except ValueError as exc:
        return _error(str(exc))
    closes = await provider.closes(symbol, start, end)
    async with cli_services(settings) as cli:
        added = await cli.prices.put(symbol, closes)
    result = {"symbol": symbol, "provider": provider.name, "fetched": len(closes), "added": added}
    if args.json:
        _print_json(result)
    else:
        print(f"{symbol}: {len(closes)} closes from {provider.name} ({added} new)")
    return 0


async def prices_list(args: argparse.Namespace, settings: Settings) -> int:
    async with cli_services(settings) as cli:
        symbols = await cli.prices.symbols()
        latest = await cli.prices.latest(symbols)
    rows = [
        {"symbol": s, "latest_date": latest[s][0].isoformat(), "latest_close": str(latest[s][1])}
        for s in symbols
        if s in latest
    ]
    if args.json:
        _print_json(rows)
    else:
        for row in rows:
            print(f"{row['symbol']}  {row['latest_date']}  {row['latest_close']}")
    return 0


__all__ = [
    "prices_fetch",
    "prices_import",
    "prices_list",
    "strategies_create",
    "strategies_list",
]
