"""Every limit, timeout and address of the gateway and the workers, read from the environment.

One prefix, ``BAAS_``. Three names also work without it because the wider ecosystem uses them:
``REDIS_URL``, ``PORT`` and ``POLYGON_API_KEY`` (the prefixed name wins when both are set).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "BAAS_"
_REPO_ROOT = Path(__file__).resolve().parent.parent
# An installed wheel ships the schemas inside the package; a checkout has the repository's.
_SHIPPED_SCHEMAS = Path(__file__).resolve().parent / "schemas"
_SCHEMAS = _SHIPPED_SCHEMAS if _SHIPPED_SCHEMAS.is_dir() else _REPO_ROOT / "schemas"


def _setting(default: Any, doc: str, *, alias: str | None = None, secret: bool = False) -> Any:
    """A setting; a ``secret`` one is left out of the repr and shown only as "(set)"."""
    return field(
        default=default, repr=not secret, metadata={"doc": doc, "alias": alias, "secret": secret}
    )


@dataclass(frozen=True, slots=True)
class Settings:
    # Store
    redis_url: str = _setting(
        "",
        "Redis/Valkey URL (redis://, rediss:// or unix://). Empty: an embedded Valkey "
        "under the data directory.",
        alias="REDIS_URL",
        secret=True,
    )
    data_dir: Path = _setting(
        Path("var"),
        "Where the embedded Valkey keeps its append-only file, config and address (store.url).",
    )
    key_prefix: str = _setting("baas", "Prefix of every Redis key the service writes.")
    appendfsync: str = _setting(
        "everysec",
        "Embedded Valkey's AOF fsync policy: everysec (may lose ~1 s on power loss) "
        "or always (no loss).",
    )
    store_timeout_seconds: float = _setting(2.0, "Time-out of one store call before a 503.")
    unavailable_retry_after_seconds: int = _setting(
        2, "Retry-After sent with a 503 when the store does not answer."
    )
    # HTTP
    host: str = _setting("127.0.0.1", "Address the gateway listens on.")
    port: int = _setting(8000, "Port the gateway listens on.", alias="PORT")
    public_url: str = _setting(
        "", "Base URL shown in printed curl commands and webhook URLs (default http://HOST:PORT)."
    )
    max_body_bytes: int = _setting(256 * 1024, "Largest request body accepted (413 above).")
    max_batch_events: int = _setting(100, "Most events in one batch request (422 above).")
    max_header_bytes: int = _setting(
        16 * 1024, "Largest request head (request line and headers) accepted (431 above)."
    )
    max_headers: int = _setting(100, "Most headers in one request (431 above).")
    header_timeout_seconds: float = _setting(
        5.0,
        "Time a connection has to send a whole request head, from its opening or from its "
        "request's first byte; then it is closed.",
    )
    max_connections: int = _setting(
        1000, "Most open client connections; one more is answered 503 and closed."
    )
    trusted_proxies: str = _setting(
        "",
        "Comma-separated IPs or CIDRs whose X-Forwarded-For is believed for the client IP.",
    )
    tradingview_allowed_ips: str = _setting(
        "",
        "Comma-separated IPs or CIDRs allowed to call TradingView webhooks (403 otherwise); "
        "empty: any. TradingView's: 52.89.214.238,34.212.75.30,54.218.53.128,52.32.178.7",
    )
    tradingview_resend_seconds: float = _setting(
        60.0,
        "A TradingView message without a time, sent again for the same alert within this, is "
        "the same signal (TradingView resends after a 5xx, at most 3 times, 5 s apart).",
    )
    # Rate limits (sliding windows, shared by every gateway through the store)
    ip_limit: int = _setting(120, "Requests per client IP per window, all API endpoints.")
    ip_window_seconds: float = _setting(60.0, "Window of the per-IP limit.")
    tenant_write_limit: int = _setting(120, "Writes (POST/PUT trading) per tenant per window.")
    tenant_write_window_seconds: float = _setting(60.0, "Window of the per-tenant write limit.")
    auth_failure_limit: int = _setting(
        10, "401 answers per IP per window before the IP is blocked."
    )
    auth_failure_window_seconds: float = _setting(60.0, "Window of the auth-failure limit.")
    max_api_keys_per_tenant: int = _setting(
        50, "Most active API keys of a tenant (baas keys create refuses more; revoke one first)."
    )
    # Event log
    idempotency_retention_seconds: int = _setting(
        7 * 24 * 3600, "How long a (tenant, source, id) is remembered for replays."
    )
    schemas_dir: Path = _setting(
        _SCHEMAS, "Folder of the command JSON Schemas (an installed package has its own)."
    )
    # Workers
    worker_block_ms: int = _setting(1000, "How long a worker's XREADGROUP waits for new entries.")
    worker_batch: int = _setting(100, "Most log entries a worker reads at once.")
    worker_claim_idle_seconds: float = _setting(
        5.0, "Idle time after which a dead worker's pending entries are claimed (XAUTOCLAIM)."
    )
    worker_discovery_seconds: float = _setting(
        2.0, "How often a worker looks for new tenants' logs."
    )
    paper_limit_order_ttl_seconds: int = _setting(
        86400, "Time in force of paper limit orders: unfilled after this, they are cancelled."
    )
    # Interactive Brokers
    ibkr_reconnect_initial_seconds: float = _setting(
        1.0, "First wait before reconnecting to IB Gateway; doubles on each failure, with jitter."
    )
    ibkr_reconnect_max_seconds: float = _setting(
        60.0, "Longest wait between two reconnect attempts to IB Gateway."
    )
    ibkr_connect_timeout_seconds: float = _setting(
        10.0, "Time-out of one connection attempt (handshake and initial synchronisation)."
    )
    ibkr_heartbeat_seconds: float = _setting(
        30.0, "How often an idle IB connection asks IB Gateway for the time (0: never)."
    )
    ibkr_heartbeat_timeout_seconds: float = _setting(
        10.0, "An unanswered heartbeat after this long drops the connection, which then reconnects."
    )
    ibkr_request_timeout_seconds: float = _setting(
        10.0, "Longest wait for IB to answer a request (orders, executions, contracts, positions)."
    )
    ibkr_commission_wait_seconds: float = _setting(
        5.0, "How long a fill waits for its commission report before it is recorded without one."
    )
    ibkr_sync_seconds: float = _setting(
        2.0,
        "How often each worker opens and closes its IB connections as brokers are configured, "
        "disabled or removed, and publishes their status.",
    )
    ibkr_reconcile_seconds: int = _setting(
        180,
        "How often each worker asks IB for executions, so a fill missed while away is recorded.",
    )
    # Ledger
    ledger_key_limit: int = _setting(
        60, "Requests per ledger API key (Authorization: Bearer fq_live_…) per window."
    )
    ledger_key_window_seconds: float = _setting(60.0, "Window of the per-ledger-key limit.")
    ledger_max_orders: int = _setting(500, "Most orders in one POST …/orders (422 above).")
    ledger_max_body_bytes: int = _setting(
        4 * 1024 * 1024, "Largest body of a ledger write or a price import (413 above)."
    )
    ledger_default_benchmark: str = _setting(
        "SPY", "Benchmark of GET …/performance and …/nav when the query names none."
    )
    ledger_max_keys_per_strategy: int = _setting(
        20, "Most active ledger API keys of a strategy (409 above; revoke one first)."
    )
    polygon_api_key: str = _setting(
        "",
        "Polygon.io API key: closes the store lacks are fetched there "
        "(pip install polygon-api-client). Empty: no price provider.",
        alias="POLYGON_API_KEY",
        secret=True,
    )
    # Console
    console_session_seconds: int = _setting(
        12 * 3600, "Life of a console session (signed in with an API key); then sign in again."
    )
    console_poll_seconds: float = _setting(
        1.0, "How often an open console page asks for new signals and status changes."
    )
    # Processes
    log_level: str = _setting("info", "Log level: debug, info, warning, error.")
    worker_index: int = _setting(0, "Index of this worker process (several share the load).")
    restart_delay_seconds: float = _setting(
        1.0, "`baas run`: wait before restarting a process that exited; doubles with each exit."
    )
    restart_max_delay_seconds: float = _setting(
        30.0, "`baas run`: longest wait before restarting a process that exited."
    )
    restart_limit: int = _setting(
        5, "`baas run` stops everything when one process exits this many times in the window."
    )
    restart_window_seconds: float = _setting(300.0, "`baas run`: window of the restart limit.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every setting from ``environ`` (default ``os.environ``); ``overrides`` win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(env_name(f.name))
            if raw is None and f.metadata["alias"]:
                raw = env.get(f.metadata["alias"])
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, f.default, raw)
        values.update(overrides)
        return cls(**values)

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def embedded(self) -> bool:
        return not self.redis_url


def env_name(field_name: str) -> str:
    return PREFIX + field_name.upper()


def describe() -> list[tuple[str, str, str]]:
    """(environment variable, default, meaning) of every setting, for the CLI and the README."""
    rows = []
    for f in dataclasses.fields(Settings):
        name = f"`{env_name(f.name)}`"
        if f.metadata["alias"]:
            name += f" (or `{f.metadata['alias']}`)"
        default = f.default
        if isinstance(default, Path) and default.is_relative_to(_REPO_ROOT):
            default = default.relative_to(_REPO_ROOT)
        rows.append((name, f"`{default}`" if str(default) else "empty", f.metadata["doc"]))
    return rows


def markdown_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| {name} | {default} | {doc} |" for name, default, doc in describe()]
    return "\n".join(lines)


class SettingsError(ValueError):
    pass


def _convert(name: str, default: Any, raw: str) -> Any:
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
    except ValueError as exc:
        raise SettingsError(f"{env_name(name)}={raw!r}: {exc}") from None
    return raw
