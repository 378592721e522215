"""Property: whatever ledger writes the API accepts (orders, cash, snapshots, closes, at the edges
of the dates and amounts it takes and beyond), every read of the strategy still answers 200."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.support.gateway import app_client
from tests.support.store import TenantCredentials, make_settings

from .support import open_strategy

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
SYMBOLS = ("SPY", "AAPL", "BTC-USD")
READS = (
    ("state", {}),
    ("nav", {}),
    ("nav", {"benchmark": ""}),
    ("performance", {}),
    ("performance", {"benchmark": "", "risk_free_rate": "9.99"}),
    ("performance", {"benchmark": "AAPL", "risk_free_rate": "-0.99"}),
)

# Around the bounds (1970-01-01 .. 2200-12-31), inside them, and now and then outside.
days = st.sampled_from(["1970-01-01", "1970-01-02", "2024-01-02", "2024-01-03", "2200-12-31"])
days |= st.dates(date(1969, 12, 1), date(2201, 1, 31)).map(date.isoformat)
days |= st.dates().map(date.isoformat)
times = st.tuples(
    days,
    st.sampled_from(["00:00:00", "12:00:00", "23:59:59.999999"]),
    st.sampled_from(["Z", "+00:10", "-01:00", "+14:00"]),
).map(lambda t: f"{t[0]}T{t[1]}{t[2]}")
# Magnitudes at and beyond the bounds (1e-12 .. 1e15, 34 digits), and ordinary ones.
EDGES = ["1e-12", "0.000000000001", "1e-13", "999999999999999.9", "1e15", "0.5", "1", "1000"]
EDGES += ["1." + "0" * 32 + "1", "1." + "0" * 33 + "1", "123456789012345678901234567890.1234"]
positive = st.sampled_from(EDGES) | st.decimals(
    min_value=0, max_value=10**16, allow_nan=False, places=4
).map(str)
amounts = positive | positive.map(lambda a: f"-{a}")
orders = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(SYMBOLS),
        "side": st.sampled_from(["buy", "sell"]),
        "quantity": positive,
        "price": positive,
        "fees": st.sampled_from(["0", "1", "1e-12", "999999999999999"]),
        "executed_at": times,
    }
)
cash = st.fixed_dictionaries(
    {
        "event_type": st.sampled_from(["deposit", "withdraw", "dividend", "fee", "adjustment"]),
        "amount": amounts,
        "occurred_at": times,
    }
)
snapshot = st.lists(
    st.fixed_dictionaries(
        {"symbol": st.sampled_from(SYMBOLS), "quantity": amounts, "cost_basis": positive}
    ),
    max_size=3,
    unique_by=lambda p: p["symbol"],
)
closes = st.lists(
    st.fixed_dictionaries({"symbol": st.sampled_from(SYMBOLS), "date": days, "close": positive}),
    min_size=1,
    max_size=4,
)
writes = st.lists(
    st.one_of(
        st.tuples(st.just("orders"), st.lists(orders, min_size=1, max_size=3)),
        st.tuples(st.just("cash"), cash),
        st.tuples(st.just("positions/snapshot"), snapshot),
        st.tuples(st.just("prices"), closes),
    ),
    min_size=1,
    max_size=6,
)


@pytest.fixture
async def roomy(store_url: str, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app without a ledger key limit in the way of many examples."""
    async with app_client(make_settings(store_url, prefix, ledger_key_limit=1_000_000)) as c:
        yield c


async def write(
    client: httpx.AsyncClient, tenant: TenantCredentials, url: str, key: str, kind: str, body: Any
) -> int:
    if kind == "prices":
        answer = await client.post(
            f"/tenants/{tenant.tenant_id}/api/prices",
            json={"prices": body},
            headers={"X-Api-Key": tenant.api_key},
        )
    else:
        payload = {"orders": body} if kind == "orders" else body
        if kind == "positions/snapshot":
            payload = {"positions": body}
        answer = await client.post(
            f"{url}/{kind}", json=payload, headers={"Authorization": f"Bearer {key}"}
        )
    assert answer.status_code < 500, (kind, body, answer.text)
    event(f"{kind}: {answer.status_code}")
    return answer.status_code


@PROPERTY
@given(batch=writes)
async def test_every_read_answers_200_whatever_the_api_accepted(
    roomy: httpx.AsyncClient, tenant: TenantCredentials, batch: list[tuple[str, Any]]
):
    strategy_id, key = await open_strategy(roomy, tenant)
    url = f"/api/v1/strategies/{strategy_id}"
    for kind, body in batch:
        await write(roomy, tenant, url, key, kind, body)
    for tail, params in READS:
        answer = await roomy.get(
            f"{url}/{tail}", params=params, headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 200, (tail, params, batch, answer.text)
