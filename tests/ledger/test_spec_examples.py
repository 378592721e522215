"""The ledger spec's own examples, run as written against a live gateway process.

Only the host (https://botranks.ai → the live gateway) and the credentials ($STRATEGY_ID,
$FQ_API_KEY, FQ_STRATEGY_ID, FQ_API_KEY) change; the commands and bodies are the spec's, as
stored in tests/support/spec_examples/ledger-api.json (checked against the spec by
tests/unit/test_spec_documents.py). The key is made with the tenant's X-Api-Key where the spec
sends a session cookie. Orders without a price need a close on their date: the store is given
AAPL's close on the Quick Start's date (189.42, the spec's own cost basis) and on today's date
(the Python example's executed_at is now).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import requests

from tests.support.gateway import live_gateway
from tests.support.store import make_settings, new_tenant

from . import spec

pytestmark = pytest.mark.live

TIMEOUT = 30
KEY = re.compile(r"fq_live_[A-Za-z0-9_-]{43}")
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
ORDER_FIELDS = [
    "id",
    "strategy_id",
    "symbol",
    "side",
    "quantity",
    "price",
    "fees",
    "order_type",
    "status",
    "executed_at",
    "created_at",
    "external_order_id",
    "details",
]
LOOPBACK = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def run_curl(command: str, base: str, **env: str) -> tuple[int, Any]:
    script = "curl -s -w '\\n%{http_code}' " + command.removeprefix("curl ")
    script = script.replace(spec.SPEC_HOST, base)
    done = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, **LOOPBACK, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    body, status = done.stdout.rsplit("\n", 1)
    return int(status), orjson.loads(body)


def run_python(base: str, **env: str) -> dict[str, Any]:
    program = spec.python_example().replace(spec.SPEC_HOST, base)
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={**os.environ, **LOOPBACK, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout.strip())


def new_strategy(base: str, tenant: Any, name: str) -> tuple[str, str]:
    answer = requests.post(
        f"{base}/tenants/{tenant.tenant_id}/api/strategies",
        json={"name": name},
        headers={"X-Api-Key": tenant.api_key},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 201, answer.text
    strategy_id = answer.json()["id"]
    key = requests.post(
        f"{base}/strategies/{strategy_id}/api-keys",
        json={"name": name},
        headers={"X-Api-Key": tenant.api_key},
        timeout=TIMEOUT,
    )
    assert key.status_code == 201, key.text
    return strategy_id, key.json()["plaintext"]


def check_order(order: dict[str, Any], strategy_id: str) -> None:
    assert list(order) == ORDER_FIELDS
    assert uuid.UUID(order["id"]).version == 4
    assert order["strategy_id"] == strategy_id
    assert ISO_Z.fullmatch(order["executed_at"]) and ISO_Z.fullmatch(order["created_at"])


@pytest.fixture
async def seeded(store, prefix):
    """A tenant; AAPL's closes are imported over HTTP once the gateway runs (``seed``)."""
    return await new_tenant(store, prefix)


