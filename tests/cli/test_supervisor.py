"""``baas run`` supervises: a child that dies is started again, the store included, while signals
flow; its children die with it; one data directory never gets two stores."""

from __future__ import annotations

import collections
import contextlib
import os
import secrets
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
import redis

from baas.cli.first_start import STARTER_ALERT
from baas.core.keyspace import Keyspace
from baas.store.embedded import EmbeddedValkey, StoreLocked
from tests.cli.processes import (
    FIRST_START,
    BaasRun,
    baas_run,
    clean_env,
    descendants,
    first_start,
    gone,
    roles,
    trading,
)
from tests.support.gateway import free_port

RESTART_DEADLINE = 2.0  # the first restart waits 1 s
OUTCOME_DEADLINE = 60.0
STOP_DEADLINE = 20.0
UNLIMITED = {"BAAS_IP_LIMIT": "1000000", "BAAS_TENANT_WRITE_LIMIT": "1000000"}


def pid_of(run: BaasRun, role: str) -> int | None:
    for pid, command in descendants(run.process.pid).items():
        if roles({pid: command}) == {role}:
            return pid
    return None


def restarted(run: BaasRun, role: str, old_pid: int) -> int:
    """The pid of ``role`` once a new one runs; fails after RESTART_DEADLINE."""
    deadline = time.monotonic() + RESTART_DEADLINE
    while True:
        pid = pid_of(run, role)
        if pid is not None and pid != old_pid:
            return pid
        assert time.monotonic() < deadline, f"no new {role} within {RESTART_DEADLINE} s"
        time.sleep(0.02)


class Signals:
    """Sends the starter alert's signals, one after the other, until stopped."""

    def __init__(self, base: str, tenant_id: str, api_key: str) -> None:
        self.url, self.tenant_id, self.api_key = trading(base, tenant_id), tenant_id, api_key
        self.statuses: collections.Counter[int] = collections.Counter()
        self.accepted: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._thread.start()

    def _event(self, signal_id: str) -> dict:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = {
            "CorrelationId": STARTER_ALERT,
            "TenantId": self.tenant_id,
            "Id": signal_id,
            "BrokerId": "paper",
            "Symbol": "AAPL",
            "Date": now,
            "Data": "buy",
            "Quantity": 1,
            "Price": 200.0,
            "OrderType": "MKT",
            "InstrumentType": "STK",
        }
        return {"id": signal_id, "type": "SubmitSignal", "source": "supervision", "data": data}

    def _send(self) -> None:
        with httpx.Client(headers={"X-Api-Key": self.api_key}, timeout=10) as client:
            while not self._stop.is_set():
                signal_id = f"sup-{secrets.token_hex(6)}"
                status = client.post(self.url, json=self._event(signal_id)).status_code
                self.statuses[status] += 1
                if status == 202:
                    self.accepted.append(signal_id)
                time.sleep(0.02)

    def accepted_since(self, count: int, more: int = 5) -> None:
        """Wait until ``more`` signals beyond the first ``count`` were accepted."""
        deadline = time.monotonic() + OUTCOME_DEADLINE
        while len(self.accepted) < count + more:
            assert time.monotonic() < deadline, f"signals stopped flowing: {self.statuses}"
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def decisions(data_dir: Path, tenant_id: str) -> collections.Counter[str]:
    url = (data_dir / "store.url").read_text().strip()
    client = redis.Redis.from_url(url, socket_timeout=5)
    with contextlib.closing(client):
        entries = client.xrange(Keyspace("baas").tenant_log(tenant_id))
    events = [orjson.loads(fields[b"event"]) for _, fields in entries]
    return collections.Counter(
        e["subject"]
        for e in events
        if e["source"] == "worker" and e["type"] in ("SignalAccepted", "SignalRejected")
    )


def decided_once(data_dir: Path, tenant_id: str, signal_ids: list[str]) -> None:
    """Wait until each of ``signal_ids`` has an outcome; fail if one has more than one."""
    deadline = time.monotonic() + OUTCOME_DEADLINE
    while not set(signal_ids) <= set(decided := decisions(data_dir, tenant_id)):
        assert time.monotonic() < deadline, set(signal_ids) - set(decided)
        time.sleep(0.2)
    assert set(decided.values()) == {1}, decided


