"""The ``baas`` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields

from baas import logs
from baas.cli import admin
from baas.settings import Settings, SettingsError, describe

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
    return args.handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
