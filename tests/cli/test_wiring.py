"""The CLI's commands take their objects from ``baas.bootstrap`` (one wiring place): no module of
``baas.cli`` builds a store class or a keyspace of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import baas.cli
from baas.bootstrap import cli_services

CLI = Path(baas.cli.__file__).parent
# What bootstrap builds: a CLI module that imports one of these wires its own.
WIRED_IN_BOOTSTRAP = {
    "baas.core.keyspace": {"Keyspace"},
    "baas.store.eventlog": {"EventLog"},
    "baas.store.ledger": {"LedgerStore"},
    "baas.store.ledger_prices": {"PriceStore"},
    "baas.store.multiplexed": {"MultiplexedConnection"},
    "baas.store.ratelimits": {"RateLimits"},
    "baas.store.tenants": {"TenantRegistry"},
}


def _own_wiring(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module in WIRED_IN_BOOTSTRAP:
            names = {alias.name for alias in node.names} & WIRED_IN_BOOTSTRAP[node.module]
            found += [f"{path.name}: {node.module}.{name}" for name in sorted(names)]
    return found


def test_no_cli_module_builds_its_own_store_objects() -> None:
    found = [line for path in sorted(CLI.glob("*.py")) for line in _own_wiring(path)]
    assert found == []


async def test_the_cli_services_share_one_store(settings) -> None:
    async with cli_services(settings) as cli:
        assert cli.tenants.store is cli.store
        assert cli.ledger.store is cli.store
        assert cli.prices.store is cli.store
        assert await cli.store.ping()
