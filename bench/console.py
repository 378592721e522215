"""Console benchmark against a live gateway process (not collected by pytest).

    .venv/bin/python -m bench console
    BENCH_CONSOLE_SIGNALS=10000,100000 .venv/bin/python -m bench console

Times the overview and signals pages (p50/p99 of the whole request on loopback) at growing
histories of a tenant's signals (BENCH_CONSOLE_SIGNALS, default 10,000 and 1,000,000: their
read-model records and index entries written straight into the store with pipelines, as the
workers' commits leave them), then headless Chromium's time to draw a strategy's Ledger page with
10 years of daily NAV (navigation start to both charts drawn).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import redis

from baas.core.keyspace import Keyspace
from baas.core.trading.readmodel import SIGNALS
from baas.store.trading import signal_score
from bench.ledger_api import BENCHMARK, load_orders, ms, prepare, store_url, strategy, timed
from tests.console.browser import chromium
from tests.ledger.support import SP500, read_closes
from tests.support.gateway import live_gateway
from tests.support.store import make_settings

SIZES = os.environ.get("BENCH_CONSOLE_SIGNALS", "10000,1000000")
PIPELINE = 10_000
RUNS = 200
DRAWS = 7
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# Set by the page before its scripts run: when both charts have said how many points they drew.
DRAWN = """
window.__drawn = new Promise((resolve) => {
  const done = () => document.querySelector('#drawdown-chart[data-points]')
    && document.querySelector('#nav-chart[data-points]');
  new MutationObserver(() => { if (done()) resolve(performance.now()); })
    .observe(document, {attributes: true, subtree: true, attributeFilter: ['data-points']});
});
"""


def write_signals(url: str, keyspace: Keyspace, tenant_id: str, start: int, stop: int) -> float:
    """Signal records ``start``..``stop`` (one a minute), written in pipelines; the seconds."""
    plain = redis.Redis.from_url(url)
    records, index = keyspace.readmodel(tenant_id, SIGNALS), keyspace.signal_index(tenant_id)
    origin = datetime(2020, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    for first in range(start, stop, PIPELINE):
        pipe = plain.pipeline(transaction=False)
        for n in range(first, min(stop, first + PIPELINE)):
            moment = origin + timedelta(minutes=n)
            signal_id = f"sig-{n:08d}"
            record = {
                "SignalId": signal_id,
                "CreatedAt": moment.isoformat(),
                "AlertId": f"alert-{n % 7}",
                "Symbol": ("AAPL", "MSFT", "IBM")[n % 3],
                "Action": "buy" if n % 2 else "sell",
                "Quantity": 1 + n % 5,
                "FilledQuantity": 1 + n % 5,
                "Status": "filled",
            }
            pipe.hset(records, signal_id, orjson.dumps(record))
            pipe.zadd(index, {signal_id: signal_score(moment)})
        pipe.execute()
    plain.close()
    return time.perf_counter() - started


def signed_in(client: httpx.Client, api_key: str) -> None:
    form = client.get("/console/sign-in")
    token = CSRF.search(form.text)
    assert token, form.text
    answer = client.post("/console/sign-in", data={"csrf": token.group(1), "api_key": api_key})
    assert answer.status_code == 303, answer.text


def pages(url: str, prefix: str, tenant_id: str, api_key: str, client: httpx.Client) -> None:
    keyspace = Keyspace(prefix)
    signed_in(client, api_key)
    written = 0
    for size in (int(s) for s in SIZES.split(",")):
        seconds = write_signals(url, keyspace, tenant_id, written, size)
        written = size
        print(f"console: {size:,} signals in the history (written in {seconds:.0f} s)")
        for path in ("/console/", "/console/signals", "/console/signals?symbol=IBM"):
            times = timed(client, "GET", path, RUNS)
            print(f"  GET {path}: p50 {ms(times, 0.5):.1f} ms, p99 {ms(times, 0.99):.1f} ms")


def ledger_draw(base: str, url: str, prefix: str, tenant_id: str, api_key: str) -> None:
    browser_path = chromium()
    if browser_path is None:
        print("console: no chromium on the PATH, the Ledger page's draw is not measured")
        return
    from playwright.sync_api import sync_playwright

    days = sorted(read_closes(SP500)[BENCHMARK])
    with httpx.Client(base_url=base, timeout=300) as client:
        strategy_id, _ = strategy(client, tenant_id, api_key, "ten years")
    asyncio.run(load_orders(url, prefix, tenant_id, strategy_id, days, len(days)))
    page_url = f"{base}/console/ledger/{strategy_id}?benchmark={BENCHMARK}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{base}/console/sign-in")
        page.get_by_label("API key").fill(api_key)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/console/")
        page.add_init_script(DRAWN)
        times, points = [], ""
        for _ in range(DRAWS):
            page.goto(page_url)
            times.append(page.evaluate("window.__drawn"))
            points = page.locator("#nav-chart").get_attribute("data-points") or ""
        browser.close()
    print(
        f"console: the Ledger page with {points} daily NAV points and {BENCHMARK}, navigation "
        f"to both charts drawn in Chromium: median {statistics.median(times):.0f} ms, "
        f"min {min(times):.0f}, max {max(times):.0f} ({DRAWS} loads)"
    )


def main() -> None:
    with store_url() as url:
        prefix = f"bench-{secrets.token_hex(4)}"
        settings = make_settings(url, prefix)
        tenant_id, api_key = asyncio.run(prepare(url, prefix))
        try:
            with (
                live_gateway(settings) as base,
                httpx.Client(base_url=base, timeout=300) as client,
            ):
                ledger_draw(base, url, prefix, tenant_id, api_key)
                pages(url, prefix, tenant_id, api_key, client)
        finally:
            plain = redis.Redis.from_url(url)
            for key in plain.scan_iter(match=f"{prefix}*", count=1000):
                plain.delete(key)
