"""The write path against a real store: the four modes, errors, idempotency, tenancy."""

from __future__ import annotations

import orjson
import pytest

from baas.core.keyspace import Keyspace
from baas.store.tenants import TenantRegistry
from gateway.app import write_path_tenant
from tests.support.events import signal_event, to_structured
from tests.support.gateway import app_client
from tests.support.store import make_settings, new_tenant

JSON = {"Content-Type": "application/json"}


def trading(tenant_id: str) -> str:
    return f"/tenants/{tenant_id}/api/trading"


async def log_entries(store, prefix: str, tenant_id: str) -> list[dict]:
    entries = await store.xrange(Keyspace(prefix).tenant_log(tenant_id))
    return [{k.decode(): v for k, v in fields.items()} for _, fields in entries]


async def test_spec_dialect_is_accepted_and_logged(client, tenant, store, prefix):
    event = signal_event(tenant.tenant_id, CorrelationId="alert-42")
    r = await client.post(
        trading(tenant.tenant_id), json=event, headers={"X-Api-Key": tenant.api_key}
    )
    assert r.status_code == 202
    assert r.json() == {"id": "alert-42"}
    [entry] = await log_entries(store, prefix, tenant.tenant_id)
    canonical = orjson.loads(entry["event"])
    assert canonical["specversion"] == "1.0"
    assert canonical["id"] == event["id"]
    assert canonical["dataschema"] == "submit-signal/1.0"
    assert canonical["tenantid"] == tenant.tenant_id
    assert canonical["time"] == "2026-04-27T11:20:00Z"
    assert canonical["data"] == event["data"]
    assert entry["key_id"].decode() == tenant.key_id
    assert entry["ip"] == b"127.0.0.1"
    assert tenant.api_key.encode() not in b"".join(entry.values())


async def test_put_is_the_same_as_post(client, tenant):
    r = await client.put(
        trading(tenant.tenant_id),
        json=signal_event(tenant.tenant_id),
        headers={"X-Api-Key": tenant.api_key},
    )
    assert r.status_code == 202


async def test_structured_mode(client, tenant, store, prefix):
    structured = to_structured(signal_event(tenant.tenant_id))
    r = await client.post(
        trading(tenant.tenant_id),
        content=orjson.dumps(structured),
        headers={
            "X-Api-Key": tenant.api_key,
            "Content-Type": "application/cloudevents+json; charset=utf-8",
        },
    )
    assert r.status_code == 202, r.text
    assert r.json() == {"id": "alert-1"}
    assert len(await log_entries(store, prefix, tenant.tenant_id)) == 1


async def test_structured_mode_rejects_camel_case_names(client, tenant):
    event = signal_event(tenant.tenant_id)
    event["specversion"] = "1.0"
    r = await client.post(
        trading(tenant.tenant_id),
        content=orjson.dumps(event),
        headers={"X-Api-Key": tenant.api_key, "Content-Type": "application/cloudevents+json"},
    )
    assert r.status_code == 400
    paths = {e["path"] for e in r.json()["errors"]}
    assert paths == {"dataSchema", "dataContentType"}
    assert "did you mean" in r.json()["errors"][0]["message"]


async def test_binary_mode(client, tenant, store, prefix):
    event = signal_event(tenant.tenant_id)
    r = await client.post(
        trading(tenant.tenant_id),
        content=orjson.dumps(event["data"]),
        headers={
            "X-Api-Key": tenant.api_key,
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": "bin-1",
            "ce-type": "SubmitSignal",
            "ce-source": "trading",
            "ce-dataschema": "submit-signal/1.0",
            "ce-time": "2026-04-27T11:20:00Z",
            "ce-strategy": "momentum%20v2",
        },
    )
    assert r.status_code == 202, r.text
    [entry] = await log_entries(store, prefix, tenant.tenant_id)
    canonical = orjson.loads(entry["event"])
    assert canonical["id"] == "bin-1"
    assert canonical["strategy"] == "momentum v2"
    assert canonical["data"] == event["data"]


async def test_binary_mode_needs_its_required_headers(client, tenant):
    r = await client.post(
        trading(tenant.tenant_id),
        content=b"{}",
        headers={
            "X-Api-Key": tenant.api_key,
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
        },
    )
    assert r.status_code == 400
    assert {e["path"] for e in r.json()["errors"]} == {"ce-id", "ce-source", "ce-type"}


