"""Daily closes: `baas prices import` (long and Yahoo-style CSV), the HTTP import, providers; and
`baas strategies create|list`."""

from __future__ import annotations

import csv
import io
import logging
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from baas.adapters.polygon import PolygonProvider, price_provider
from baas.core.keyspace import Keyspace
from baas.core.ledger.price_files import PriceError, parse_price_csv
from baas.settings import Settings, env_name
from baas.store.ledger_prices import PriceStore
from tests.support.repo import REPO
from tests.support.store import new_tenant

from .support import SP500, STOCKS, read_closes

_SCRIPT = Path(sys.executable).with_name("baas")
BAAS = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "baas.cli.main"]


def baas(store_url: str, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BAAS_") and k != "REDIS_URL"},
        env_name("redis_url"): store_url,
        env_name("key_prefix"): prefix,
        "POLYGON_API_KEY": "",
    }
    return subprocess.run(
        [*BAAS, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


def yahoo_file(tmp_path: Path, symbol: str = "IBM") -> Path:
    """A Yahoo-style download of one symbol, made of the real closes, with one "null" row."""
    rows = [r for r in csv.DictReader(STOCKS.open()) if r["symbol"] == symbol][:30]
    out = io.StringIO()
    out.write("Date,Open,High,Low,Close,Adj Close,Volume\n")
    for i, r in enumerate(rows):
        close = "null" if i == 5 else r["close"]
        out.write(f"{r['date']},{close},{close},{close},{close},{r['adj_close']},1000\n")
    path = tmp_path / f"{symbol}.csv"
    path.write_text(out.getvalue())
    return path


def test_baas_prices_import_long_and_yahoo(store_url, prefix, tmp_path, store):
    done = baas(store_url, prefix, "prices", "import", str(STOCKS), "--json")
    assert done.returncode == 0, done.stderr
    counts = orjson.loads(done.stdout)
    expected = read_closes(STOCKS)
    assert counts["symbols"] == {s: len(c) for s, c in sorted(expected.items())}
    assert counts["imported"] == counts["added"] == sum(len(c) for c in expected.values())
    assert (counts["first_date"], counts["last_date"]) == ("2003-01-02", "2012-12-31")

    done = baas(store_url, prefix, "prices", "import", str(yahoo_file(tmp_path)), "--symbol", "ibm")
    assert done.returncode == 0, done.stderr
    assert (
        "imported 29 closes (0 new, 29 replaced, 1 rows without a close skipped): IBM 29"
        in done.stdout
    )

    no_symbol = baas(store_url, prefix, "prices", "import", str(yahoo_file(tmp_path)))
    assert no_symbol.returncode == 1
    assert "no symbol column: name the symbol (--symbol SYM)" in no_symbol.stderr

    listed = baas(store_url, prefix, "prices", "list", "--json")
    assert {r["symbol"]: r["latest_date"] for r in orjson.loads(listed.stdout)} == dict.fromkeys(
        ("AAPL", "IBM", "MSFT"), "2012-12-31"
    )


async def test_stored_closes_are_exactly_the_file_s(store, prefix):
    prices = PriceStore(store, Keyspace(prefix))
    parsed = parse_price_csv(STOCKS.read_text())
    await prices.import_rows(parsed.rows)
    stored = await prices.closes(["AAPL", "MSFT", "IBM", "NOPE"])
    assert set(stored) == {"AAPL", "MSFT", "IBM"}
    expected = read_closes(STOCKS)
    for symbol, closes in stored.items():
        assert {d: Decimal(c) for d, c in closes.items()} == expected[symbol]
    latest = await prices.latest(["AAPL", "NOPE"])
    assert latest == {"AAPL": (date(2012, 12, 31), expected["AAPL"][date(2012, 12, 31)])}
    # An older import does not move the latest close back.
    await prices.put("AAPL", {date(2003, 1, 2): Decimal("99")})
    assert (await prices.latest(["AAPL"]))["AAPL"][0] == date(2012, 12, 31)


@pytest.mark.parametrize(
    ("text", "symbol", "message"),
    [
        ("", None, "the file is empty"),
        ("a,b\n1,2\n", None, "the header needs a date and a close column"),
        ("date,symbol,close\n2024-01-02,AAPL,abc\n", None, "line 2: 'abc' is not a number"),
        (
            "date,symbol,close\n2024-01-02,AAPL,1\n01/03/2024,AAPL,2\n",
            None,
            "line 3: '01/03/2024' is not an ISO date",
        ),
        (
            "Date,Close\n2024-01-02 00:00:00-05:00,1\n2024-01-03T00:00:00Z,x\n",
            "A",
            "line 3: 'x' is not a number",
        ),
        ("date,symbol,close\n2024-01-02,AAPL,-1\n", None, "line 2: '-1' is not a positive price"),
        ("date,symbol,close\n2024-01-02,{x},1\n", None, "line 2: '{x}' is not a ticker"),
        ("date,symbol,close\n2024-01-02,A\rB,1\n", None, "line 3: 'B' is not an ISO date"),
        ("date,symbol,close\n2024-01-02,A," + "1" * 200_000, None, "line 2: field larger"),
    ],
)
def test_unreadable_price_files_name_the_line(text, symbol, message):
    with pytest.raises(PriceError, match=message.replace("(", r"\(")):
        parse_price_csv(text, symbol)


def test_a_bare_cr_ends_a_line_like_crlf_and_lf():
    parsed = parse_price_csv("date,symbol,close\r2024-01-02,A,3\r\n2024-01-03,A,4\n")
    assert [(r.day.day, r.close) for r in parsed.rows] == [(2, Decimal(3)), (3, Decimal(4))]


async def test_http_csv_with_a_bare_cr_in_a_field_is_a_422_naming_the_line(desk):
    answer = await desk.client.post(
        f"/tenants/{desk.tenant.tenant_id}/api/prices",
        content=b"date,symbol,close\n2024-01-02,a\rb,1\n",
        headers={**desk.tenant_headers, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [
        {"path": "body", "message": "line 3: 'b' is not an ISO date (YYYY-MM-DD)"}
    ]


def test_a_long_file_with_a_symbol_keeps_that_symbol():
    parsed = parse_price_csv(
        "Date,Symbol,Close,Extra\n2024-01-02,AAPL,1,x\n2024-01-02,MSFT,2,y\n", "msft"
    )
    assert [(r.symbol, r.close) for r in parsed.rows] == [("MSFT", Decimal(2))]


async def test_http_import_json_and_csv(desk):
    url = f"/tenants/{desk.tenant.tenant_id}/api/prices"
    counts = await desk.import_prices(
        [
            {"symbol": "btc-usd", "date": "2024-01-06", "close": 43929.25},
            {"symbol": "BTC-USD", "date": "2024-01-07", "close": "43952.1"},
        ]
    )
    assert counts == {
        "imported": 2,
        "added": 2,
        "replaced": 0,
        "skipped": 0,
        "symbols": {"BTC-USD": 2},
        "first_date": "2024-01-06",
        "last_date": "2024-01-07",
    }
    counts = await desk.import_csv(SP500)
    assert counts["symbols"] == {"^GSPC": 2517}
    closes = await desk.client.get(
        f"/tenants/{desk.tenant.tenant_id}/api/prices/btc-usd", headers=desk.tenant_headers
    )
    assert closes.json() == {
        "symbol": "BTC-USD",
        "closes": {"2024-01-06": 43929.25, "2024-01-07": 43952.1},
    }
    window = await desk.client.get(
        f"/tenants/{desk.tenant.tenant_id}/api/prices/%5EGSPC",
        params={"start": "2012-12-28", "end": "2012-12-31"},
        headers=desk.tenant_headers,
    )
    assert window.json() == {
        "symbol": "^GSPC",
        "closes": {"2012-12-28": 1402.430054, "2012-12-31": 1426.189941},
    }
    unknown = await desk.client.get(
        f"/tenants/{desk.tenant.tenant_id}/api/prices/NOPE", headers=desk.tenant_headers
    )
    assert unknown.status_code == 404

    bad = await desk.client.post(
        url, json={"prices": [{"symbol": "X", "date": "2024-01-02"}]}, headers=desk.tenant_headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"path": "body", "message": "prices[0]: close is required"}]
    bad_csv = await desk.client.post(
        url,
        content=b"date,symbol,close\n2024-01-02,AAPL,0\n",
        headers={**desk.tenant_headers, "Content-Type": "text/csv"},
    )
    assert bad_csv.status_code == 422
    assert bad_csv.json()["errors"][0]["message"] == "line 2: '0' is not a positive price"
    other = await desk.client.post(
        url, content=b"x", headers={**desk.tenant_headers, "Content-Type": "application/xml"}
    )
    assert other.status_code == 415
    unauthenticated = await desk.client.post(url, json={"prices": []})
    assert unauthenticated.status_code == 401


class FakeProvider:
    name = "fake"

    def __init__(self, closes: dict[date, Decimal]) -> None:
        self.closes_known = closes
        self.calls: list[tuple[str, date, date]] = []

    async def closes(self, symbol: str, start: date, end: date) -> dict[date, Decimal]:
        self.calls.append((symbol, start, end))
        return {d: c for d, c in self.closes_known.items() if start <= d <= end}


async def test_a_provider_fills_what_the_store_lacks_and_is_cached(store, prefix):
    provider = FakeProvider(
        {date(2024, 1, 2): Decimal("185.64"), date(2024, 1, 3): Decimal("184.25")}
    )
    prices = PriceStore(store, Keyspace(prefix), provider)
    wanted = [("AAPL", date(2024, 1, 3)), ("AAPL", date(2024, 1, 6))]
    assert await prices.closes_on(wanted) == {("AAPL", date(2024, 1, 3)): Decimal("184.25")}
    assert provider.calls == [("AAPL", date(2023, 12, 24), date(2024, 1, 6))]
    # Cached: asked again, the store answers; a missing close is still missing (never invented).
    assert await PriceStore(store, Keyspace(prefix)).closes_on(wanted) == {
        ("AAPL", date(2024, 1, 3)): Decimal("184.25")
    }
    assert (await prices.closes_of("AAPL")) == provider.closes_known


class FakeBar:
    def __init__(self, timestamp: int, close: float) -> None:
        self.timestamp, self.close = timestamp, close


class FakePolygonClient:
    def __init__(self) -> None:
        self.asked = None

    def list_aggs(self, ticker, multiplier, timespan, from_, to, **kwargs):
        self.asked = (ticker, multiplier, timespan, from_, to, kwargs)
        # Polygon's daily bars start at midnight New York time (05:00 UTC in winter).
        return [FakeBar(1704171600000, 185.64), FakeBar(1704258000000, 184.25)]


async def test_the_polygon_provider_reads_daily_bars():
    client = FakePolygonClient()
    provider = PolygonProvider("key", client=client)
    closes = await provider.closes("AAPL", date(2024, 1, 1), date(2024, 1, 5))
    assert closes == {date(2024, 1, 2): Decimal("185.64"), date(2024, 1, 3): Decimal("184.25")}
    assert client.asked[:5] == ("AAPL", 1, "day", "2024-01-01", "2024-01-05")
    assert client.asked[5]["adjusted"] is False


def test_no_provider_without_polygon_api_key():
    assert price_provider(Settings.from_env({})) is None
    assert price_provider(Settings.from_env({"POLYGON_API_KEY": " "})) is None


def test_the_polygon_key_is_a_setting_read_like_redis_url():
    assert Settings.from_env({"POLYGON_API_KEY": "plain"}).polygon_api_key == "plain"
    assert Settings.from_env({"BAAS_POLYGON_API_KEY": "prefixed"}).polygon_api_key == "prefixed"
    both = {"BAAS_POLYGON_API_KEY": "prefixed", "POLYGON_API_KEY": "plain"}
    assert Settings.from_env(both).polygon_api_key == "prefixed"


def test_the_polygon_key_is_never_shown(caplog):
    secret = "pk-do-not-show-" + "x" * 20
    settings = Settings.from_env({"BAAS_POLYGON_API_KEY": secret})
    assert secret not in repr(settings)
    # The client is not installed here: no provider, and a warning that does not hold the key.
    with caplog.at_level(logging.WARNING, logger="baas.prices"):
        assert price_provider(settings) is None
    assert caplog.records and all(secret not in str(vars(r)) for r in caplog.records)
    shown = subprocess.run(
        [*BAAS, "settings"],
        env={**os.environ, "BAAS_POLYGON_API_KEY": secret},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "BAAS_POLYGON_API_KEY" in shown.stdout and secret not in shown.stdout + shown.stderr


async def test_baas_strategies_create_and_list(store_url, prefix, store):
    tenant = await new_tenant(store, prefix)
    done = baas(
        store_url,
        prefix,
        "strategies",
        "create",
        "--tenant",
        tenant.tenant_id,
        "--name",
        "trend",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    created = orjson.loads(done.stdout)
    assert list(created) == ["strategy_id"]
    done = baas(
        store_url,
        prefix,
        "strategies",
        "create",
        "--tenant",
        tenant.tenant_id,
        "--name",
        "fx",
        "--base-currency",
        "eur",
    )
    assert done.returncode == 0 and "Strategy ID:" in done.stdout
    # A name that is not UTF-8 (the byte 0xff; Python sees a lone surrogate): a usage error.
    args = ("strategies", "create", "--tenant", tenant.tenant_id, "--name", "a\udcff")
    done = baas(store_url, prefix, *args)
    assert done.returncode == 2
    assert done.stderr.endswith("error: argument --name: must be UTF-8 text\n")
    listed = orjson.loads(
        baas(store_url, prefix, "strategies", "list", "--tenant", tenant.tenant_id, "--json").stdout
    )
    assert [(s["name"], s["base_currency"]) for s in listed] == [("trend", "USD"), ("fx", "EUR")]
    assert listed[0]["id"] == created["strategy_id"]
    text = baas(store_url, prefix, "strategies", "list", "--tenant", tenant.tenant_id).stdout
    assert created["strategy_id"] in text and "trend" in text
    missing = baas(store_url, prefix, "strategies", "create", "--tenant", "nope", "--name", "x")
    assert missing.returncode == 1 and "no tenant nope" in missing.stderr
    no_fetch = baas(
        store_url, prefix, "prices", "fetch", "AAPL", "--start", "2024-01-01", "--end", "2024-01-05"
    )
    assert no_fetch.returncode == 1 and "POLYGON_API_KEY" in no_fetch.stderr
