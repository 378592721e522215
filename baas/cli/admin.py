"""``baas tenants …`` and ``baas keys …``: tenants and their API keys."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

import orjson

from baas.bootstrap import cli_services
from baas.settings import Settings
from baas.store.capped import TooManyKeys
from baas.store.tenants import UnknownTenant


def _print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


async def tenants_create(args: argparse.Namespace, settings: Settings) -> int:
    async with cli_services(settings) as cli:
        tenant, issued = await cli.tenants.create_tenant(args.name)
    if args.json:
        _print_json({"tenant_id": tenant.tenant_id, "api_key": issued.api_key})
    else:
        print(
            f"Tenant ID: {tenant.tenant_id}\n"
            f"API key:   {issued.api_key}  (shown once: store it now)"
        )
    return 0


async def tenants_list(args: argparse.Namespace, settings: Settings) -> int:
    async with cli_services(settings) as cli:
        tenants = await cli.tenants.list_tenants()
    if args.json:
        _print_json([asdict(t) for t in tenants])
    else:
        for t in tenants:
            print(f"{t.tenant_id}  {t.created_at}  {t.name}")
    return 0


async def keys_create(args: argparse.Namespace, settings: Settings) -> int:
    async with cli_services(settings) as cli:
        try:
            issued = await cli.tenants.create_key(
                args.tenant, args.name, limit=settings.max_api_keys_per_tenant
            )
        except UnknownTenant:
            print(f"error: no tenant {args.tenant}", file=sys.stderr)
            return 1
        except TooManyKeys as exc:
            print(
                f"error: tenant {args.tenant} has {exc.limit} active keys, the most allowed "
                f"(BAAS_MAX_API_KEYS_PER_TENANT): revoke one first",
                file=sys.stderr,
            )
            return 1
    if args.json:
        _print_json({"key_id": issued.info.key_id, "api_key": issued.api_key})
    else:
        print(
            f"Key ID:  {issued.info.key_id}\nAPI key: {issued.api_key}  (shown once: store it now)"
        )
    return 0


async def keys_list(args: argparse.Namespace, settings: Settings) -> int:
    async with cli_services(settings) as cli:
        registry = cli.tenants
        if await registry.get_tenant(args.tenant) is None:
            print(f"error: no tenant {args.tenant}", file=sys.stderr)
            return 1
        keys = await registry.list_keys(args.tenant)
    if args.json:
        _print_json([asdict(k) for k in keys])
    else:
        for k in keys:
            state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
            print(f"{k.key_id}  {k.prefix}…  {k.created_at}  {state}  {k.name}")
    return 0


async def keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async with cli_services(settings) as cli:
        info = await cli.tenants.revoke_key(args.tenant, args.key_id)
    if info is None:
        print(f"error: tenant {args.tenant} has no key {args.key_id}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(asdict(info))
    else:
        print(f"revoked {info.key_id} at {info.revoked_at}")
    return 0


async def rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from baas.store.ledger_rebuild import rebuild_ledger
    from workers.rebuild import rebuild as rebuild_models

    async with cli_services(settings) as cli:
        tenants = (
            [args.tenant]
            if args.tenant
            else [t.tenant_id for t in await cli.tenants.list_tenants()]
        )
        counts = await rebuild_models(cli.store, cli.keyspace, tenants)
        for tenant_id in tenants:
            await rebuild_ledger(cli.store, cli.keyspace, tenant_id)
    for tenant_id, read in counts.items():
        print(f"{tenant_id}: rebuilt from {read} log entries")
    return 0