async def test_batch_mode_appends_every_event(client, tenant, store, prefix):
    events = [signal_event(tenant.tenant_id, CorrelationId=f"a{i}") for i in range(3)]
    batch = [to_structured(e) for e in events]
    r = await client.post(
        trading(tenant.tenant_id),
        content=orjson.dumps(batch),
        headers={"X-Api-Key": tenant.api_key, "Content-Type": "application/cloudevents-batch+json"},
    )
    assert r.status_code == 202, r.text
    assert r.json() == {
        "results": [
            {"id": f"a{i}", "eventId": batch[i]["id"], "status": "accepted"} for i in range(3)
        ]
    }
    assert len(await log_entries(store, prefix, tenant.tenant_id)) == 3


async def test_batch_is_all_or_nothing(client, tenant, store, prefix):
    good = to_structured(signal_event(tenant.tenant_id))
    bad = {**good, "id": "bad", "data": {**good["data"], "Quantity": -1}}
    r = await client.post(
        trading(tenant.tenant_id),
        content=orjson.dumps([good, bad]),
        headers={"X-Api-Key": tenant.api_key, "Content-Type": "application/cloudevents-batch+json"},
    )
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == ["[1].data.Quantity"]
    assert await log_entries(store, prefix, tenant.tenant_id) == []


