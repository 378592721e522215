"""The ``baas`` console script, run as a user runs it: a subprocess with an environment.

Against the test store (BAAS_REDIS_URL + a fresh BAAS_KEY_PREFIX), against a temporary embedded
store under BAAS_DATA_DIR, and ``baas run`` end to end (marked live).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
import redis

from baas.core.keyspace import Keyspace
from baas.settings import Settings, env_name
from tests.cli.processes import (
    BAAS,
    COMMAND_TIMEOUT,
    FIRST_START,
    baas,
    baas_run,
    banner_value,
    clean_env,
    first_start,
    gone,
    ok,
    ours,
    roles,
    submit,
    trading,
)
from tests.support.gateway import free_port, live_gateway
from tests.support.spec import fill_trade_example


@pytest.fixture
def store_env(store_url: str, prefix: str, tmp_path: Path) -> dict[str, str]:
    return clean_env(
        BAAS_REDIS_URL=store_url, BAAS_KEY_PREFIX=prefix, BAAS_DATA_DIR=str(tmp_path / "var")
    )


# ----------------------------------------------------------------------------------------------
# Help


HELP = {
    (): ["run", "gateway", "worker", "settings", "tenants", "keys", "BAAS_"],
    ("run",): ["gateway", "worker", "tenant", "API key"],
    ("gateway",): ["HTTP", "BAAS_PORT"],
    ("worker",): ["worker"],
    ("settings",): ["environment variable", "default"],
    ("tenants",): ["create", "list"],
    ("tenants", "create"): ["--name", "--json", "API key"],
    ("tenants", "list"): ["--json"],
    ("keys",): ["create", "list", "revoke"],
    ("keys", "create"): ["--tenant", "--json", "once"],
    ("keys", "list"): ["--tenant", "never"],
    ("keys", "revoke"): ["--tenant", "KEY_ID", "401"],
}


def description(help_text: str) -> str:
    """The prose of a help text: its paragraphs other than usage and option lists."""
    paragraphs = [p.strip() for p in help_text.split("\n\n") if p.strip()]
    prose = [
        p
        for p in paragraphs
        if not p.startswith(("usage:", "options:", "positional arguments:"))
        and not p.lstrip().startswith("-")
    ]
    return "\n".join(prose)


@pytest.mark.parametrize("command", list(HELP), ids=lambda c: " ".join(c) or "baas")
def test_help_explains_every_command(command, tmp_path):
    out = ok(baas(*command, "--help", env=clean_env(), cwd=tmp_path))
    assert out.startswith(f"usage: {' '.join(['baas', *command])}")
    assert len(description(out).split()) >= 2, out
    for word in HELP[command]:
        assert word.lower() in out.lower(), f"{word!r} not in the help of {command}:\n{out}"


def test_settings_lists_every_baas_variable(store_env, store_url, tmp_path):
    out = ok(baas("settings", env=store_env, cwd=tmp_path))
    for field in dataclasses.fields(Settings):
        assert env_name(field.name) in out
    assert "REDIS_URL" in out and "PORT" in out  # the two aliases
    assert store_env["BAAS_KEY_PREFIX"] in out  # current values are shown…
    if "@" in store_url:
        assert store_url not in out  # …but never the store's password


# ----------------------------------------------------------------------------------------------
# Tenants and keys against the test store


def test_tenants_and_keys_lifecycle(store_env, settings, tmp_path):
    name = f"cli-{secrets.token_hex(3)}"
    created = orjson.loads(
        ok(baas("tenants", "create", "--name", name, "--json", env=store_env, cwd=tmp_path))
    )
    assert set(created) == {"tenant_id", "api_key"}
    tenant_id, first_key = created["tenant_id"], created["api_key"]
    assert first_key.startswith("baas_")

    listed = orjson.loads(ok(baas("tenants", "list", "--json", env=store_env, cwd=tmp_path)))
    assert [t["name"] for t in listed if t["tenant_id"] == tenant_id] == [name]
    text = ok(baas("tenants", "list", env=store_env, cwd=tmp_path))
    assert tenant_id in text and name in text

    issued = orjson.loads(
        ok(baas("keys", "create", "--tenant", tenant_id, "--json", env=store_env, cwd=tmp_path))
    )
    assert set(issued) == {"key_id", "api_key"}
    key_id, second_key = issued["key_id"], issued["api_key"]
    assert second_key != first_key

    keys_json = ok(
        baas("keys", "list", "--tenant", tenant_id, "--json", env=store_env, cwd=tmp_path)
    )
    keys_text = ok(baas("keys", "list", "--tenant", tenant_id, env=store_env, cwd=tmp_path))
    key_ids = [k["key_id"] for k in orjson.loads(keys_json)]
    assert len(key_ids) == 2 and key_id in key_ids
    for key in key_ids:
        assert key in keys_text
    for plaintext in (first_key, second_key):
        assert plaintext not in keys_text
        assert plaintext not in keys_json

    with live_gateway(settings) as base:
        assert submit(base, tenant_id, second_key).status_code == 202
        assert submit(base, tenant_id, first_key).status_code == 202

        ok(baas("keys", "revoke", "--tenant", tenant_id, key_id, env=store_env, cwd=tmp_path))
        refused = submit(base, tenant_id, second_key)
        assert refused.status_code == 401
        assert refused.json()["detail"]
        assert submit(base, tenant_id, first_key).status_code == 202  # the other key still works

        again = baas("keys", "revoke", "--tenant", tenant_id, key_id, env=store_env, cwd=tmp_path)
        ok(again)
        assert submit(base, tenant_id, second_key).status_code == 401

    keys_text = ok(baas("keys", "list", "--tenant", tenant_id, env=store_env, cwd=tmp_path))
    [line] = [line for line in keys_text.splitlines() if key_id in line]
    assert "revoked" in line
    assert second_key not in keys_text


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "create", "--tenant", "no-such-tenant"),
        ("keys", "revoke", "--tenant", "no-such-tenant", "key_0000000000000000"),
        ("keys", "revoke", "--tenant", "{tenant}", "key_0000000000000000"),
    ],
    ids=["create-unknown-tenant", "revoke-unknown-tenant", "revoke-unknown-key"],
)
def test_unknown_tenant_or_key_is_an_error(args, store_env, tmp_path):
    created = orjson.loads(
        ok(baas("tenants", "create", "--name", "x", "--json", env=store_env, cwd=tmp_path))
    )
    args = tuple(a.format(tenant=created["tenant_id"]) for a in args)
    done = baas(*args, env=store_env, cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.strip()
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [("tenants", "create"), ("keys", "create", "--tenant", "t1")],
    ids=["tenant", "key"],
)
def test_a_name_that_is_not_utf8_is_a_usage_error(args, store_env, tmp_path):
    # The byte 0xff on a command line reaches Python as a lone surrogate: no store can hold it.
    done = baas(*args, "--name", "a\udcff", env=store_env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.endswith("error: argument --name: must be UTF-8 text\n")
    assert "Traceback" not in done.stderr


def test_listing_the_keys_of_an_unknown_tenant_is_an_error(store_env, tmp_path):
    done = baas("keys", "list", "--tenant", "no-such-tenant", env=store_env, cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.strip()


# ----------------------------------------------------------------------------------------------
# The embedded store: a temporary one for the length of a command, the data kept in its AOF


def test_commands_without_a_store_url_use_a_temporary_embedded_store(tmp_path):
    data_dir = tmp_path / "data"
    env = clean_env(BAAS_DATA_DIR=str(data_dir))
    created = orjson.loads(
        ok(baas("tenants", "create", "--name", "x", "--json", env=env, cwd=tmp_path))
    )
    assert set(created) == {"tenant_id", "api_key"}
    assert (data_dir / "appendonlydir").is_dir()
    assert not (data_dir / "store.url").exists()  # stopped again
    assert ours(data_dir.resolve()) == {}

    listed = orjson.loads(ok(baas("tenants", "list", "--json", env=env, cwd=tmp_path)))
    assert [t["tenant_id"] for t in listed] == [created["tenant_id"]]
    assert ours(data_dir.resolve()) == {}


# ----------------------------------------------------------------------------------------------
# `baas run`


@pytest.mark.live
def test_baas_run_end_to_end_with_the_embedded_store(tmp_path):
    data_dir = (tmp_path / "data").resolve()
    port = free_port()
    env = clean_env(BAAS_DATA_DIR=str(data_dir), BAAS_PORT=str(port))
    base = f"http://127.0.0.1:{port}"

    with baas_run(env, tmp_path) as run:
        banner = run.wait_for(lambda out: FIRST_START.search(out) is not None)
        tenant_id, api_key = first_start(banner)
        assert roles(run.children) == {"valkey", "gateway", "worker"}, run.children
        event = fill_trade_example(tenant_id, "alert-run-1", "paper", secrets.token_hex(8))
        event["id"] = f"run-{secrets.token_hex(8)}"
        r = httpx.post(
            trading(base, tenant_id), json=event, headers={"X-Api-Key": api_key}, timeout=10
        )
        assert r.status_code == 202, r.text
        assert r.json() == {"id": "alert-run-1"}
        assert run.interrupt() == 0, run.output
        assert gone(run.children) == {}
        assert ours(data_dir, f"BAAS_PORT={port}") == {}

    port = free_port()
    env["BAAS_PORT"] = str(port)
    with baas_run(env, tmp_path) as run:
        banner = run.wait_for(lambda out: "Tenants:" in out and "Gateway:" in out)
        # No new key is printed: no first-start line, no key-shaped token at all.
        assert FIRST_START.search(banner) is None, banner
        assert not re.search(r"baas_[A-Za-z0-9_-]{43}", banner), banner
        assert tenant_id in banner_value(banner, "Tenants")
        url = (data_dir / "store.url").read_text().strip()
        client = redis.Redis.from_url(url, socket_timeout=5)
        with contextlib.closing(client):
            entries = client.xrange(Keyspace("baas").tenant_log(tenant_id))
        # The log also holds the starter alert's configuration and the worker's outcomes.
        logged = [orjson.loads(fields[b"event"]) for _, fields in entries]
        logged = [e for e in logged if e["type"] == "SubmitSignal"]
        assert [e["id"] for e in logged] == [event["id"]]
        assert logged[0]["data"] == event["data"]
        # The first key still works after the restart.
        assert submit(f"http://127.0.0.1:{port}", tenant_id, api_key).status_code == 202
        assert run.interrupt() == 0, run.output
        assert gone(run.children) == {}
        assert ours(data_dir, f"BAAS_PORT={port}") == {}


@pytest.mark.live
def test_baas_run_on_an_external_store_starts_no_valkey(store_url, prefix, tmp_path):
    data_dir = (tmp_path / "data").resolve()
    port = free_port()
    env = clean_env(
        BAAS_REDIS_URL=store_url,
        BAAS_KEY_PREFIX=prefix,
        BAAS_DATA_DIR=str(data_dir),
        BAAS_PORT=str(port),
    )
    with baas_run(env, tmp_path) as run:
        banner = run.wait_for(lambda out: FIRST_START.search(out) is not None)
        tenant_id, api_key = first_start(banner)
        assert roles(run.children) == {"gateway", "worker"}, run.children
        assert "Embedded Valkey" not in run.output
        assert submit(f"http://127.0.0.1:{port}", tenant_id, api_key).status_code == 202
        assert not (data_dir / "store.url").exists()
        assert not (data_dir / "appendonlydir").exists()
        client = redis.Redis.from_url(store_url, socket_timeout=5)
        with contextlib.closing(client):
            entries = client.xrange(Keyspace(prefix).tenant_log(tenant_id))
            commands = [
                e for _, f in entries if (e := orjson.loads(f[b"event"]))["type"] == "SubmitSignal"
            ]
            assert len(commands) == 1
        assert run.interrupt() == 0, run.output
        assert gone(run.children) == {}
    assert not (data_dir / "store.url").exists()
    assert not (data_dir / "appendonlydir").exists()


@pytest.mark.parametrize("role", ["gateway", "worker"])
def test_a_process_without_a_store_says_why(role, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "BAAS_REDIS_URL")}
    env["BAAS_DATA_DIR"] = str(tmp_path / "empty")
    done = subprocess.run(
        [sys.executable, "-m", "baas.cli.main", role],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "no store is running" in done.stderr
    assert "Traceback" not in done.stderr


# ----------------------------------------------------------------------------------------------
# A closed pipe


@pytest.mark.parametrize(
    "args",
    [("settings",), ("--help",), ("tenants", "--help"), ("tenants", "list"), ("keys", "--help")],
    ids=" ".join,
)
def test_a_closed_pipe_ends_a_command_quietly(args, store_env, tmp_path):
    """As ``baas settings | head`` once ``head`` has left: the reading end is closed."""
    ok(baas("tenants", "create", "--name", "piped", env=store_env, cwd=tmp_path))
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [*BAAS, *args],
            env=store_env,
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode in (0, 1)  # 0: argparse's help ignores a closed pipe itself


@pytest.mark.parametrize(
    ("setting", "value", "reason"),
    [
        ("BAAS_PORT", "eighty", "BAAS_PORT='eighty'"),
        ("BAAS_DATA_DIR", "/proc/no-such-folder", "/proc/no-such-folder"),
    ],
)
def test_a_misconfiguration_ends_in_one_line_and_exit_1(setting, value, reason, tmp_path):
    done = baas("tenants", "list", env=clean_env(**{setting: value}), cwd=tmp_path)
    assert done.returncode == 1, done
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert reason in done.stderr
