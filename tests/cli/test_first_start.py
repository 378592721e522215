"""The first start of ``baas run``: nothing is created unless its own gateway can answer; the key
is shown once and the pasted commands work; its setup counts against no client's limits."""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
import redis

from baas.cli.first_start import STARTER_ALERT
from baas.core.keyspace import Keyspace
from tests.cli.processes import (
    BAAS,
    COMMAND_TIMEOUT,
    FIRST_START,
    baas_run,
    banner_value,
    clean_env,
    first_start,
    trading,
)
from tests.support.events import signal_event
from tests.support.gateway import free_port

FILL_DEADLINE = 30.0


class _Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def do_POST(self) -> None:
        self.send_response(401)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def another_gateway(port: int) -> Iterator[None]:
    """Something else on the port that answers /healthz with 200 and every write with 401."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.live
def test_a_taken_port_stops_the_first_start_before_anything_is_created(tmp_path):
    data_dir = (tmp_path / "data").resolve()
    port = free_port()
    env = clean_env(BAAS_DATA_DIR=str(data_dir), BAAS_PORT=str(port))
    with another_gateway(port):
        done = subprocess.run(
            [*BAAS, "run"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    assert done.returncode == 1, done
    assert f"error: port {port} on 127.0.0.1 is taken" in done.stderr
    assert "Traceback" not in done.stderr
    assert not data_dir.exists()  # no store, no tenant, no key
    with baas_run(env, tmp_path) as run:  # the port free again: the first start happens
        first_start(run.wait_for(lambda out: FIRST_START.search(out) is not None))
        assert run.interrupt() == 0


@pytest.mark.live
def test_the_first_start_shows_the_key_once_and_its_commands_work_when_pasted(tmp_path):
    data_dir = (tmp_path / "data").resolve()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(BAAS_DATA_DIR=str(data_dir), BAAS_PORT=str(port))
    with baas_run(env, tmp_path) as run:
        banner = run.wait_for(lambda out: "lifecycle" in out and "/api/signals" in out)
        tenant_id, api_key = first_start(banner)
        assert run.output.count(api_key) == 1
        assert run.output.count(tenant_id) == 1
        console = banner_value(run.output, "Console")
        assert console == f"{base}/console/"
        assert "Sign in" in httpx.get(console, follow_redirects=True).text
        export = FIRST_START.search(banner).group(0)  # type: ignore[union-attr]
        send = banner[banner.index("curl -X POST") : banner.index("\n\nThen see it")]
        see = banner[banner.index(f"curl {base}/tenants/$TENANT_ID/api/signals") :].splitlines()[0]

        sent = subprocess.run(
            ["bash", "-c", f"{export}\n{send} -s -w ' %{{http_code}}'"],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=True,
        )
        assert sent.stdout.endswith(" 202"), sent
        assert orjson.loads(sent.stdout[: -len(" 202")]) == {"id": STARTER_ALERT}
        deadline = time.monotonic() + FILL_DEADLINE
        while True:
            seen = subprocess.run(
                ["bash", "-c", f"{export}\n{see} -s"],
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=True,
            )
            signals = orjson.loads(seen.stdout)["signals"]
            if signals and signals[0]["Status"] == "filled":
                break
            assert time.monotonic() < deadline, seen.stdout
            time.sleep(0.2)
        assert run.interrupt() == 0, run.output


@pytest.mark.live
def test_the_first_start_setup_counts_against_no_client(tmp_path):
    """The default limits, 120 a minute per IP and per tenant: all 120 are the user's."""
    data_dir = (tmp_path / "data").resolve()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(BAAS_DATA_DIR=str(data_dir), BAAS_PORT=str(port))
    with baas_run(env, tmp_path) as run:
        tenant_id, api_key = first_start(run.wait_for(lambda o: FIRST_START.search(o) is not None))
        with httpx.Client(headers={"X-Api-Key": api_key}, timeout=10) as client:
            statuses = [
                client.post(trading(base, tenant_id), json=signal_event(tenant_id)).status_code
                for _ in range(121)
            ]
        assert statuses == [202] * 120 + [429]
        url = (data_dir / "store.url").read_text().strip()
        store = redis.Redis.from_url(url, socket_timeout=5)
        with contextlib.closing(store):
            entries = store.xrange(Keyspace("baas").tenant_log(tenant_id))
        setup = [
            (orjson.loads(fields[b"event"]), fields[b"ip"])
            for _, fields in entries
            if orjson.loads(fields[b"event"])["type"] == "ConfigureIndicatorAlert"
        ]
        assert [(event["id"], ip) for event, ip in setup] == [(STARTER_ALERT, b"")]
        assert run.interrupt() == 0, run.output
