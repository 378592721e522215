"""Ledger API benchmark against a live gateway process (not collected by pytest).

    .venv/bin/python -m bench ledger          # embedded Valkey
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python -m bench ledger

Times a 500-order batch POST (p50/p99) and a backfill, then GET /state, /nav and /performance on
10 years of real closes (tests/data) with 1,000, 10,000 and 1,000,000 orders of history: on
repeated reads, and right after a write of one more order dated after the others (on the last
session, after its other orders; then after the last close, where it waits for the next one).
The 1,000 and 10,000 orders go through the API; the 1,000,000 are written by
``LedgerStore.record_orders`` in batches of 10,000 (the API's commits, without HTTP). The first
read of a history replays it once and stores its NAV projection; later reads extend it.
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
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import redis

from baas.core.keyspace import Keyspace
from baas.core.ledger import CashEvent, Order
from baas.core.ledger.price_files import parse_price_csv
from baas.core.ledger.writes import OrderInput
from baas.settings import Settings
from baas.store.connection import load_functions, open_store
from baas.store.embedded import EmbeddedValkey
from baas.store.ledger import LedgerStore
from baas.store.ledger_prices import PriceStore
from baas.store.tenants import TenantRegistry
from tests.ledger.support import SP500, STOCKS, read_closes
from tests.support.gateway import live_gateway
from tests.support.store import make_settings

SYMBOLS = ("AAPL", "IBM", "MSFT")
BENCHMARK = "^GSPC"
LOAD_BATCH = 10_000


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


async def load_orders(
    url: str, prefix: str, tenant_id: str, strategy_id: str, days: list[date], count: int
) -> float:
    """A deposit and ``count`` orders over ``days`` (each day's at 14:00:00, 14:00:01, …),
    recorded in batches of LOAD_BATCH; returns the seconds it took."""
    store = open_store(url, Settings.from_env({}))
    ledger = LedgerStore(store, Keyspace(prefix))
    closes = read_closes(STOCKS)

    async def no_lookup(_: object) -> dict:
        return {}  # every order has its price

    started = time.perf_counter()
    first = days[0]
    await ledger.record_cash(
        tenant_id,
        strategy_id,
        CashEvent(
            "deposit", Decimal(1_000_000_000), datetime(*first.timetuple()[:3], 10, tzinfo=UTC)
        ),
    )
    batch: list[OrderInput] = []
    per_day: dict[date, int] = {}
    for i in range(count):
        day = days[i * len(days) // count]
        nth = per_day[day] = per_day.get(day, -1) + 1
        symbol = SYMBOLS[i % 3]
        at = datetime(day.year, day.month, day.day, 14, tzinfo=UTC) + timedelta(seconds=nth)
        side = "sell" if i % 4 == 3 else "buy"
        order = Order(symbol, side, Decimal(1 + i % 5), closes[symbol][day], at, fees=Decimal(1))
        batch.append(OrderInput(order))
        if len(batch) == LOAD_BATCH:
            await ledger.record_orders(tenant_id, strategy_id, batch, no_lookup)
            batch = []
    if batch:
        await ledger.record_orders(tenant_id, strategy_id, batch, no_lookup)
    elapsed = time.perf_counter() - started
    await store.aclose()
    return elapsed


def strategy(client: httpx.Client, tenant_id: str, api_key: str, name: str) -> tuple[str, dict]:
    headers = {"X-Api-Key": api_key}
    sid = client.post(
        f"/tenants/{tenant_id}/api/strategies", json={"name": name}, headers=headers
    ).json()["id"]
    key = client.post(f"/strategies/{sid}/api-keys", json={"name": name}, headers=headers).json()
    return sid, {"Authorization": f"Bearer {key['plaintext']}"}


def main() -> None:
    days = sorted(read_closes(SP500)[BENCHMARK])
    with store_url() as url:
        prefix = f"bench-{secrets.token_hex(4)}"
        settings = make_settings(url, prefix, ledger_key_limit=1_000_000)
        tenant_id, api_key = asyncio.run(prepare(url, prefix))
        try:
            with (
                live_gateway(settings) as base,
                httpx.Client(base_url=base, timeout=300) as client,
            ):
                run(client, url, prefix, tenant_id, api_key, days)
        finally:
            plain = redis.Redis.from_url(url)
            for key in plain.scan_iter(match=f"{prefix}*", count=1000):
                plain.delete(key)


def run(
    client: httpx.Client, url: str, prefix: str, tenant_id: str, api_key: str, days: list[date]
) -> None:
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
    huge, huge_auth = strategy(client, tenant_id, api_key, "one-million")
    seconds = asyncio.run(load_orders(url, prefix, tenant_id, huge, days, 1_000_000))
    print(
        f"1,000,000 orders recorded through LedgerStore.record_orders ({LOAD_BATCH:,} a batch): "
        f"{seconds:.1f} s = {1_000_000 / seconds:,.0f} orders/s"
    )

    perf = {"benchmark": BENCHMARK, "risk_free_rate": "0.045"}
    for label, sid, auth in (
        ("1,000", small, small_auth),
        ("10,000", big, big_auth),
        ("1,000,000", huge, huge_auth),
    ):
        base = f"/api/v1/strategies/{sid}"
        first = timed(client, "GET", f"{base}/performance", 1, params=perf, headers=auth)
        print(
            f"\n{label} orders over 10 years: first GET /performance (replays the history once, "
            f"stores the NAV projection): {first[0] * 1000:.0f} ms"
        )
        for tail, params, runs in (
            ("state", None, 50),
            ("nav", {"benchmark": BENCHMARK}, 10),
            ("performance", perf, 20),
        ):
            times = timed(client, "GET", f"{base}/{tail}", runs, params=params, headers=auth)
            print(
                f"  GET /{tail}, repeated: median {statistics.median(times) * 1000:.1f} ms, "
                f"best {min(times) * 1000:.1f} ms"
            )
        last = days[-1]
        for when, moment in (
            ("on the last session, after its other orders", datetime(*last.timetuple()[:3], 20)),
            ("after the last close", datetime(*(last + timedelta(days=2)).timetuple()[:3], 15)),
        ):
            posts: list[float] = []
            after: dict[str, list[float]] = {"state": [], "performance": []}
            for n in range(30):
                tail = "state" if n % 2 else "performance"
                executed_at = (moment + timedelta(seconds=n)).isoformat() + "Z"
                order = {"symbol": "IBM", "side": "buy", "quantity": 1, "price": 190}
                posts += timed(
                    client,
                    "POST",
                    f"{base}/orders",
                    1,
                    json={"orders": [{**order, "executed_at": executed_at}]},
                    headers=auth,
                )
                params = perf if tail == "performance" else None
                after[tail] += timed(
                    client, "GET", f"{base}/{tail}", 1, params=params, headers=auth
                )
            print(
                f"  right after a write of one order dated {when}: "
                f"POST median {statistics.median(posts) * 1000:.1f} ms; "
                + "; ".join(
                    f"GET /{tail} median {statistics.median(t) * 1000:.1f} ms, "
                    f"p90 {ms(t, 0.9):.1f} ms"
                    for tail, t in after.items()
                )
            )


if __name__ == "__main__":
    main()
