"""The calls of the store's server-side functions (functions.lua), one builder per function.

A builder's parameters are the Lua function's named locals, in their order: those typed ``Key``
are its KEYS, those typed ``Arg`` its ARGV; a ``Keys`` or ``Args`` parameter is the rest of them
(the Lua side's ``rest(keys, n)``). tests/store/test_functions.py holds the two sides together, so
a key or an argument is added, renamed or moved in one place on each side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

Key = str | bytes
Arg = str | bytes | int | float
Keys = Sequence[Key]
Args = Sequence[Arg]


class Call(NamedTuple):
    function: str
    keys: tuple[Key, ...]
    args: tuple[Arg, ...]

    def command(self) -> tuple[Arg, ...]:
        """The FCALL command, for redis-py's ``execute_command`` or a pipelined connection."""
        return ("FCALL", self.function, len(self.keys), *self.keys, *self.args)


def ip_gate(
    ip_window: Key,
    failures: Key,
    ip_limit: Arg,
    ip_window_ms: Arg,
    failure_limit: Arg,
    failure_window_ms: Arg,
    member: Arg,
) -> Call:
    return Call(
        "baas_ip_gate",
        (ip_window, failures),
        (ip_limit, ip_window_ms, failure_limit, failure_window_ms, member),
    )


def auth_failure(failures: Key, failure_window_ms: Arg, member: Arg) -> Call:
    return Call("baas_auth_failure", (failures,), (failure_window_ms, member))


def tenant_write(write_window: Key, tenant_limit: Arg, tenant_window_ms: Arg, member: Arg) -> Call:
    return Call("baas_tenant_write", (write_window,), (tenant_limit, tenant_window_ms, member))


def ingest(
    log: Key,
    write_window: Key,
    credentials: Key,
    seen_keys: Keys,
    credential: Arg,
    tenant_limit: Arg,
    tenant_window_ms: Arg,
    member: Arg,
    retention: Arg,
    received_at: Arg,
    client_ip: Arg,
    events: Args,
) -> Call:
    return Call(
        "baas_ingest",
        (log, write_window, credentials, *seen_keys),
        (
            credential,
            tenant_limit,
            tenant_window_ms,
            member,
            retention,
            received_at,
            client_ip,
            *events,
        ),
    )


def submit(
    ip_window: Key,
    failures: Key,
    key_index: Key,
    log: Key,
    write_window: Key,
    seen_keys: Keys,
    key_digest: Arg,
    tenant_id: Arg,
    member: Arg,
    received_at: Arg,
    client_ip: Arg,
    ip_limit: Arg,
    ip_window_ms: Arg,
    failure_limit: Arg,
    failure_window_ms: Arg,
    tenant_limit: Arg,
    tenant_window_ms: Arg,
    retention: Arg,
    events: Args,
) -> Call:
    """The gateway's hot path passes each value already RESP-encoded (see EventLog.submit)."""
    return Call(
        "baas_submit",
        (ip_window, failures, key_index, log, write_window, *seen_keys),
        (
            key_digest,
            tenant_id,
            member,
            received_at,
            client_ip,
            ip_limit,
            ip_window_ms,
            failure_limit,
            failure_window_ms,
            tenant_limit,
            tenant_window_ms,
            retention,
            *events,
        ),
    )


def commit(
    log: Key,
    version: Key,
    handled: Key,
    signal_index: Key,
    models: Keys,
    command: Arg,
    expected_version: Arg,
    received_at: Arg,
    changes: Args,
) -> Call:
    return Call(
        "baas_commit",
        (log, version, handled, signal_index, *models),
        (command, expected_version, received_at, *changes),
    )


def ledger_key_gate(
    key_window: Key,
    active_keys: Key,
    key_id: Arg,
    key_limit: Arg,
    key_window_ms: Arg,
    member: Arg,
) -> Call:
    return Call(
        "baas_ledger_key_gate",
        (key_window, active_keys),
        (key_id, key_limit, key_window_ms, member),
    )


def ledger_strategy(
    log: Key,
    strategies: Key,
    default_strategy: Key,
    strategy_id: Arg,
    record: Arg,
    event: Arg,
    received_at: Arg,
    default: Arg,
) -> Call:
    return Call(
        "baas_ledger_strategy",
        (log, strategies, default_strategy),
        (strategy_id, record, event, received_at, default),
    )


def ledger_commit(
    log: Key,
    state: Key,
    history: Key,
    active_keys: Key,
    targets: Keys,
    key_id: Arg,
    expected_version: Arg,
    received_at: Arg,
    client_ip: Arg,
    new_state: Arg,
    changes: Args,
) -> Call:
    """``changes`` name the hashes and lists they write by their position in ``targets`` (1 on)."""
    return Call(
        "baas_ledger_commit",
        (log, state, history, active_keys, *targets),
        (key_id, expected_version, received_at, client_ip, new_state, *changes),
    )


def prices_put(closes_hash: Key, latest: Key, closes: Args) -> Call:
    return Call("baas_prices_put", (closes_hash, latest), tuple(closes))
