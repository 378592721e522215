"""The ``baas`` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from redis.exceptions import RedisError

from baas import logs
from baas.cli import admin
from baas.cli import ledger as ledger_cli
from baas.cli import store_check as store_check_cli
from baas.core.surrogates import is_text
from baas.settings import Settings, SettingsError, describe
from baas.store.connection import StoreNotFound, StoreUnusable, store_url, verify_store
from baas.store.embedded import StoreDamaged, StoreLocked

DESCRIPTION = """\
Self-hosted trading command gateway: a BaaS-compatible CloudEvents API, workers that route
signals to brokers, and a ledger.

Every setting is an environment variable starting with BAAS_ (see `baas settings`). Without
BAAS_REDIS_URL the commands use the embedded Valkey under BAAS_DATA_DIR (default ./var): the one
a running `baas run` started, or a temporary one for the length of the command."""


def _settings_table(args: argparse.Namespace, settings: Settings) -> int:
    for (name, default, doc), f in zip(describe(), fields(settings), strict=True):
        value = getattr(settings, f.name)
        current = "(set)" if f.metadata["secret"] and value else value
        print(
            f"{name.replace('`', '')}\n    default: {default.strip('`')}\n"
            f"    current: {current}\n    {doc}"
        )
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from baas.cli.supervisor import run

    return run(settings)


def _require_usable_store(settings: Settings) -> None:
    asyncio.run(verify_store(store_url(settings), settings))


def _gateway(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.server import serve

    _require_usable_store(settings)
    serve(settings)
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from workers.main import run_worker

    _require_usable_store(settings)
    run_worker(settings)
    return 0


def _ibkr_check(args: argparse.Namespace, settings: Settings) -> int:
    from workers.ibkr import check

    ok, line = asyncio.run(check(args.host, args.port, args.client_id, args.timeout))
    print(line, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def name_text(value: str) -> str:
    """A name given on the command line: bytes that are not UTF-8 arrive as lone surrogates,
    which can be neither stored nor shown."""
    if not is_text(value):
        raise argparse.ArgumentTypeError("must be UTF-8 text")
    return value


def _async(handler: Callable[[argparse.Namespace, Settings], object]) -> Callable[..., int]:
    def call(args: argparse.Namespace, settings: Settings) -> int:
        return asyncio.run(handler(args, settings))  # type: ignore[arg-type]

    return call


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baas", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, help: str, handler: Callable[..., int], epilog: str = ""
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help,
            description=help,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        return sub

    command(
        "run",
        "Run everything: the embedded store (unless BAAS_REDIS_URL is set), the gateway "
        "and the worker. On an empty store, creates a first tenant and API key and prints them "
        "once.",
        _run,
        epilog="Ctrl-C stops every process cleanly; the data stays in BAAS_DATA_DIR.",
    )
    command("gateway", "Run only the HTTP gateway (uvicorn) on BAAS_HOST:BAAS_PORT.", _gateway)
    command("worker", "Run only a worker process (arq) on the store.", _worker)
    command(
        "settings",
        "List every setting: environment variable, default, current value.",
        _settings_table,
    )

    def group(name: str, help: str, description: str | None = None) -> Any:
        sub = commands.add_parser(name, help=help, description=description or help)
        return sub.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(
        actions: Any,
        name: str,
        help: str,
        handler: Callable[..., int],
        *,
        description: str | None = None,
        tenant: bool = False,
        json_help: str | None = "print JSON",
    ) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help, description=description or help)
        if tenant:
            sub.add_argument("--tenant", required=True, metavar="ID", help="the Tenant ID")
        if json_help:
            sub.add_argument("--json", action="store_true", help=json_help)
        sub.set_defaults(handler=handler)
        return sub

    tenants = group("tenants", "Create and list tenants.")
    create = action(
        tenants,
        "create",
        "Create a tenant and its first API key (the key is printed once).",
        _async(admin.tenants_create),
        json_help='print {"tenant_id": ..., "api_key": ...}',
    )
    create.add_argument(
        "--name", required=True, type=name_text, help="a name for people to recognise it by"
    )
    action(tenants, "list", "List tenants.", _async(admin.tenants_list))

    keys = group(
        "keys",
        "Create, list and revoke a tenant's API keys.",
        "Create, list and revoke a tenant's API keys. Keys are stored only as SHA-256 digests: "
        "a key is shown once, at creation.",
    )
    kcreate = action(
        keys,
        "create",
        "Create an API key (printed once).",
        _async(admin.keys_create),
        tenant=True,
        json_help='print {"key_id": ..., "api_key": ...}',
    )
    kcreate.add_argument("--name", default="", type=name_text, help="a label for the key")
    action(
        keys,
        "list",
        "List a tenant's keys (never the keys themselves).",
        _async(admin.keys_list),
        tenant=True,
    )
    krevoke = action(
        keys,
        "revoke",
        "Revoke a key: every gateway answers 401 to it at once (idempotent).",
        _async(admin.keys_revoke),
        tenant=True,
    )
    krevoke.add_argument("key_id", metavar="KEY_ID", help="the key's id, from `baas keys list`")

    strategies = group(
        "strategies",
        "Create and list a tenant's ledger strategies.",
        "Create and list a tenant's ledger strategies. A strategy's API keys "
        "(Authorization: Bearer fq_live_…) are made over HTTP: POST /strategies/<id>/api-keys "
        "with the tenant's X-Api-Key.",
    )
    screate = action(
        strategies,
        "create",
        "Create a strategy.",
        _async(ledger_cli.strategies_create),
        description="Create a strategy of a tenant.",
        tenant=True,
        json_help='print {"strategy_id": ...}',
    )
    screate.add_argument("--name", required=True, type=name_text, help="the strategy's name")
    screate.add_argument(
        "--base-currency", default="USD", metavar="CCY", help="its currency (default USD)"
    )
    action(
        strategies,
        "list",
        "List a tenant's strategies.",
        _async(ledger_cli.strategies_list),
        tenant=True,
    )

    prices = group(
        "prices",
        "Import, fetch and list daily closes (shared by every tenant).",
        "Daily closes, for orders sent without a price, marks, NAV and benchmarks. "
        "A close missing from the store is never invented.",
    )
    prices_import = action(
        prices,
        "import",
        "Import closes from a CSV file.",
        _async(ledger_cli.prices_import),
        description="Import closes from a CSV file with a header: long (date,symbol,close[,...]) "
        "or one symbol's Yahoo-style file (Date,Open,High,Low,Close,Adj Close,Volume) with "
        "--symbol. Rows without a close (null) are skipped. A close replaces the one of the same "
        "symbol and date.",
        json_help="print the counts as JSON",
    )
    prices_import.add_argument("file", metavar="FILE.csv", help="the CSV file")
    prices_import.add_argument(
        "--symbol", metavar="SYM", help="the symbol of a file without a symbol column"
    )
    pfetch = action(
        prices,
        "fetch",
        "Fetch closes from the price provider (Polygon, when POLYGON_API_KEY is set).",
        _async(ledger_cli.prices_fetch),
        description="Fetch a symbol's daily closes from the price provider into the store "
        "(Polygon.io with POLYGON_API_KEY; pip install polygon-api-client).",
    )
    pfetch.add_argument("symbol", metavar="SYMBOL")
    pfetch.add_argument("--start", required=True, metavar="YYYY-MM-DD")
    pfetch.add_argument("--end", required=True, metavar="YYYY-MM-DD")
    action(
        prices,
        "list",
        "List the symbols with closes, and their latest close.",
        _async(ledger_cli.prices_list),
    )

    ibkr = group(
        "ibkr",
        "Interactive Brokers: check that an IB Gateway answers the API.",
        "Interactive Brokers through IB Gateway (or TWS).",
    )
    check = action(
        ibkr,
        "check",
        "Connect, ask for the time and the accounts; exit 0, or 1 saying why not.",
        _ibkr_check,
        description="Connect to IB Gateway, ask for its time and the managed accounts, print a "
        "one-line summary and exit 0; or print why not and exit 1. The gateway's socket accepts "
        "connections before its login completes, so this (not a port probe) tells it is ready.",
        json_help=None,
    )
    check.add_argument("--host", default="127.0.0.1", help="IB Gateway's host (default 127.0.0.1)")
    check.add_argument(
        "--port", type=int, default=4002, help="its API port (paper 4002, live 4001)"
    )
    check.add_argument("--client-id", type=int, default=999, help="the API client id (default 999)")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default 10)")

    store = group(
        "store",
        "Check the embedded store's append-only file.",
        "The embedded store's files under BAAS_DATA_DIR (stop `baas run` first).",
    )
    store_check = action(
        store,
        "check",
        "Is the append-only file whole? If not: what is damaged, and what a cut would lose.",
        store_check_cli.store_check,
        json_help=None,
    )
    store_check.add_argument(
        "--fix", action="store_true", help="cut the damaged last part (a copy is kept)"
    )

    rebuild = commands.add_parser(
        "rebuild",
        help="Drop the read models (alerts, brokers, paper accounts, signal history) and rebuild "
        "them from the event log. Stop the workers first.",
        description="Drop the read models (alerts, brokers, paper accounts, signal history) and "
        "rebuild them from the event log, the source of truth. Stop the workers first.",
    )
    rebuild.add_argument("--tenant", metavar="ID", help="only this tenant (default: all)")
    rebuild.set_defaults(handler=_async(admin.rebuild))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`baas settings | head`): stop quietly. Python flushes stdout again at
        # exit; pointed at /dev/null, that flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    logs.configure(settings.log_level)
    try:
        return args.handler(args, settings)
    except (StoreNotFound, StoreUnusable, StoreDamaged, StoreLocked) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise
    except RedisError as exc:  # the store went away in the middle of a command
        print(f"error: the store failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a data directory that cannot be made, a socket refused
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
