"""The spec's own examples, run as written against a live gateway.

Only the base URL (https://baas.dotquant.io → the live gateway) and the credentials ($TENANT_ID,
$API_KEY, $ALERT_ID, $BROKER_ID, as shell variables or Python names) change. The commands are the
spec's, as stored in tests/support/spec_examples/baas-api.json (checked against the spec by
tests/unit/test_spec_documents.py).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from baas.core.keyspace import Keyspace
from tests.support.gateway import live_gateway
from tests.support.spec import (
    SPEC_BASE_URL,
    capture_post_response,
    curl_commands,
    python_example,
    retry_after_snippet,
    schema_listing,
)
from tests.support.store import make_settings, new_tenant

pytestmark = pytest.mark.live

COMMAND_TIMEOUT = 30
ALERT_ID = "alert-spec-example"
BROKER_ID = "ibkr-paper"
WRITE_OUT = r"\n%{content_type}\n%{http_code}"


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """The environment of the spec's shell commands: a ``uuidgen`` on PATH (this machine may
    lack one) and no proxy for loopback."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    uuidgen = bin_dir / "uuidgen"
    uuidgen.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import uuid; print(uuid.uuid4())'\n")
    uuidgen.chmod(uuidgen.stat().st_mode | stat.S_IXUSR)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def run_bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def run_curl(command: str, base_url: str, env: dict[str, str]) -> tuple[int, str, Any]:
    """Run one of the spec's curl commands: (status, content type, JSON body)."""
    assert command.startswith("curl ")
    script = f"curl -s -w '{WRITE_OUT}' " + command.removeprefix("curl ")
    script = script.replace(SPEC_BASE_URL, base_url)
    done = run_bash(script, env)
    assert done.returncode == 0, done.stderr
    body, content_type, status = done.stdout.rsplit("\n", 2)
    return int(status), content_type, orjson.loads(body)


def kind_of(command: str) -> str:
    if "/api/trading/schemas/" in command:
        return "fetch-schema"
    if "/api/trading/schemas" in command:
        return "list-schemas"
    action = re.search(r'"Data": "(\w+)"', command)
    assert action, command
    return action.group(1)


async def test_the_spec_curl_examples_as_written(settings, store, prefix, shell_env):
    tenant = await new_tenant(store, prefix)
    commands = curl_commands()
    assert [kind_of(c) for c in commands] == ["list-schemas", "fetch-schema", "buy", "sell"]
    env = {
        **shell_env,
        "TENANT_ID": tenant.tenant_id,
        "API_KEY": tenant.api_key,
        "ALERT_ID": ALERT_ID,
        "BROKER_ID": BROKER_ID,
    }
    with live_gateway(settings) as base:
        answers = {kind_of(c): run_curl(c, base, env) for c in commands}

    status, content_type, listing = answers["list-schemas"]
    assert status == 200
    assert content_type.startswith("application/json")
    assert isinstance(listing, list)
    for entry in listing:
        assert set(entry) == {"name", "versions"}
        assert isinstance(entry["name"], str)
        assert isinstance(entry["versions"], list)
    served = {entry["name"]: entry["versions"] for entry in listing}
    for documented in schema_listing():
        assert documented["name"] in served
        assert set(documented["versions"]) <= set(served[documented["name"]])
        assert "1.0" in served[documented["name"]]

    status, content_type, schema = answers["fetch-schema"]
    assert status == 200
    assert content_type.split(";")[0].strip() == "application/schema+json"
    assert schema["title"] == "SubmitSignal"
    assert "$schema" in schema

    for action in ("buy", "sell"):
        status, content_type, answer = answers[action]
        assert status == 202, answer
        assert content_type.startswith("application/json")
        assert answer == {"id": ALERT_ID}

    entries = await store.xrange(Keyspace(prefix).tenant_log(tenant.tenant_id))
    events = [orjson.loads(fields[b"event"]) for _, fields in entries]
    assert [e["data"]["Data"] for e in events] == ["buy", "sell"]
    for event in events:
        uuid.UUID(event["id"])  # from $(uuidgen)
        uuid.UUID(event["data"]["Id"])
        assert event["data"]["CorrelationId"] == ALERT_ID
        assert event["data"]["BrokerId"] == BROKER_ID
        assert event["data"]["TenantId"] == tenant.tenant_id
        assert event["tenantid"] == tenant.tenant_id
    assert events[0]["id"] != events[1]["id"]


async def test_the_spec_python_example_as_written(settings, store, prefix, monkeypatch):
    tenant = await new_tenant(store, prefix)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    # The example sets no timeout; bound it here without touching the program.
    request = requests.Session.request
    monkeypatch.setattr(
        requests.Session,
        "request",
        lambda self, *args, **kwargs: request(
            self, *args, **{"timeout": COMMAND_TIMEOUT, **kwargs}
        ),
    )
    with live_gateway(settings) as base:
        program = capture_post_response(python_example().replace(SPEC_BASE_URL, base))
        namespace: dict[str, Any] = {
            "__name__": "spec_python_example",
            "tenant_id": tenant.tenant_id,
            "api_key": tenant.api_key,
            "alert_id": ALERT_ID,
            "broker_id": BROKER_ID,
        }
        exec(compile(program, "<spec: Example — Python>", "exec"), namespace)
    resp = namespace["resp"]
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"id": ALERT_ID}
    [(_, entry)] = await store.xrange(Keyspace(prefix).tenant_log(tenant.tenant_id))
    event = orjson.loads(entry[b"event"])
    assert event["data"]["Quantity"] == 5
    assert event["data"]["CorrelationId"] == ALERT_ID


async def test_the_spec_429_snippet_reads_retry_after(store_url, store, prefix, shell_env):
    """The spec's bash snippet for 429s, as written but for its ``...``: curl's header_json
    carries retry-after, jq's ``."retry-after"[0]`` yields whole seconds, and after sleeping
    that long the client gets through again."""
    settings = make_settings(store_url, prefix, ip_limit=2, ip_window_seconds=3)
    tenant = await new_tenant(store, prefix)
    env = {**shell_env, "API_KEY": tenant.api_key}
    snippet = retry_after_snippet()
    assert "..." in snippet
    with live_gateway(settings) as base:
        env["URL"] = f"{base}/tenants/{tenant.tenant_id}/api/trading/schemas"
        request = '"$URL" -H "X-Api-Key: $API_KEY"'
        script = "\n".join(
            [
                # Use up the limit of 2 requests.
                f"curl -s -o /dev/null {request}",
                f"curl -s -o /dev/null {request}",
                snippet.replace("...", request),
                'echo "WAIT=$WAIT"',
                'echo "RESPONSE=${RESPONSE%% *}"',
                f'echo "AFTER=$(curl -s -o /dev/null -w "%{{http_code}}" {request})"',
                'echo "HEADERS_BEGIN"',
                'echo "${RESPONSE#* }"',
            ]
        )
        done = run_bash(script, env)
    assert done.returncode == 0, done.stderr
    head, headers = done.stdout.split("HEADERS_BEGIN\n", 1)
    values = dict(line.split("=", 1) for line in head.splitlines())
    assert values["RESPONSE"] == "429"
    assert re.fullmatch(r"[1-9][0-9]*", values["WAIT"]), values
    assert 1 <= int(values["WAIT"]) <= 3
    assert orjson.loads(headers)["retry-after"] == [values["WAIT"]]
    assert values["AFTER"] == "200"