async def test_replay_gets_the_same_answer_and_appends_nothing(client, tenant, store, prefix):
    event = signal_event(tenant.tenant_id, CorrelationId="alert-7")
    headers = {"X-Api-Key": tenant.api_key}
    first = await client.post(trading(tenant.tenant_id), json=event, headers=headers)
    again = await client.post(trading(tenant.tenant_id), json=event, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.content == again.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(await log_entries(store, prefix, tenant.tenant_id)) == 1
    # Same id from another source is another event.
    other = await client.post(
        trading(tenant.tenant_id), json={**event, "source": "other"}, headers=headers
    )
    assert other.status_code == 202
    assert len(await log_entries(store, prefix, tenant.tenant_id)) == 2


ID_REUSED = "The event id was already used for another event: nothing was appended."
BATCH = "application/cloudevents-batch+json"


async def test_an_id_repeated_with_another_body_is_409(client, tenant, store, prefix):
    event = signal_event(tenant.tenant_id)
    headers = {"X-Api-Key": tenant.api_key}
    assert (await client.post(trading(tenant.tenant_id), json=event, headers=headers)).is_success
    changed = {**event, "data": {**event["data"], "Quantity": 2}}
    r = await client.post(trading(tenant.tenant_id), json=changed, headers=headers)
    assert r.status_code == 409
    assert r.json()["detail"] == ID_REUSED
    [error] = r.json()["errors"]
    assert error["path"] == "id"
    assert event["id"] in error["message"]
    assert len(await log_entries(store, prefix, tenant.tenant_id)) == 1


async def test_a_resend_without_a_time_is_a_replay(client, tenant, store, prefix):
    """The time of receipt, which stands in for a missing time, is not part of the comparison."""
    event = signal_event(tenant.tenant_id)
    del event["time"]
    headers = {"X-Api-Key": tenant.api_key}
    first = await client.post(trading(tenant.tenant_id), json=event, headers=headers)
    again = await client.post(trading(tenant.tenant_id), json=event, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    timed = {**event, "time": "2026-04-27T11:20:00Z"}
    assert (
        await client.post(trading(tenant.tenant_id), json=timed, headers=headers)
    ).status_code == 409
    assert len(await log_entries(store, prefix, tenant.tenant_id)) == 1


async def test_a_batch_with_a_reused_id_is_409_and_appends_nothing(client, tenant, store, prefix):
    headers = {"X-Api-Key": tenant.api_key, "Content-Type": BATCH}
    logged = to_structured(signal_event(tenant.tenant_id))
    first = await client.post(
        trading(tenant.tenant_id), content=orjson.dumps([logged]), headers=headers
    )
    assert first.status_code == 202
    fresh = to_structured(signal_event(tenant.tenant_id))
    reused = {**logged, "data": {**logged["data"], "Symbol": "AAPL"}}
    r = await client.post(
        trading(tenant.tenant_id), content=orjson.dumps([fresh, reused]), headers=headers
    )
    assert r.status_code == 409
    assert [e["path"] for e in r.json()["errors"]] == ["[1].id"]
    # Within one batch too: the same id twice with two bodies.
    twice = {**fresh, "data": {**fresh["data"], "Quantity": 3}}
    r = await client.post(
        trading(tenant.tenant_id), content=orjson.dumps([fresh, twice]), headers=headers
    )
    assert r.status_code == 409
    assert [e["path"] for e in r.json()["errors"]] == ["[1].id"]
    assert len(await log_entries(store, prefix, tenant.tenant_id)) == 1
    # Identical repeats keep their answer.
    r = await client.post(
        trading(tenant.tenant_id), content=orjson.dumps([fresh, logged, fresh]), headers=headers
    )
    assert r.status_code == 202
    assert [e["status"] for e in r.json()["results"]] == ["accepted", "duplicate", "duplicate"]
    assert len(await log_entries(store, prefix, tenant.tenant_id)) == 2


async def test_a_record_kept_before_digests_still_replays(client, tenant, store, prefix):
    """Idempotency records written by an earlier version ('entry|answer') answer as before."""
    event = signal_event(tenant.tenant_id)
    key = Keyspace(prefix).seen_event(tenant.tenant_id, "trading", event["id"])
    await store.set(key, b'1-0|{"id":"alert-1"}', ex=60)
    changed = {**event, "data": {**event["data"], "Quantity": 5}}
    r = await client.post(
        trading(tenant.tenant_id), json=changed, headers={"X-Api-Key": tenant.api_key}
    )
    assert r.status_code == 202
    assert r.headers["Idempotent-Replayed"] == "true"
    assert await log_entries(store, prefix, tenant.tenant_id) == []


async def test_other_commands_answer_their_event_id(client, tenant):
    event = {
        "id": "cfg-1",
        "type": "RemoveBroker",
        "source": "trading",
        "data": {"BrokerId": "old"},
    }
    r = await client.post(
        trading(tenant.tenant_id), json=event, headers={"X-Api-Key": tenant.api_key}
    )
    assert r.status_code == 202, r.text
    assert r.json() == {"id": "cfg-1"}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "path"),
    [
        (b"{not json", "application/json", 400, ""),
        (b"", "application/json", 400, ""),
        (b"[1, 2]", "application/json", 400, ""),
        (b'{"type": "SubmitSignal", "source": "s", "data": {}}', "application/json", 400, "id"),
        (
            b'{"id": "", "type": "SubmitSignal", "source": "s", "data": {}}',
            "application/json",
            400,
            "id",
        ),
        (b'{"id": "x", "type": "SubmitSignal", "source": "s"}', "application/json", 400, "data"),
        (
            b'{"id": "x", "type": "SubmitSignal", "source": "s", "time": "yesterday", "data": {}}',
            "application/json",
            400,
            "time",
        ),
        (
            b'{"id": "x", "type": "SubmitSignal", "source": "s", "specversion": "0.3", "data": {}}',
            "application/json",
            400,
            "specversion",
        ),
        (
            b'{"id": "x", "type": "Nope", "source": "s", "data": {}}',
            "application/json",
            422,
            "type",
        ),
        (
            b'{"id": "x", "type": "SubmitSignal", "source": "s", "dataSchema": "submit-signal/9.9", "data": {}}',
            "application/json",
            422,
            "dataSchema",
        ),
        (
            b'{"id": "x", "type": "RemoveBroker", "source": "s", "dataSchema": "submit-signal/1.0", "data": {}}',
            "application/json",
            422,
            "dataSchema",
        ),
        (b"hello", "text/plain", 415, None),
        (b"{}", "", 415, None),
        (
            b'{"id": "x", "type": "SubmitSignal", "source": "s", "dataContentType": "text/csv", "data": {}}',
            "application/json",
            415,
            "dataContentType",
        ),
    ],
)
async def test_bad_requests_get_clear_errors(
    client, tenant, store, prefix, body, content_type, status, path
):
    headers = {"X-Api-Key": tenant.api_key, "Content-Type": content_type}
    r = await client.post(trading(tenant.tenant_id), content=body, headers=headers)
    assert r.status_code == status, r.text
    problem = r.json()
    assert set(problem) == {"detail", "errors"}
    assert problem["detail"]
    if path is not None:
        assert path in [e["path"] for e in problem["errors"]]
    assert await log_entries(store, prefix, tenant.tenant_id) == []


async def test_schema_errors_list_every_field(client, tenant):
    event = signal_event(tenant.tenant_id, Quantity=0, Data="hold", OrderType="LMT", Extra=1)
    del event["data"]["Price"]
    del event["data"]["Symbol"]
    r = await client.post(
        trading(tenant.tenant_id), json=event, headers={"X-Api-Key": tenant.api_key}
    )
    assert r.status_code == 422
    paths = [e["path"] for e in r.json()["errors"]]
    for expected in ("data.Quantity", "data.Data", "data.Price", "data.Symbol"):
        assert expected in paths
    assert any("Extra" in e["message"] for e in r.json()["errors"])


