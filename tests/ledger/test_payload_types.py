"""Every field of every ledger payload, sent with a JSON type it does not take: a 4xx naming the
field, never a 500, and nothing written."""

from __future__ import annotations

import json
from typing import Any

from .support import Desk

OBJECT, ARRAY, TRUE = {}, [], True
ANY_WRONG = (OBJECT, ARRAY, TRUE)
ORDER = {
    "symbol": "AAPL",
    "side": "buy",
    "quantity": 1,
    "price": 10,
    "fees": 0,
    "order_type": "market",
    "status": "filled",
    "executed_at": "2026-01-02T15:00:00Z",
    "external_order_id": "o-1",
    "details": {"note": "x"},
}
CASH = {
    "event_type": "dividend",
    "amount": 5,
    "occurred_at": "2026-01-02T15:00:00Z",
    "external_id": "c-1",
    "related_symbol": "AAPL",
    "note": "n",
}
POSITION = {"symbol": "AAPL", "quantity": 1, "cost_basis": 10}
TEXT_FIELDS = {"symbol", "side", "order_type", "status", "executed_at", "external_order_id"}
TEXT_FIELDS |= {"event_type", "occurred_at", "external_id", "related_symbol", "note", "name"}


def wrong_values(field: str, valid: Any) -> list[Any]:
    """The JSON values of another type than the field takes."""
    values: list[Any] = [v for v in ANY_WRONG if type(v) is not type(valid)]
    if field in TEXT_FIELDS:
        values.append(5)
    elif field != "details":
        values.append("not a number")
    return values


def _fields(document: dict[str, Any]) -> str:
    """The members of a JSON object, with 1e309 written as such (json.dumps would say Infinity)."""
    return json.dumps(document)[1:-1].replace("Infinity", "1e309")


def paths(answer: Any) -> list[str]:
    return [e["path"] for e in answer.json()["errors"]]


async def test_every_order_field_with_a_wrong_type_is_422_naming_it(desk: Desk):
    for field, valid in ORDER.items():
        for value in wrong_values(field, valid):
            answer = await desk.orders({**ORDER, field: value})
            assert answer.status_code == 422, (field, value, answer.text)
            assert paths(answer) == [f"orders[0].{field}"], (field, value)
    # Free-form details: numbers the store's JSON cannot write are refused where they are.
    for value, path in (({"n": 2**64}, "n"), ({"a": [1, 1e308, 1e309]}, "a[2]")):
        answer = await desk.client.post(
            desk.url("orders"),
            content='{"orders": [{**}]}'.replace("**", _fields({**ORDER, "details": value})),
            headers=desk.bearer(),
        )
        assert (answer.status_code, paths(answer)) == (422, [f"orders[0].details.{path}"])
    for value in (ARRAY, TRUE, 5, None):
        answer = await desk.post("orders", {"orders": [value]})
        assert (answer.status_code, paths(answer)) == (422, ["orders[0]"])
    for value in (OBJECT, TRUE, 5, "x"):
        answer = await desk.post("orders", {"orders": value})
        assert (answer.status_code, paths(answer)) == (422, ["orders"])
    assert (await desk.state())["last_order_at"] is None


async def test_every_cash_field_with_a_wrong_type_is_422_naming_it(desk: Desk):
    for field, valid in CASH.items():
        for value in wrong_values(field, valid):
            answer = await desk.cash(**{**CASH, field: value})
            assert answer.status_code == 422, (field, value, answer.text)
            assert paths(answer) == [field], (field, value)
    for value in (ARRAY, TRUE, 5, "x"):
        answer = await desk.post("cash", value)
        assert (answer.status_code, paths(answer)) == (422, ["body"]), value
    assert (await desk.state())["nav"]["cash_balance"] == 0


async def test_every_snapshot_field_with_a_wrong_type_is_422_naming_it(desk: Desk):
    for field, valid in POSITION.items():
        for value in wrong_values(field, valid):
            answer = await desk.post(
                "positions/snapshot", {"positions": [{**POSITION, field: value}]}
            )
            assert answer.status_code == 422, (field, value, answer.text)
            assert paths(answer) == [f"positions[0].{field}"], (field, value)
    for value in (OBJECT, ARRAY, 5, "yes"):
        answer = await desk.post("positions/snapshot", {"positions": [], "log_deltas": value})
        assert (answer.status_code, paths(answer)) == (422, ["log_deltas"]), value
    for value in (OBJECT, TRUE, 5, "x"):
        answer = await desk.post("positions/snapshot", {"positions": value})
        assert (answer.status_code, paths(answer)) == (422, ["positions"]), value
    assert (await desk.state())["positions"] == []


