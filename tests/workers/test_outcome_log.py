"""The worker's log: one readable line per outcome, and never a key or a webhook token."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import orjson
import pytest

from baas.logs import JsonFormatter


def worker_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    formatter = JsonFormatter()
    return [orjson.loads(formatter.format(r)) for r in caplog.records if r.name == "baas.worker"]


async def test_each_fill_rejection_and_configuration_is_one_line_without_secrets(
    trading_desk, caplog
):
    caplog.set_level(logging.INFO)
    await trading_desk.alert("my-alert", Symbol="MSFT", Quantity=10)
    await trading_desk.send("ConfigureBroker", {"BrokerId": "spare", "Kind": "paper"})
    await trading_desk.send("RemoveBroker", {"BrokerId": "spare"})
    await trading_desk.drain()
    alert = await trading_desk.client.get(
        f"/tenants/{trading_desk.tenant.tenant_id}/api/alerts/my-alert",
        headers=trading_desk.headers,
    )
    webhook = urlsplit(alert.json()["WebhookUrl"]).path
    token = webhook.rstrip("/").rsplit("/", 1)[-1]

    filled = await trading_desk.signal(
        CorrelationId="my-alert", Symbol="MSFT", Quantity=10, Price=421.37
    )
    rejected = await trading_desk.signal(CorrelationId="nope")
    resting = await trading_desk.signal(
        CorrelationId="my-alert", Symbol="MSFT", Quantity=2, Price=400.0, OrderType="LMT"
    )
    tradingview = await trading_desk.client.post(
        webhook, content=b"sell", headers={"Content-Type": "text/plain"}
    )
    assert tradingview.status_code == 202, tradingview.text
    await trading_desk.drain()

    lines = worker_lines(caplog)
    messages = [line["msg"] for line in lines]
    assert f"signal {filled} filled 10 MSFT @ 421.37 on paper" in messages
    assert any(m.startswith(f"signal {rejected} rejected: unknown alert 'nope'") for m in messages)
    assert f"signal {resting} submitted: buy 2 MSFT LMT limit 400 on paper (resting)" in messages
    assert f"signal {tradingview.json()['id']} filled 10 MSFT @ 421.37 on paper" in messages
    assert "alert my-alert configured (indicator, broker paper)" in messages
    assert "broker spare configured (paper)" in messages
    assert "broker spare removed" in messages
    # one line per signal: the fill says it all, its acceptance and submission are not repeated
    assert sum(m.startswith(f"signal {filled} ") for m in messages) == 1
    assert all(
        line["level"] == "info" and line["tenant_id"] for line in lines if "signal" in line["msg"]
    )
    ours = [r for r in caplog.records if r.name.startswith("baas")]  # httpx logs the test's URLs
    everything = "\n".join(JsonFormatter().format(r) for r in ours)
    assert token not in everything
    assert trading_desk.tenant.api_key not in everything