async def test_body_over_the_limit_is_413(store_url, prefix, store):
    settings = make_settings(store_url, prefix, max_body_bytes=1000)
    creds = await new_tenant(store, prefix)
    async with app_client(settings) as c:
        event = signal_event(creds.tenant_id, BrokerName="x" * 2000)
        r = await c.post(trading(creds.tenant_id), json=event, headers={"X-Api-Key": creds.api_key})
        assert r.status_code == 413
        assert r.json()["detail"].startswith("The request body is larger")


async def test_tenant_id_mismatch_is_403(client, tenant, store, prefix):
    event = signal_event("someone-else")
    r = await client.post(
        trading(tenant.tenant_id), json=event, headers={"X-Api-Key": tenant.api_key}
    )
    assert r.status_code == 403
    assert r.json()["errors"] == [
        {"path": "data.TenantId", "message": "does not match the tenant in the path"}
    ]
    assert await log_entries(store, prefix, tenant.tenant_id) == []


async def test_missing_and_invalid_keys_are_401(client, tenant):
    event = signal_event(tenant.tenant_id)
    missing = await client.post(trading(tenant.tenant_id), json=event)
    invalid = await client.post(
        trading(tenant.tenant_id), json=event, headers={"X-Api-Key": "baas_nope"}
    )
    assert missing.status_code == invalid.status_code == 401
    assert missing.json()["detail"] == "Missing X-Api-Key header."
    assert invalid.json()["detail"] == "Invalid or revoked API key."


@pytest.mark.parametrize("wrong_first", [True, False])
async def test_two_api_key_headers_are_400_on_reads_and_writes(
    client, tenant, store, prefix, wrong_first
):
    keys = [("X-Api-Key", "baas_wrong"), ("X-Api-Key", tenant.api_key)]
    headers = keys if wrong_first else keys[::-1]
    write = await client.post(
        trading(tenant.tenant_id), json=signal_event(tenant.tenant_id), headers=headers
    )
    read = await client.get(f"/tenants/{tenant.tenant_id}/api/signals", headers=headers)
    for answer in (write, read):
        assert answer.status_code == 400
        assert answer.json() == {
            "detail": "Send exactly one X-Api-Key header.",
            "errors": [{"path": "headers.X-Api-Key", "message": "sent more than once"}],
        }
    assert await log_entries(store, prefix, tenant.tenant_id) == []


async def test_key_of_another_tenant_is_403(client, tenant, store, prefix):
    other = await new_tenant(store, prefix, "other")
    r = await client.post(
        trading(tenant.tenant_id),
        json=signal_event(tenant.tenant_id),
        headers={"X-Api-Key": other.api_key},
    )
    assert r.status_code == 403


async def test_revoked_key_is_401_at_once(client, tenant, store, prefix):
    headers = {"X-Api-Key": tenant.api_key}
    assert (
        await client.post(
            trading(tenant.tenant_id), json=signal_event(tenant.tenant_id), headers=headers
        )
    ).status_code == 202
    await TenantRegistry(store, Keyspace(prefix)).revoke_key(tenant.tenant_id, tenant.key_id)
    r = await client.post(
        trading(tenant.tenant_id), json=signal_event(tenant.tenant_id), headers=headers
    )
    assert r.status_code == 401
    schemas = await client.get(f"/tenants/{tenant.tenant_id}/api/trading/schemas", headers=headers)
    assert schemas.status_code == 401


# The write route's own lane (GatewayApp): only POST/PUT on exactly its path take it; everything
# else is routed as before.


@pytest.mark.parametrize(
    ("path", "tenant"),
    [
        ("/tenants/t-1/api/trading", "t-1"),
        ("/tenants//api/trading", None),
        ("/tenants/a/b/api/trading", None),
        ("/tenants/t-1/api/trading/", None),
        ("/tenants/t-1/api/tradingx", None),
        ("/tenant/t-1/api/trading", None),
    ],
)
def test_the_lane_takes_exactly_the_route_path(path, tenant):
    assert write_path_tenant(path) == tenant


async def test_other_methods_and_paths_are_routed_as_before(client, tenant):
    headers = {"X-Api-Key": tenant.api_key}
    r = await client.get(trading(tenant.tenant_id), headers=headers)
    assert r.status_code == 405
    assert set(r.json()) == {"detail", "errors"}
    r = await client.post(f"/tenants/{tenant.tenant_id}/x/api/trading", json={}, headers=headers)
    assert r.status_code == 404
    assert set(r.json()) == {"detail", "errors"}


async def test_put_takes_the_same_path(client, tenant, store, prefix):
    event = signal_event(tenant.tenant_id)
    r = await client.put(
        trading(tenant.tenant_id), json=event, headers={"X-Api-Key": tenant.api_key}
    )
    assert r.status_code == 202
    assert len(await log_entries(store, prefix, tenant.tenant_id)) == 1
