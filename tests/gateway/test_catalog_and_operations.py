"""Schema endpoints, operations endpoints, the OpenAPI document, and a store that goes away."""

from __future__ import annotations

import orjson
from redis.asyncio import Redis

from baas.store.embedded import EmbeddedValkey
from gateway.app import ROUTES
from gateway.openapi import OPERATIONS, route_operations
from tests.support.events import signal_event
from tests.support.gateway import app_client
from tests.support.store import make_settings, new_tenant

SPEC_LISTING = {"submit-signal", "configure-indicator-alert", "configure-strategy-alert"}


async def test_tenant_schema_listing(client, tenant):
    r = await client.get(
        f"/tenants/{tenant.tenant_id}/api/trading/schemas", headers={"X-Api-Key": tenant.api_key}
    )
    assert r.status_code == 200
    listing = r.json()
    names = {entry["name"] for entry in listing}
    assert names >= SPEC_LISTING
    assert all(entry["versions"] == ["1.0"] for entry in listing)


async def test_tenant_schema_document(client, tenant):
    r = await client.get(
        f"/tenants/{tenant.tenant_id}/api/trading/schemas/submit-signal/1.0",
        headers={"X-Api-Key": tenant.api_key},
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/schema+json"
    document = r.json()
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["title"] == "SubmitSignal"


async def test_tenant_schema_endpoints_need_a_key(client, tenant):
    r = await client.get(f"/tenants/{tenant.tenant_id}/api/trading/schemas")
    assert r.status_code == 401


async def test_public_catalog(client):
    listing = await client.get("/schemas")
    assert listing.status_code == 200
    assert {entry["name"] for entry in listing.json()} >= SPEC_LISTING
    document = await client.get("/schemas/configure-strategy-alert/1.0")
    assert document.headers["content-type"] == "application/schema+json"


async def test_unknown_schema_is_a_json_404(client, tenant):
    for url, headers in [
        ("/schemas/nope/1.0", {}),
        ("/schemas/submit-signal/7.0", {}),
        (
            f"/tenants/{tenant.tenant_id}/api/trading/schemas/nope/1.0",
            {"X-Api-Key": tenant.api_key},
        ),
    ]:
        r = await client.get(url, headers=headers)
        assert r.status_code == 404
        assert r.json()["detail"].startswith("No schema")


async def test_unknown_route_and_method_are_json(client):
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    assert set(missing.json()) == {"detail", "errors"}
    wrong = await client.delete("/schemas")
    assert wrong.status_code == 405
    assert set(wrong.json()) == {"detail", "errors"}


async def test_health_ready_metrics(client, tenant):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    await client.post(
        f"/tenants/{tenant.tenant_id}/api/trading",
        json=signal_event(tenant.tenant_id),
        headers={"X-Api-Key": tenant.api_key},
    )
    await client.get("/schemas/nope/1.0")
    text = (await client.get("/metrics")).text
    assert 'baas_events_appended_total{type="SubmitSignal"} 1.0' in text
    assert (
        'baas_http_requests_total{method="POST",route="/tenants/{tenantId}/api/trading",status="202"} 1.0'
        in text
    )
    assert 'route="/schemas/{name}/{version}",status="404"' in text
    assert "baas_http_request_duration_seconds_bucket" in text


async def test_rate_limited_requests_are_counted_by_limiter(store_url, prefix):
    async with app_client(make_settings(store_url, prefix, ip_limit=1)) as c:
        await c.get("/schemas")
        assert (await c.get("/schemas")).status_code == 429
        text = (await c.get("/metrics")).text
    assert 'baas_rate_limited_total{limiter="ip"} 1.0' in text


def test_openapi_describes_every_route_and_nothing_else():
    assert route_operations(ROUTES) == set(OPERATIONS)


async def test_openapi_document_is_served(client):
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {path for path, _ in OPERATIONS}
    assert document["paths"]["/tenants/{tenantId}/api/trading"]["post"]["responses"]["202"]


async def test_store_down_is_503_with_retry_after_and_nothing_is_claimed(tmp_path, prefix):
    server = EmbeddedValkey(tmp_path)
    server.start()
    settings = make_settings(server.url, prefix, store_timeout_seconds=0.5)
    admin = Redis.from_url(server.url)
    creds = await new_tenant(admin, prefix)
    await admin.aclose()
    async with app_client(settings) as c:
        server.stop()
        r = await c.post(
            f"/tenants/{creds.tenant_id}/api/trading",
            json=signal_event(creds.tenant_id),
            headers={"X-Api-Key": creds.api_key},
        )
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "2"
        assert set(r.json()) == {"detail", "errors"}
        ready = await c.get("/readyz")
        assert ready.status_code == 503
        assert (await c.get("/healthz")).status_code == 200
        assert orjson.loads(ready.content)["status"] == "unavailable"
