"""The console in a real browser (Debian's Chromium through Playwright) on the real service: a
gateway and a worker process on the suite's store."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.console.browser import (
    DEADLINE_MS,
    INSTALL,
    chromium,
    configure_alert,
    send_signal,
    service,
    tenants,
    wait_for,
)
from tests.support.store import TenantCredentials, make_settings

CHROMIUM = chromium()
if CHROMIUM is None:
    pytest.skip(INSTALL, allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.live
expect.set_options(timeout=DEADLINE_MS)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclasses.dataclass(frozen=True)
class Stack:
    base: str
    first: TenantCredentials
    second: TenantCredentials


@pytest.fixture(scope="module")
def stack(store_url: str, run_prefix: str) -> Iterator[Stack]:
    settings = make_settings(
        store_url,
        f"{run_prefix}-console-{secrets.token_hex(3)}",
        worker_block_ms=100,
        worker_discovery_seconds=0.2,
    )
    first, second = tenants(settings, "first", "second")
    with service(settings) as base:
        configure_alert(base, first)
        yield Stack(base, first, second)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(DEADLINE_MS)
    opened = context.new_page()
    yield opened
    context.close()


def sign_in(page: Page, base: str, api_key: str) -> None:
    page.goto(f"{base}/console/")
    expect(page).to_have_url(f"{base}/console/sign-in")
    page.get_by_label("API key of your tenant").fill(api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def api_get(stack: Stack, tenant: TenantCredentials, path: str) -> httpx.Response:
    return httpx.get(
        f"{stack.base}/tenants/{tenant.tenant_id}/api/{path}",
        headers={"X-Api-Key": tenant.api_key},
        timeout=10,
    )


def test_sign_in_with_the_key(stack: Stack, page: Page) -> None:
    sign_in(page, stack.base, stack.first.api_key)
    assert stack.first.api_key not in page.content()
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["baas_console"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["value"] != stack.first.api_key
    # The health strip sees the store and the worker process.
    expect(page.get_by_text("Store reachable")).to_be_visible()


def test_a_signal_sent_through_the_api_shows_without_reload_and_fills(
    stack: Stack, page: Page
) -> None:
    sign_in(page, stack.base, stack.first.api_key)
    page.goto(f"{stack.base}/console/signals")
    page.evaluate("window.notReloaded = true")
    signal_id = send_signal(stack.base, stack.first, Symbol="MSFT")
    row = page.locator(f'tr[data-id="{signal_id}"]')
    expect(row.locator(".status")).to_have_text("filled")
    expect(row).to_contain_text("MSFT")
    assert page.evaluate("window.notReloaded") is True
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", name=f"Signal {signal_id}")).to_be_visible()
    expect(page.locator(".timeline li")).to_have_count(3)  # accepted, submitted, filled


def create_alert(page: Page, base: str, alert_id: str, **fields: str) -> None:
    page.goto(f"{base}/console/alerts")
    page.get_by_role("link", name="New indicator alert").click()
    page.get_by_label("AlertId").fill(alert_id)
    for name, value in fields.items():
        field = page.locator(f"#f-{name}")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    page.get_by_role("button", name="Create the alert").click()
    expect(page.get_by_role("status")).to_contain_text(alert_id)


def test_an_alert_created_in_the_console_is_read_through_the_api(stack: Stack, page: Page) -> None:
    sign_in(page, stack.base, stack.first.api_key)
    create_alert(page, stack.base, "console-rsi", Name="RSI", BrokerId="paper", Quantity="3")
    alert = wait_for(
        lambda: (
            (r := api_get(stack, stack.first, "alerts/console-rsi")).status_code == 200 and r.json()
        ),
        "the alert in the API",
    )
    assert (alert["Name"], alert["Quantity"], alert["Enabled"]) == ("RSI", 3, True)


def test_the_alert_pages_message_posted_as_tradingview_would_fills(
    stack: Stack, page: Page
) -> None:
    sign_in(page, stack.base, stack.first.api_key)
    create_alert(page, stack.base, "tv-alert", BrokerId="paper", Symbol="NVDA", Action="buy")
    wait_for(lambda: api_get(stack, stack.first, "alerts/tv-alert").status_code == 200, "alert")
    page.goto(f"{stack.base}/console/alerts/tv-alert")
    url = page.locator("#webhook-url").inner_text()
    message = page.locator("#message").inner_text()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    filled = message.replace("{{ticker}}", "NVDA").replace("{{close}}", "120.5")
    posted = httpx.post(
        url,
        content=filled.replace("{{timenow}}", now).encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
        timeout=10,
    )
    assert posted.status_code == 202, posted.text
    page.goto(f"{stack.base}/console/signals?alert=tv-alert")
    page.evaluate("window.notReloaded = true")
    row = page.locator("table.signals tbody tr").first
    expect(row.locator(".status")).to_have_text("filled")
    expect(row).to_contain_text("NVDA")
    assert page.evaluate("window.notReloaded") is True


def test_sign_out_then_every_page_goes_to_sign_in(stack: Stack, page: Page) -> None:
    sign_in(page, stack.base, stack.first.api_key)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{stack.base}/console/sign-in")
    for path in ("/console/", "/console/signals", "/console/alerts", "/console/keys"):
        page.goto(f"{stack.base}{path}")
        expect(page).to_have_url(f"{stack.base}/console/sign-in")


def test_a_second_tenant_never_sees_the_first_ones_data(stack: Stack, page: Page) -> None:
    signal_id = send_signal(stack.base, stack.first, Symbol="ZZTOP")
    wait_for(lambda: api_get(stack, stack.first, f"signals/{signal_id}").status_code == 200, "sig")
    sign_in(page, stack.base, stack.second.api_key)
    for path in (f"/console/signals/{signal_id}", "/console/alerts/tv-alert"):
        answer = page.goto(f"{stack.base}{path}")
        assert answer is not None and answer.status == 404
    for path in ("/console/", "/console/signals", "/console/alerts", "/console/keys"):
        page.goto(f"{stack.base}{path}")
        text = page.content()
        assert "ZZTOP" not in text and signal_id not in text and stack.first.key_id not in text


def test_a_form_posted_without_its_csrf_token_is_403_and_writes_nothing(
    stack: Stack, page: Page
) -> None:
    sign_in(page, stack.base, stack.second.api_key)
    page.goto(f"{stack.base}/console/keys")
    rows = page.locator("tbody tr").count()
    page.locator('form[action="/console/keys"] input[name="csrf"]').evaluate("e => e.remove()")
    page.get_by_label("Name of a new key").fill("forged")
    with page.expect_response(f"{stack.base}/console/keys") as posted:
        page.get_by_role("button", name="Create a key").click()
    assert posted.value.status == 403
    page.goto(f"{stack.base}/console/keys")
    expect(page.locator("tbody tr")).to_have_count(rows)
    assert "forged" not in page.content()


def test_a_wrong_key_ten_times_locks_the_ip_as_the_api_does(
    store_url: str, run_prefix: str, page: Page
) -> None:
    # A stack of its own: the block is per prefix, and would lock the other tests out.
    settings = make_settings(
        store_url,
        f"{run_prefix}-lockout-{secrets.token_hex(3)}",
        auth_failure_limit=10,
        auth_failure_window_seconds=60,
    )
    [tenant] = tenants(settings, "locked")
    with service(settings) as base:
        page.goto(f"{base}/console/sign-in")
        for _ in range(10):
            page.get_by_label("API key of your tenant").fill("baas_not-a-key")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("alert")).to_have_text("Invalid or revoked API key.")
        page.get_by_label("API key of your tenant").fill(tenant.api_key)
        with page.expect_response(f"{base}/console/sign-in") as answer:
            page.get_by_role("button", name="Sign in").click()
        assert answer.value.status == 429
        expect(page.get_by_role("alert")).to_contain_text("wait")
        api = httpx.get(
            f"{base}/tenants/{tenant.tenant_id}/api/signals",
            headers={"X-Api-Key": tenant.api_key},
            timeout=10,
        )
        assert api.status_code == 429


SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS_DIR")


@pytest.mark.skipif(not SCREENSHOTS, reason="make screenshots sets CONSOLE_SCREENSHOTS_DIR")
def test_screenshots_of_every_page(stack: Stack, browser: Browser, ledger_strategy) -> None:
    folder = Path(SCREENSHOTS or ".")
    folder.mkdir(parents=True, exist_ok=True)
    signal_id = send_signal(stack.base, stack.first, Symbol="AAPL")
    wait_for(lambda: api_get(stack, stack.first, f"signals/{signal_id}").status_code == 200, "sig")
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(DEADLINE_MS)
        page = context.new_page()
        page.goto(f"{stack.base}/console/sign-in")
        page.screenshot(path=folder / f"console-sign-in-{width}.png", full_page=True)
        sign_in(page, stack.base, stack.first.api_key)
        alerts = httpx.get(
            f"{stack.base}/tenants/{stack.first.tenant_id}/api/alerts",
            headers={"X-Api-Key": stack.first.api_key},
            timeout=10,
        ).json()["alerts"]
        shots = {
            "overview": "/console/",
            "signals": "/console/signals",
            "signal": f"/console/signals/{signal_id}",
            "alerts": "/console/alerts",
            "alert-new": "/console/alerts/new?kind=indicator",
            "brokers": "/console/brokers",
            "paper": "/console/paper/paper",
            "keys": "/console/keys",
            "ledger": "/console/ledger",
            "strategy": f"/console/ledger/{ledger_strategy[0]}",
        }
        if alerts:
            shots["alert"] = f"/console/alerts/{alerts[0]['AlertId']}"
        for name, path in shots.items():
            page.goto(f"{stack.base}{path}")
            if name == "strategy":
                expect(page.locator("#drawdown-chart")).to_have_attribute(
                    "data-points", re.compile(".")
                )
            page.screenshot(path=folder / f"console-{name}-{width}.png", full_page=True)
        context.close()


LEDGER_DAYS = ("2024-01-02", "2024-01-03", "2024-02-01", "2024-02-02", "2024-03-01")


@pytest.fixture(scope="module")
def ledger_strategy(stack: Stack) -> str:
    """The first tenant's strategy with a known history posted through the ledger API: a
    deposit, a buy on each of LEDGER_DAYS, and SPY's closes of those days."""
    tenant_api = {"X-Api-Key": stack.first.api_key}
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        strategy = client.post(
            f"/tenants/{stack.first.tenant_id}/api/strategies",
            json={"name": "charted bot"},
            headers=tenant_api,
        ).json()
        key = client.post(f"/strategies/{strategy['id']}/api-keys", headers=tenant_api).json()
        bearer = {"Authorization": f"Bearer {key['plaintext']}"}
        v1 = f"/api/v1/strategies/{strategy['id']}"
        prices = [
            {"symbol": sym, "date": day, "close": 100 + 3 * i + (i % 2) * offset}
            for i, day in enumerate(LEDGER_DAYS)
            for sym, offset in (("SPY", 0), ("AAPL", -7))
        ]
        imported = client.post(
            f"/tenants/{stack.first.tenant_id}/api/prices",
            json={"prices": prices},
            headers=tenant_api,
        )
        assert imported.status_code == 200, imported.text
        deposit = {"event_type": "deposit", "amount": 10_000, "occurred_at": "2024-01-01T12:00:00Z"}
        assert client.post(f"{v1}/cash", json=deposit, headers=bearer).status_code == 201
        for day in LEDGER_DAYS:
            order = {"symbol": "AAPL", "side": "buy", "quantity": 10, "price": 100}
            order["executed_at"] = f"{day}T15:00:00Z"
            posted = client.post(f"{v1}/orders", json={"orders": [order]}, headers=bearer)
            assert posted.status_code == 201, posted.text
        nav = client.get(f"{v1}/nav", headers=bearer).json()["nav"]
        performance = client.get(f"{v1}/performance", headers=bearer).json()
    return strategy["id"], nav, performance