async def test_strategy_and_key_names_with_a_wrong_type_are_422_naming_them(desk: Desk):
    strategies = f"/tenants/{desk.tenant.tenant_id}/api/strategies"
    keys = f"/strategies/{desk.strategy_id}/api-keys"
    for field in ("name", "base_currency"):
        for value in (*ANY_WRONG, 5):
            body = {"name": "bot", "base_currency": "USD", field: value}
            answer = await desk.client.post(strategies, json=body, headers=desk.tenant_headers)
            assert (answer.status_code, paths(answer)) == (422, [field]), (field, value)
    for value in (*ANY_WRONG, 5):
        answer = await desk.client.post(keys, json={"name": value}, headers=desk.tenant_headers)
        assert (answer.status_code, paths(answer)) == (422, ["name"]), value


LONE = "\\ud800"  # in a JSON text: a valid escape, but no Unicode character


async def post_raw(desk: Desk, url: str, text: str, headers: dict[str, str]) -> Any:
    return await desk.client.post(url, content=text.encode(), headers=headers)


async def test_a_lone_surrogate_in_any_ledger_string_is_422_naming_it(desk: Desk):
    order = _fields(ORDER)
    cases = [
        (desk.url("orders"), f'{{"orders": [{{{order}, "external_order_id": "a{LONE}"}}]}}'),
        (desk.url("orders"), f'{{"orders": [{{{order}, "symbol": "{LONE}"}}]}}'),
        (desk.url("orders"), f'{{"orders": [{{{order}, "details": {{"k": ["{LONE}"]}}}}]}}'),
        (desk.url("orders"), f'{{"orders": [{{{order}, "details": {{"{LONE}": 1}}}}]}}'),
        (desk.url("cash"), f'{{{_fields(CASH)}, "external_id": "{LONE}"}}'),
        (desk.url("cash"), f'{{{_fields(CASH)}, "note": "{LONE}"}}'),
    ]
    expected = [
        "orders[0].external_order_id",
        "orders[0].symbol",
        "orders[0].details.k[0]",
        "orders[0].details.\\ud800",
        "external_id",
        "note",
    ]
    for (url, text), path in zip(cases, expected, strict=True):
        answer = await post_raw(desk, url, text, desk.bearer())
        assert (answer.status_code, paths(answer)) == (422, [path]), answer.text
    keys = f"/strategies/{desk.strategy_id}/api-keys"
    answer = await post_raw(desk, keys, f'{{"name": "{LONE}"}}', desk.tenant_headers)
    assert (answer.status_code, paths(answer)) == (422, ["name"])
    tenant = f"/tenants/{desk.tenant.tenant_id}/api"
    answer = await post_raw(
        desk, f"{tenant}/strategies", f'{{"name": "{LONE}"}}', desk.tenant_headers
    )
    assert (answer.status_code, paths(answer)) == (422, ["name"])
    prices = f'{{"prices": [{{"symbol": "A{LONE}", "date": "2024-01-02", "close": 1}}]}}'
    answer = await post_raw(desk, f"{tenant}/prices", prices, desk.tenant_headers)
    assert (answer.status_code, paths(answer)) == (422, ["prices[0].symbol"])
    assert (await desk.state())["last_order_at"] is None


async def test_a_surrogate_in_a_path_or_query_is_a_4xx(desk: Desk):
    for url in (
        "/api/v1/strategies/%ED%A0%80/state",
        f"/tenants/{desk.tenant.tenant_id}/api/prices/%ED%A0%80",
        "/strategies/%ED%A0%80/api-keys",
    ):
        answer = await desk.client.get(url, headers={**desk.tenant_headers, **desk.bearer()})
        assert 400 <= answer.status_code < 500, (url, answer.text)
    answer = await desk.client.get(
        desk.url("performance") + "?benchmark=%ED%A0%80", headers=desk.bearer()
    )
    assert answer.status_code == 422, answer.text
