"""The first start of ``baas run`` on an empty store: a tenant, its first API key and a starter
alert on the paper broker, and the banner that shows the key, once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from redis.exceptions import RedisError

from baas.bootstrap import cli_services, service_event_log
from baas.core.envelope import parse_request
from baas.core.event_time import format_time
from baas.core.intake import admit
from baas.schema_files import load_catalog
from baas.settings import Settings

STARTER_ALERT = "my-first-alert"
STARTER_ALERT_COMMAND = {
    "id": STARTER_ALERT,
    "type": "ConfigureIndicatorAlert",
    "source": "baas-run",
    "data": {"AlertId": STARTER_ALERT, "Name": "Quick start", "BrokerId": "paper"},
}

log = logging.getLogger("baas.run")


@dataclass(frozen=True)
class FirstStart:
    tenant_id: str
    api_key: str


async def bootstrap(settings: Settings) -> FirstStart | str:
    """On an empty store, create the first tenant, its key and the starter alert; else the lines
    that list the tenants. Once created, the key is returned to be shown, whatever happens to
    the alert."""
    async with cli_services(settings) as cli:
        tenants = await cli.tenants.list_tenants()
        if tenants:
            ids = ", ".join(t.tenant_id for t in tenants)
            return (
                f"Tenants: {ids}\n"
                "A new API key: baas keys create --tenant <Tenant ID>   (see baas keys --help)"
            )
        tenant, issued = await cli.tenants.create_tenant("default")
    try:
        await configure_starter_alert(settings, tenant.tenant_id, issued.info.key_id)
    except (RedisError, OSError) as exc:
        log.error("the starter alert was not configured", extra={"error": str(exc)})
    return FirstStart(tenant.tenant_id, issued.api_key)


async def configure_starter_alert(settings: Settings, tenant_id: str, key_id: str) -> None:
    """The alert the quick start's signal names, admitted and appended as the gateway does it
    (the same schema check, the same atomic append under the tenant's key), but counted in no
    client's rate-limit window: the service wrote it, not a client."""
    received_at = format_time(datetime.now(UTC))
    body = orjson.dumps(STARTER_ALERT_COMMAND)
    submissions = parse_request("application/json", {}, body)
    commands = admit(submissions, load_catalog(settings.schemas_dir), tenant_id, received_at)
    async with service_event_log(settings) as event_log:
        await event_log.append(tenant_id, key_id, "", received_at, commands, counted=False)


def first_request(base_url: str) -> str:
    """The spec's buy example for the starter alert, dated when it is pasted."""
    return f"""curl -X POST {base_url}/tenants/$TENANT_ID/api/trading \\
  -H "X-Api-Key: $API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{{"id": "evt-'$(date +%s%N)'", "type": "SubmitSignal", "source": "trading",
       "dataSchema": "submit-signal/1.0", "dataContentType": "application/json",
       "time": "'$(date -u +%Y-%m-%dT%H:%M:%SZ)'",
       "data": {{"CorrelationId": "{STARTER_ALERT}", "TenantId": "'$TENANT_ID'",
                "Id": "sig-'$(date +%s%N)'", "BrokerId": "paper", "Symbol": "AAPL",
                "Date": "'$(date -u +%Y-%m-%dT%H:%M:%SZ)'", "Data": "buy", "Quantity": 10,
                "Price": 200.0, "OrderType": "MKT", "InstrumentType": "STK",
                "AccountRiskPercentage": 0, "AccountQuantityMultiplier": 0}}}}'"""


def banner(base_url: str, first: FirstStart) -> str:
    """The key appears once; the commands read it, and the tenant, from the shell's variables."""
    return (
        "First start: created a tenant, an API key and an alert on the paper broker.\n"
        "The key is shown only this once: store it now. Paste this line into your shell:\n\n"
        f"export TENANT_ID={first.tenant_id} API_KEY={first.api_key}\n\n"
        "Send a first signal (it fills in the paper account):\n"
        f"{first_request(base_url)}\n\n"
        "Then see it, with its whole lifecycle:\n"
        f'curl {base_url}/tenants/$TENANT_ID/api/signals -H "X-Api-Key: $API_KEY"'
    )
