"""``baas run``: the whole service in one command.

Starts the embedded Valkey (unless ``BAAS_REDIS_URL`` names a server), creates a first tenant and
key on an empty store, then runs the gateway and the worker as child processes. Ctrl-C (or
SIGTERM) stops the children first, then the store, which flushes its append-only file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from baas.cli.store_access import store_session
from baas.core.keyspace import Keyspace
from baas.settings import Settings, env_name
from baas.store.embedded import EmbeddedValkey, StoreLocked
from baas.store.tenants import TenantRegistry

CHILD_STOP_SECONDS = 10.0
STARTER_ALERT = "my-first-alert"


def first_request(base_url: str, tenant_id: str, api_key: str) -> str:
    return f"""curl -X POST {base_url}/tenants/{tenant_id}/api/trading \\
  -H "X-Api-Key: {api_key}" \\
  -H "Content-Type: application/json" \\
  -d '{{"id": "evt-'$(date +%s%N)'", "type": "SubmitSignal", "source": "trading",
       "dataSchema": "submit-signal/1.0", "dataContentType": "application/json",
       "time": "'$(date -u +%Y-%m-%dT%H:%M:%SZ)'",
       "data": {{"CorrelationId": "{STARTER_ALERT}", "TenantId": "{tenant_id}",
                "Id": "sig-'$(date +%s%N)'", "BrokerId": "paper", "Symbol": "AAPL",
                "Date": "'$(date -u +%Y-%m-%dT%H:%M:%SZ)'", "Data": "buy", "Quantity": 10,
                "Price": 200.0, "OrderType": "MKT", "InstrumentType": "STK",
                "AccountRiskPercentage": 0, "AccountQuantityMultiplier": 0}}}}'"""


@dataclass(frozen=True)
class FirstStart:
    tenant_id: str
    api_key: str


async def _bootstrap(settings: Settings) -> FirstStart | str:
    """Create the first tenant on an empty store; else the line that lists the tenants."""
    async with store_session(settings) as store:
        registry = TenantRegistry(store, Keyspace(settings.key_prefix))
        tenants = await registry.list_tenants()
        if tenants:
            ids = ", ".join(t.tenant_id for t in tenants)
            return (
                f"Tenants: {ids}\n"
                "A new API key: baas keys create --tenant <Tenant ID>   (see baas keys --help)"
            )
        tenant, issued = await registry.create_tenant("default")
    return FirstStart(tenant.tenant_id, issued.api_key)


def _configure_starter_alert(base_url: str, first: FirstStart) -> None:
    """Through the API itself: the alert the quick start's signal names, on the paper broker."""
    command = {
        "id": STARTER_ALERT,
        "type": "ConfigureIndicatorAlert",
        "source": "baas-run",
        "data": {"AlertId": STARTER_ALERT, "Name": "Quick start", "BrokerId": "paper"},
    }
    request = urllib.request.Request(
        f"{base_url}/tenants/{first.tenant_id}/api/trading",
        data=json.dumps(command).encode(),
        headers={"X-Api-Key": first.api_key, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _first_start_banner(base_url: str, first: FirstStart) -> str:
    tenant, key = first.tenant_id, first.api_key
    return (
        "First start: created a tenant, an API key and an alert on the paper broker.\n"
        f"  Tenant ID: {tenant}\n"
        f"  API key:   {key}\n"
        "  (the key is shown only this once: store it now)\n\n"
        "Send a first signal (it fills in the paper account):\n"
        f"{first_request(base_url, tenant, key)}\n\n"
        "Then see it, with its whole lifecycle:\n"
        f'curl {base_url}/tenants/{tenant}/api/signals -H "X-Api-Key: {key}"'
    )


def _wait_healthy(
    url: str, children: Sequence[subprocess.Popen[bytes]], timeout: float = 30.0
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return True
        time.sleep(0.1)
    return False


def _stop(children: Sequence[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + CHILD_STOP_SECONDS
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def run(settings: Settings) -> int:
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with contextlib.ExitStack() as stack:
        env = dict(os.environ)
        if settings.embedded:
            try:
                store = stack.enter_context(
                    EmbeddedValkey(settings.data_dir, appendfsync=settings.appendfsync)
                )
            except StoreLocked as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            env[env_name("redis_url")] = store.url
            print(
                f"Embedded Valkey: data in {store.data_dir} "
                f"(append-only, fsync {settings.appendfsync})"
            )
            settings = Settings.from_env(env)
        banner = asyncio.run(_bootstrap(settings))
        # Children get their own process group: Ctrl-C reaches only us, and we stop them in order.
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "baas.cli.main", role], env=env, process_group=0
            )
            for role in ("gateway", "worker")
        ]
        probe_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        try:
            if not _wait_healthy(f"http://{probe_host}:{settings.port}/healthz", children):
                print("error: the gateway did not start; see its log above", file=sys.stderr)
                return 1
            if isinstance(banner, FirstStart):
                _configure_starter_alert(f"http://{probe_host}:{settings.port}", banner)
                banner = _first_start_banner(settings.base_url, banner)
            print(
                f"\nGateway: {settings.base_url}   (Ctrl-C stops everything)\n{banner}\n",
                flush=True,
            )
            while not stopping:
                if any(child.poll() is not None for child in children):
                    print("error: a child process exited; stopping", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            return 0
        finally:
            _stop(children)
    return 0