def start(tmp_path: Path, **settings: str) -> tuple[dict[str, str], Path, str]:
    data_dir = (tmp_path / "data").resolve()
    port = free_port()
    env = clean_env(BAAS_DATA_DIR=str(data_dir), BAAS_PORT=str(port), **settings)
    return env, data_dir, f"http://127.0.0.1:{port}"


@pytest.mark.live
def test_a_killed_worker_and_a_killed_store_are_restarted_and_every_signal_has_one_outcome(
    tmp_path,
):
    env, data_dir, base = start(tmp_path, **UNLIMITED)
    with baas_run(env, tmp_path) as run:
        banner = run.wait_for(lambda out: FIRST_START.search(out) is not None)
        tenant_id, api_key = first_start(banner)
        signals = Signals(base, tenant_id, api_key)
        try:
            signals.accepted_since(0)
            worker = pid_of(run, "worker")
            assert worker is not None
            os.kill(worker, signal.SIGKILL)
            worker = restarted(run, "worker", worker)
            signals.accepted_since(len(signals.accepted))
            decided_once(data_dir, tenant_id, list(signals.accepted))  # the new worker works

            store = pid_of(run, "valkey")
            assert store is not None
            os.kill(store, signal.SIGKILL)
            restarted(run, "valkey", store)
            signals.accepted_since(len(signals.accepted))
            assert pid_of(run, "worker") == worker  # it waited for the store, and lived
        finally:
            signals.stop()
        assert set(signals.statuses) <= {202, 503}, signals.statuses

        decided_once(data_dir, tenant_id, signals.accepted)
        assert set(decisions(data_dir, tenant_id)) == set(signals.accepted)
        assert "Traceback" not in run.log()
        assert "the worker exited (killed by SIGKILL); restarting it in 1 s" in run.log()
        assert "the store exited (killed by SIGKILL); restarting it in 1 s" in run.log()
        assert run.interrupt() == 0, run.output
        assert gone(run.children, STOP_DEADLINE) == {}


@pytest.mark.live
def test_a_child_that_keeps_exiting_stops_the_run_naming_it(tmp_path):
    env, _, _ = start(tmp_path, BAAS_RESTART_LIMIT="2")
    with baas_run(env, tmp_path) as run:
        run.wait_for(lambda out: "Gateway:" in out)
        worker = pid_of(run, "worker")
        assert worker is not None
        os.kill(worker, signal.SIGKILL)
        os.kill(restarted(run, "worker", worker), signal.SIGKILL)
        assert run.process.wait(STOP_DEADLINE) == 1
        assert "error: the worker exited 2 times within 300 s" in run.log()
        assert gone(run.children, STOP_DEADLINE) == {}


@pytest.mark.live
def test_the_children_die_with_a_killed_supervisor_and_the_next_run_starts(tmp_path):
    env, _, _ = start(tmp_path)
    with baas_run(env, tmp_path) as run:
        run.wait_for(lambda out: "Gateway:" in out)
        assert roles(run.children) == {"valkey", "gateway", "worker"}
        run.process.kill()
        assert gone(run.children, STOP_DEADLINE) == {}
    with baas_run(env, tmp_path) as run:
        run.wait_for(lambda out: "Gateway:" in out and "Tenants:" in out)
        assert run.interrupt() == 0, run.output


def test_the_store_process_holds_the_data_directory_lock_too(tmp_path):
    store = EmbeddedValkey(tmp_path / "data")
    store.start()
    try:
        assert store._lock_fd is not None
        os.close(store._lock_fd)  # as if its supervisor were gone: the server alone holds it
        store._lock_fd = None
        with pytest.raises(StoreLocked):
            EmbeddedValkey(tmp_path / "data").start()
    finally:
        store.stop()
    with EmbeddedValkey(tmp_path / "data"):
        pass  # free again once the server is gone
