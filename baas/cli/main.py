"""The ``baas`` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields

from baas import logs
from baas.cli import admin
from baas.cli import ledger as ledger_cli
from baas.settings import Settings, SettingsError, describe
from baas.store.connection import StoreNotFound

DESCRIPTION = """\
Self-hosted trading command gateway: a BaaS-compatible CloudEvents API, workers that route
signals to brokers, and a ledger.

Every setting is an environment variable starting with BAAS_ (see `baas settings`). Without
BAAS_REDIS_URL the commands use the embedded Valkey under BAAS_DATA_DIR (default ./var): the one
a running `baas run` started, or a temporary one for the length of the command."""


def _settings_table(args: argparse.Namespace, settings: Settings) -> int:
    for (name, default, doc), f in zip(describe(), fields(settings), strict=True):
        value = getattr(settings, f.name)
        current = "(set)" if f.name == "redis_url" and value else value
        print(
            f"{name.replace('`', '')}\n    default: {default.strip('`')}\n"
            f"    current: {current}\n    {doc}"
        )
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from baas.cli.supervisor import run

    return run(settings)


def _gateway(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.server import serve

    serve(settings)
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from workers.main import run_worker

    run_worker(settings)
    return 0


def _ibkr_check(args: argparse.Namespace, settings: Settings) -> int:
    from workers.ibkr import check

    ok, line = asyncio.run(check(args.host, args.port, args.client_id, args.timeout))
    print(line, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


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

    tenants = commands.add_parser(
        "tenants", help="Create and list tenants.", description="Create and list tenants."
    )
    tenant_commands = tenants.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = tenant_commands.add_parser(
        "create",
        help="Create a tenant and its first API key (the key is printed once).",
        description="Create a tenant and its first API key (the key is printed once).",
    )
    create.add_argument("--name", required=True, help="a name for people to recognise it by")
    create.add_argument(
        "--json", action="store_true", help='print {"tenant_id": ..., "api_key": ...}'
    )
    create.set_defaults(handler=_async(admin.tenants_create))
    listing = tenant_commands.add_parser("list", help="List tenants.", description="List tenants.")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_async(admin.tenants_list))

    keys = commands.add_parser(
        "keys",
        help="Create, list and revoke a tenant's API keys.",
        description="Create, list and revoke a tenant's API keys. Keys are "
        "stored only as SHA-256 digests: a key is shown once, at creation.",
    )
    key_commands = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    kcreate = key_commands.add_parser(
        "create",
        help="Create an API key (printed once).",
        description="Create an API key (printed once).",
    )
    kcreate.add_argument("--tenant", required=True, metavar="ID", help="the Tenant ID")
    kcreate.add_argument("--name", default="", help="a label for the key")
    kcreate.add_argument(
        "--json", action="store_true", help='print {"key_id": ..., "api_key": ...}'
    )
    kcreate.set_defaults(handler=_async(admin.keys_create))
    klist = key_commands.add_parser(
        "list",
        help="List a tenant's keys (never the keys themselves).",
        description="List a tenant's keys (never the keys themselves).",
    )
    klist.add_argument("--tenant", required=True, metavar="ID", help="the Tenant ID")
    klist.add_argument("--json", action="store_true", help="print JSON")
    klist.set_defaults(handler=_async(admin.keys_list))
    krevoke = key_commands.add_parser(
        "revoke",
        help="Revoke a key: every gateway answers 401 to it at once (idempotent).",
        description="Revoke a key: every gateway answers 401 to it at once (idempotent).",
    )
    krevoke.add_argument("--tenant", required=True, metavar="ID", help="the Tenant ID")
    krevoke.add_argument("key_id", metavar="KEY_ID", help="the key's id, from `baas keys list`")
    krevoke.add_argument("--json", action="store_true", help="print JSON")
    krevoke.set_defaults(handler=_async(admin.keys_revoke))
    strategies = commands.add_parser(
        "strategies",
        help="Create and list a tenant's ledger strategies.",
        description="Create and list a tenant's ledger strategies. A strategy's API keys "
        "(Authorization: Bearer fq_live_…) are made over HTTP: POST /strategies/<id>/api-keys "
        "with the tenant's X-Api-Key.",
    )
    strategy_commands = strategies.add_subparsers(dest="action", metavar="ACTION", required=True)
    screate = strategy_commands.add_parser(
        "create", help="Create a strategy.", description="Create a strategy of a tenant."
    )
    screate.add_argument("--tenant", required=True, metavar="ID", help="the Tenant ID")
    screate.add_argument("--name", required=True, help="the strategy's name")
    screate.add_argument(
        "--base-currency", default="USD", metavar="CCY", help="its currency (default USD)"
    )
    screate.add_argument("--json", action="store_true", help='print {"strategy_id": ...}')
    screate.set_defaults(handler=_async(ledger_cli.strategies_create))
    slist = strategy_commands.add_parser(
        "list", help="List a tenant's strategies.", description="List a tenant's strategies."
    )
    slist.add_argument("--tenant", required=True, metavar="ID", help="the Tenant ID")
    slist.add_argument("--json", action="store_true", help="print JSON")
    slist.set_defaults(handler=_async(ledger_cli.strategies_list))

    prices = commands.add_parser(
        "prices",
        help="Import, fetch and list daily closes (shared by every tenant).",
        description="Daily closes, for orders sent without a price, marks, NAV and benchmarks. "
        "A close missing from the store is never invented.",
    )
    price_commands = prices.add_subparsers(dest="action", metavar="ACTION", required=True)
    pimport = price_commands.add_parser(
        "import",
        help="Import closes from a CSV file.",
        description="Import closes from a CSV file with a header: long (date,symbol,close[,...]) "
        "or one symbol's Yahoo-style file (Date,Open,High,Low,Close,Adj Close,Volume) with "
        "--symbol. Rows without a close (null) are skipped. A close replaces the one of the same "
        "symbol and date.",
    )
    pimport.add_argument("file", metavar="FILE.csv", help="the CSV file")
    pimport.add_argument(
        "--symbol", metavar="SYM", help="the symbol of a file without a symbol column"
    )
    pimport.add_argument("--json", action="store_true", help="print the counts as JSON")
    pimport.set_defaults(handler=_async(ledger_cli.prices_import))
    pfetch = price_commands.add_parser(
        "fetch",
        help="Fetch closes from the price provider (Polygon, when POLYGON_API_KEY is set).",
        description="Fetch a symbol's daily closes from the price provider into the store "
        "(Polygon.io with POLYGON_API_KEY; pip install polygon-api-client).",
    )
    pfetch.add_argument("symbol", metavar="SYMBOL")
    pfetch.add_argument("--start", required=True, metavar="YYYY-MM-DD")
    pfetch.add_argument("--end", required=True, metavar="YYYY-MM-DD")
    pfetch.add_argument("--json", action="store_true", help="print JSON")
    pfetch.set_defaults(handler=_async(ledger_cli.prices_fetch))
    plist = price_commands.add_parser(
        "list",
        help="List the symbols with closes, and their latest close.",
        description="List the symbols with closes, and their latest close.",
    )
    plist.add_argument("--json", action="store_true", help="print JSON")
    plist.set_defaults(handler=_async(ledger_cli.prices_list))

    ibkr = commands.add_parser(
        "ibkr",
        help="Interactive Brokers: check that an IB Gateway answers the API.",
        description="Interactive Brokers through IB Gateway (or TWS).",
    )
    ibkr_commands = ibkr.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = ibkr_commands.add_parser(
        "check",
        help="Connect, ask for the time and the accounts; exit 0, or 1 saying why not.",
        description="Connect to IB Gateway, ask for its time and the managed accounts, print a "
        "one-line summary and exit 0; or print why not and exit 1. The gateway's socket accepts "
        "connections before its login completes, so this (not a port probe) tells it is ready.",
    )
    check.add_argument("--host", default="127.0.0.1", help="IB Gateway's host (default 127.0.0.1)")
    check.add_argument(
        "--port", type=int, default=4002, help="its API port (paper 4002, live 4001)"
    )
    check.add_argument("--client-id", type=int, default=999, help="the API client id (default 999)")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default 10)")
    check.set_defaults(handler=_ibkr_check)
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
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    try:
        return args.handler(args, settings)
    except StoreNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
