"""A trader who only sends signals gets a ledger: fills become orders of the alert's strategy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import orjson

from baas.core.trading.paper import PaperAccount
from baas.store.ledger import LedgerStore
from baas.store.ledger_prices import PriceStore
from tests.support.trading_desk import handle_again


async def test_paper_fills_reach_the_default_strategy_with_the_starting_cash(trading_desk):
    await trading_desk.alert()
    await trading_desk.signal(Quantity=10, Price=200.0)
    await trading_desk.signal(Data="sell", Quantity=4, Price=210.0)
    await trading_desk.drain()
    ledger = LedgerStore(trading_desk.store, trading_desk.keyspace)
    strategy_id = await ledger.default_strategy_id(trading_desk.tenant.tenant_id)
    state = (await ledger.projection(trading_desk.tenant.tenant_id, strategy_id)).state
    assert state.positions["AAPL"].quantity == Decimal(6)
    assert state.cash == Decimal(100_000) - 10 * 200 + 4 * 210


async def test_fills_go_to_the_alert_strategy_once_even_when_handled_again(trading_desk):
    ledger = LedgerStore(trading_desk.store, trading_desk.keyspace)
    strategy = await ledger.create_strategy(trading_desk.tenant.tenant_id, "momentum")
    await trading_desk.alert(StrategyId=strategy.strategy_id)
    await trading_desk.signal(Quantity=3, Price=100.0)
    await trading_desk.drain()
    # Every logged entry once more, as after a crash before the acknowledgements.
    for entry_id, fields in await trading_desk.store.xrange(
        trading_desk.keyspace.tenant_log(trading_desk.tenant.tenant_id)
    ):
        event = orjson.loads(fields[b"event"])
        await handle_again(
            trading_desk.consumer, trading_desk.tenant.tenant_id, entry_id.decode(), event
        )
        await handle_again(
            trading_desk.ledger_consumer, trading_desk.tenant.tenant_id, entry_id.decode(), event
        )
    history = await ledger.history(trading_desk.tenant.tenant_id, strategy.strategy_id)
    orders = [e for e in history if hasattr(e, "side")]
    assert len(orders) == 1
    state = (await ledger.projection(trading_desk.tenant.tenant_id, strategy.strategy_id)).state
    assert state.positions["AAPL"].quantity == 3
    assert state.cash == Decimal(100_000) - 300


async def test_the_ledger_values_fills_as_the_paper_account_does_whatever_old_closes_it_has(
    trading_desk,
):
    """Closes imported up to 2013, fills now: a fill's price is the symbol's newest price, so the
    strategy's /state, /nav and /performance give the paper account's equity (#11.11)."""
    await PriceStore(trading_desk.store, trading_desk.keyspace).put(
        "AAPL", {date(2013, 12, 30): Decimal("27.50"), date(2013, 12, 31): Decimal("27.95")}
    )
    await trading_desk.alert()
    await trading_desk.signal(Quantity=10, Price=421.0)
    await trading_desk.signal(Data="sell", Quantity=4, Price=430.5)
    await trading_desk.drain()
    paper = PaperAccount.from_dict(await trading_desk.account()).equity()
    assert paper == Decimal(100_000) - 10 * 421 + Decimal("4") * Decimal("430.5") + 6 * Decimal(
        "430.5"
    )

    ledger = LedgerStore(trading_desk.store, trading_desk.keyspace)
    strategy_id = await ledger.default_strategy_id(trading_desk.tenant.tenant_id)
    key = await trading_desk.client.post(
        f"/strategies/{strategy_id}/api-keys", headers=trading_desk.headers
    )
    bearer = {"Authorization": f"Bearer {key.json()['plaintext']}"}
    base = f"/api/v1/strategies/{strategy_id}"
    state = (await trading_desk.client.get(f"{base}/state", headers=bearer)).json()
    assert Decimal(str(state["nav"]["total_equity"])) == paper
    for benchmark in ("", "SPY"):
        query = {"benchmark": benchmark}
        nav = (await trading_desk.client.get(f"{base}/nav", headers=bearer, params=query)).json()[
            "nav"
        ]
        assert Decimal(str(nav[-1]["total_equity"])) == paper
        report = (
            await trading_desk.client.get(f"{base}/performance", headers=bearer, params=query)
        ).json()
        assert Decimal(str(report["ending_equity"])) == paper
