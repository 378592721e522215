"""Driving the console over plain HTTP (httpx, in process): sign in, read a form's CSRF token."""

from __future__ import annotations

import re

import httpx

from baas.bootstrap import command_consumer
from baas.core.keyspace import Keyspace
from baas.core.trading.signals import SignalPolicy
from baas.settings import Settings
from baas.store.trading import TradingStore
from workers.consumer import LogConsumer
from workers.handlers import CommandHandler

SIGN_IN = "/console/sign-in"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, api_key: str) -> httpx.Response:
    form = await client.get(SIGN_IN)
    assert form.status_code == 200
    return await client.post(SIGN_IN, data={"csrf": csrf_of(form.text), "api_key": api_key})


async def signed_in(client: httpx.AsyncClient, api_key: str) -> str:
    """Sign in; the session's CSRF token (read from the overview)."""
    answer = await sign_in(client, api_key)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/"
    overview = await client.get("/console/")
    assert overview.status_code == 200
    return csrf_of(overview.text)


def worker(store: object, keyspace: Keyspace, settings: Settings) -> LogConsumer:
    """A worker's consumer of the trading commands, stepped by the test."""
    handler = CommandHandler(TradingStore(store, keyspace), SignalPolicy())  # type: ignore[arg-type]
    return command_consumer(store, keyspace, settings, "w1", handler)  # type: ignore[arg-type]
