"""A worker process rides out a store outage: arq's loop and the log consumers wait for the store
and carry on; stopped while the store is away, it stops without a traceback."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from baas.store.embedded import EmbeddedValkey
from tests.cli.processes import clean_env

LOG_DEADLINE = 30.0
STOP_DEADLINE = 20.0


def wait_for_line(log: Path, text: str, after: int = 0) -> int:
    """The length of the log once ``text`` appears in it past ``after`` characters."""
    deadline = time.monotonic() + LOG_DEADLINE
    while True:
        content = log.read_text(errors="replace")
        if text in content[after:]:
            return len(content)
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{content[after:]}"
        time.sleep(0.05)


def kill_store(store: EmbeddedValkey) -> None:
    """SIGKILL the server but keep its port, password and lock, as a crash under ``baas run``."""
    assert store._process is not None
    os.kill(store._process.pid, signal.SIGKILL)
    store._process.wait()


@pytest.mark.live
def test_a_worker_waits_out_a_store_outage_and_stops_cleanly_during_one(tmp_path):
    log = tmp_path / "worker.log"
    with EmbeddedValkey(tmp_path / "data") as store, log.open("wb") as stderr:
        env = clean_env(BAAS_REDIS_URL=store.url, BAAS_KEY_PREFIX=f"t-{secrets.token_hex(3)}")
        worker = subprocess.Popen(
            [sys.executable, "-m", "baas.cli.main", "worker"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            seen = wait_for_line(log, "worker started")
            kill_store(store)
            seen = wait_for_line(log, "store unavailable; waiting for it", seen)
            store.restart()
            seen = wait_for_line(log, "store available again", seen)
            assert worker.poll() is None

            kill_store(store)
            wait_for_line(log, "store unavailable; waiting for it", seen)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(STOP_DEADLINE) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert "Traceback" not in log.read_text(errors="replace")