def seed(base: str, tenant: Any) -> None:
    today = datetime.now(UTC).date().isoformat()
    answer = requests.post(
        f"{base}/tenants/{tenant.tenant_id}/api/prices",
        data=f"date,symbol,close\n2026-04-18,AAPL,189.42\n{today},AAPL,190.25\n",
        headers={"X-Api-Key": tenant.api_key, "Content-Type": "text/csv"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text


def test_generating_a_key_as_the_spec_shows(settings, seeded):
    example = spec.example("key_response")
    with live_gateway(settings) as base:
        seed(base, seeded)
        strategy_id, _ = new_strategy(base, seeded, "first")
        answer = requests.post(
            f"{base}/strategies/{strategy_id}/api-keys",
            json=spec.example("key_request"),
            headers={"X-Api-Key": seeded.api_key},
            timeout=TIMEOUT,
        )
        listed = requests.get(
            f"{base}/strategies/{strategy_id}/api-keys",
            headers={"X-Api-Key": seeded.api_key},
            timeout=TIMEOUT,
        )
    assert answer.status_code == 201
    key = answer.json()
    assert list(key) == list(example)
    assert key["name"] == example["name"] == "my-bot-prod"
    assert key["warning"] == example["warning"]
    assert KEY.fullmatch(key["plaintext"])
    assert len(key["key_prefix"]) == len(example["key_prefix"])
    assert key["key_prefix"] == key["plaintext"][: len(example["key_prefix"])]
    assert ISO_Z.fullmatch(key["created_at"])
    uuid.UUID(key["id"])
    assert listed.status_code == 200
    assert key["plaintext"] not in listed.text
    assert [k["id"] for k in listed.json()][-1] == key["id"]


def test_quick_start_curl_replay_and_snapshot(settings, seeded):
    command = spec.quick_start_curl()
    with live_gateway(settings) as base:
        seed(base, seeded)
        strategy_id, key = new_strategy(base, seeded, "curl")
        env = {"STRATEGY_ID": strategy_id, "FQ_API_KEY": key}
        first = run_curl(command, base, **env)
        again = run_curl(command, base, **env)
        snapshot = requests.post(
            f"{base}/api/v1/strategies/{strategy_id}/positions/snapshot",
            json=spec.example("snapshot_request"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=TIMEOUT,
        )
        state = requests.get(
            f"{base}/api/v1/strategies/{strategy_id}/state",
            headers={"Authorization": f"Bearer {key}"},
            timeout=TIMEOUT,
        ).json()

    status, body = first
    assert status == 201
    assert body["counts"] == {"accepted": 1, "duplicates": 0}
    assert body["duplicates"] == []
    (order,) = body["accepted"]
    check_order(order, strategy_id)
    assert {k: order[k] for k in ORDER_FIELDS[2:] if k != "created_at"} == {
        "symbol": "AAPL",
        "side": "buy",
        "quantity": 100,
        "price": 189.42,  # resolved from the close on executed_at's date
        "fees": 0,
        "order_type": "market",
        "status": "filled",
        "executed_at": "2026-04-18T14:31:22Z",
        "external_order_id": "tb-20260418-00001",
        "details": None,
    }
    status, body = again
    assert status == 200
    assert body == {
        "accepted": [],
        "duplicates": [order],
        "counts": {"accepted": 0, "duplicates": 1},
    }

    # The snapshot example on this state: AAPL unchanged, MSFT new → the spec's own counts.
    assert snapshot.status_code == 200
    assert snapshot.json() == spec.example("snapshot_response")
    assert [(p["symbol"], p["quantity"], p["cost_basis"]) for p in state["positions"]] == [
        ("AAPL", 100, 189.42),
        ("MSFT", 30, 420.1),
    ]
    assert list(state) == ["strategy_id", "positions", "nav", "last_order_at"]
    assert list(state["nav"]) == ["total_equity", "cash_balance", "market_value", "captured_at"]
    assert state["last_order_at"] == "2026-04-18T14:31:22Z"


def test_quick_start_python_and_idempotency_section(settings, seeded):
    curl_command = spec.quick_start_curl()
    head = curl_command[: curl_command.index("-d '")]
    bodies = spec.idempotency_bodies()
    assert len(bodies) == 2
    with live_gateway(settings) as base:
        seed(base, seeded)
        strategy_id, key = new_strategy(base, seeded, "python")
        printed = run_python(base, FQ_STRATEGY_ID=strategy_id, FQ_API_KEY=key)
        replayed = run_python(base, FQ_STRATEGY_ID=strategy_id, FQ_API_KEY=key)

        other_id, other_key = new_strategy(base, seeded, "idempotency")
        env = {"STRATEGY_ID": other_id, "FQ_API_KEY": other_key}
        answers = [run_curl(f"{head}-d '{body}'", base, **env) for body in bodies]

    assert printed["counts"] == {"accepted": 1, "duplicates": 0}
    (order,) = printed["accepted"]
    check_order(order, strategy_id)
    assert order["price"] == 190.25  # today's close
    assert replayed == {
        "accepted": [],
        "duplicates": [order],
        "counts": {"accepted": 0, "duplicates": 1},
    }
    (first_status, first), (second_status, second) = answers
    assert (first_status, first["counts"]) == (201, {"accepted": 1, "duplicates": 0})
    assert first["duplicates"] == []
    assert (second_status, second["counts"]) == (200, {"accepted": 0, "duplicates": 1})
    assert second["accepted"] == [] and second["duplicates"] == first["accepted"]


def test_cash_duplicate_missing_price_and_performance_shape(settings, seeded):
    perf_keys = spec.performance_keys()
    with live_gateway(settings) as base:
        seed(base, seeded)
        strategy_id, key = new_strategy(base, seeded, "cash")
        headers = {"Authorization": f"Bearer {key}"}
        url = f"{base}/api/v1/strategies/{strategy_id}"
        cash = {
            "event_type": "deposit",
            "amount": 1000000,
            "occurred_at": "2026-04-17T13:00:00Z",
            "external_id": "dep-0001",
            "note": "seed capital",
        }
        created = requests.post(f"{url}/cash", json=cash, headers=headers, timeout=TIMEOUT)
        duplicate = requests.post(f"{url}/cash", json=cash, headers=headers, timeout=TIMEOUT)
        missing = requests.post(
            f"{url}/orders",
            json={
                "orders": [
                    {
                        "symbol": "FOO",
                        "side": "buy",
                        "quantity": 10,
                        "executed_at": "2026-04-18T14:00:00Z",
                    }
                ]
            },
            headers=headers,
            timeout=TIMEOUT,
        )
        performance = requests.get(f"{url}/performance", headers=headers, timeout=TIMEOUT)

    assert created.status_code == 201
    assert created.json()["status"] == "created"
    event = created.json()["event"]
    assert list(event) == [
        "id",
        "strategy_id",
        "event_type",
        "amount",
        "occurred_at",
        "external_id",
        "related_symbol",
        "note",
        "created_at",
    ]
    assert event["amount"] == 1000000 and event["occurred_at"] == "2026-04-17T13:00:00Z"
    assert duplicate.status_code == 200
    assert duplicate.json() == {"status": "duplicate", "event": event}

    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith("application/json")
    assert missing.json() == {"detail": spec.detail_examples()[-1]}
    assert missing.json() == {"detail": "No market data available for FOO at 2026-04-18T14:00:00Z"}

    assert performance.status_code == 200
    body = performance.json()
    answered = set(body) | set(body["drawdown"]) | set(body["benchmark"])
    assert perf_keys <= answered, perf_keys - answered
    assert body["benchmark"]["symbol"] == "SPY"  # the default, without prices: every stat null


def test_the_rate_limit_message_is_the_spec_s(store_url, prefix):
    settings = make_settings(store_url, prefix, ledger_key_window_seconds=60.0)
    assert settings.ledger_key_limit == 60
    assert spec.detail_examples()[0] == "Rate limit exceeded: 60 requests per 60s"