def test_the_ledger_charts_draw_every_nav_point_and_the_heatmap_shows_performance(
    stack: Stack, page: Page, ledger_strategy
) -> None:
    strategy_id, nav, performance = ledger_strategy
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None)
    sign_in(page, stack.base, stack.first.api_key)
    page.goto(f"{stack.base}/console/ledger/{strategy_id}")
    expect(page.locator("#nav-chart")).to_have_attribute("data-points", str(len(nav)))
    expect(page.locator("#drawdown-chart")).to_have_attribute("data-points", str(len(nav)))
    expect(page.locator("#nav-chart")).to_have_attribute("data-benchmark-points", str(len(nav)))
    assert page.locator("#nav-chart canvas").count() > 0
    cells = page.locator("#monthly-returns td[data-month]")
    shown = {
        cells.nth(i).get_attribute("data-month"): float(cells.nth(i).get_attribute("data-value"))
        for i in range(cells.count())
    }
    expected = {m: v for m, v in performance["monthly_returns"].items() if v is not None}
    assert shown == expected and len(shown) == 3
    page.goto(f"{stack.base}/console/ledger/{strategy_id}?benchmark=")
    expect(page.locator("#nav-chart")).to_have_attribute("data-benchmark-points", "0")
    assert not refused  # the console's CSP lets the chart library draw
