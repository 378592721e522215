"""Ledger API benchmark against a live gateway process (not collected by pytest).

    .venv/bin/python -m tests.bench ledger          # embedded Valkey
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m tests.bench ledger

Times a 500-order batch POST (p50/p99), and GET /state, /nav and /performance on 10 years of
real closes (tests/data) with 1,000 and 10,000 orders of history.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import redis

from baas.core.keyspace import Keyspace
from baas.settings import Settings
from baas.store.connection import load_functions, open_store
from baas.store.embedded import EmbeddedValkey
from baas.store.ledger_prices import PriceStore, parse_price_csv
from baas.store.tenants import TenantRegistry
from tests.conftest import live_gateway, make_settings
from tests.ledger.support import SP500, STOCKS, read_closes

SYMBOLS = ("AAPL", "IBM", "MSFT")


@contextlib.contextmanager
def store_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL", "")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory() as tmp, EmbeddedValkey(Path(tmp)) as server:
        yield server.url


def orders_over(days: list[date], count: int, tag: str) -> list[dict]:
    """``count`` orders spread over ``days`` in time order, without prices (resolved from the
    closes), buys and sells so that positions stay long."""
    orders = []
    per_day: dict[date, int] = {}
    for i in range(count):
        day = days[i * len(days) // count]
        nth = per_day[day] = per_day.get(day, -1) + 1  # times increase: no backfill
        orders.append(
            {
                "symbol": SYMBOLS[i % 3],
                "side": "sell" if i % 4 == 3 else "buy",
                "quantity": 1 + i % 5,
                "fees": 1,
                "executed_at": f"{day.isoformat()}T15:{nth:02d}:00Z",
                "external_order_id": f"{tag}-{i}",
            }
        )
    return orders


def timed(client: httpx.Client, method: str, url: str, runs: int, **kwargs) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.request(method, url, **kwargs)
        times.append(time.perf_counter() - started)
        assert answer.status_code in (200, 201), answer.text
    return times


def ms(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def prepare(url: str, prefix: str) -> tuple[str, str]:
    store = open_store(url, Settings.from_env({}))
    await load_functions(store)
    keyspace = Keyspace(prefix)
    tenant, key = await TenantRegistry(store, keyspace).create_tenant("bench")
    prices = PriceStore(store, keyspace)
    for path in (STOCKS, SP500):
        await prices.import_rows(parse_price_csv(path.read_text()).rows)
    await store.aclose()
    return tenant.tenant_id, key.api_key


def strategy(client: httpx.Client, tenant_id: str, api_key: str, name: str) -> tuple[str, dict]:
    headers = {"X-Api-Key": api_key}
    sid = client.post(
        f"/tenants/{tenant_id}/api/strategies", json={"name": name}, headers=headers
    ).json()["id"]
    key = client.post(f"/strategies/{sid}/api-keys", json={"name": name}, headers=headers).json()
    return sid, {"Authorization": f"Bearer {key['plaintext']}"}


def main() -> None:
    days = sorted(read_closes(SP500)["^GSPC"])
    with store_url() as url:
        prefix = f"bench-{secrets.token_hex(4)}"
        settings = make_settings(url, prefix, ledger_key_limit=1_000_000)
        tenant_id, api_key = asyncio.run(prepare(url, prefix))
        try:
            with (
                live_gateway(settings) as base,
                httpx.Client(base_url=base, timeout=120) as client,
            ):
                run(client, tenant_id, api_key, days)
        finally:
            plain = redis.Redis.from_url(url)
            for key in plain.scan_iter(match=f"{prefix}*", count=1000):
                plain.delete(key)


def run(client: httpx.Client, tenant_id: str, api_key: str, days: list[date]) -> None:
    # 500-order batches on one strategy (history growing to 10,000 orders).
    big, big_auth = strategy(client, tenant_id, api_key, "ten-thousand")
    client.post(
        f"/api/v1/strategies/{big}/cash",
        json={"event_type": "deposit", "amount": 1_000_000, "occurred_at": "2003-01-02T14:00:00Z"},
        headers=big_auth,
    )
    orders = orders_over(days, 10_000, "o")
    times = []
    for start in range(0, len(orders), 500):
        times += timed(
            client,
            "POST",
            f"/api/v1/strategies/{big}/orders",
            1,
            json={"orders": orders[start : start + 500]},
            headers=big_auth,
        )
    print(
        f"POST /orders, 500 orders per batch (prices resolved from the closes), 20 batches: "
        f"p50 {ms(times, 0.5):.0f} ms, p99 {ms(times, 0.99):.0f} ms "
        f"(each: {', '.join(f'{t * 1000:.0f}' for t in times)})"
    )
    backfill = timed(
        client,
        "POST",
        f"/api/v1/strategies/{big}/orders",
        1,
        json={
            "orders": [
                {**orders[0], "executed_at": "2003-01-02T15:30:00Z", "external_order_id": "late"}
            ]
        },
        headers=big_auth,
    )
    print(
        f"POST /orders, one order dated before the rest (replays 10,000): {backfill[0] * 1000:.0f} ms"
    )
    small, small_auth = strategy(client, tenant_id, api_key, "one-thousand")
    client.post(
        f"/api/v1/strategies/{small}/cash",
        json={"event_type": "deposit", "amount": 1_000_000, "occurred_at": "2003-01-02T14:00:00Z"},
        headers=small_auth,
    )
    small_orders = orders_over(days, 1_000, "s")
    for start in range(0, 1_000, 500):
        client.post(
            f"/api/v1/strategies/{small}/orders",
            json={"orders": small_orders[start : start + 500]},
            headers=small_auth,
        )
    for label, sid, auth in (("1,000", small, small_auth), ("10,000", big, big_auth)):
        for tail, params, runs in (
            ("state", None, 50),
            ("nav", {"benchmark": "^GSPC"}, 5),
            ("performance", {"benchmark": "^GSPC", "risk_free_rate": "0.045"}, 5),
        ):
            times = timed(
                client, "GET", f"/api/v1/strategies/{sid}/{tail}", runs, params=params, headers=auth
            )
            print(
                f"GET /{tail} with {label} orders over 10 years: median "
                f"{statistics.median(times) * 1000:.1f} ms, best {min(times) * 1000:.1f} ms"
            )
        # After a write the NAV is rebuilt (the parsed history is reused, only its tail is read).
        after_write = []
        for n in range(5):
            client.post(
                f"/api/v1/strategies/{sid}/cash",
                json={"event_type": "dividend", "amount": 1, "occurred_at": f"2012-12-{20 + n}"},
                headers=auth,
            )
            after_write += timed(
                client,
                "GET",
                f"/api/v1/strategies/{sid}/performance",
                1,
                params={"benchmark": "^GSPC"},
                headers=auth,
            )
        print(
            f"GET /performance with {label} orders, right after a write: median "
            f"{statistics.median(after_write) * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
