"""Property-based tests of the write path: malformed envelopes, data, headers and bytes.

Whatever arrives, the gateway answers a client error in the documented shape (never a 5xx), and
the tenant's log grows only when the answer is 202. Any schema-valid SubmitSignal is accepted and
appended once; its replay appends nothing.

The examples run against the in-process app of the ``client`` fixture, on the real store. The
transport here does not re-raise the app's exceptions, so a crash shows up as the 500 it would be
on the wire. The smallest inputs of the bugs the properties found are kept as plain tests at the
end of this module.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from baas.core.keyspace import Keyspace
from tests.support.events import signal_event, to_structured
from tests.support.store import new_tenant

REQUEST_TIMEOUT = 15.0
ANSWERS = {202, 400, 403, 409, 413, 415, 422}  # 409: a drawn id used before with another body
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
MISSING = object()

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


def trading(tenant_id: str) -> str:
    return f"/tenants/{tenant_id}/api/trading"


@pytest.fixture
async def fuzz(client):
    """The ``client`` fixture's app (lifespan already running), with crashes answered as 500s."""
    transport = httpx.ASGITransport(
        app=client.app, raise_app_exceptions=False, client=("127.0.0.1", 40000)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
        yield c


async def send(
    fuzz: httpx.AsyncClient,
    store: Any,
    prefix: str,
    tenant: Any,
    body: bytes,
    headers: dict[Any, Any],
) -> tuple[httpx.Response, int]:
    """POST and check the invariants; returns the answer and how many entries were appended."""
    log = Keyspace(prefix).tenant_log(tenant.tenant_id)
    before = await store.xlen(log)
    all_headers = {b"x-api-key": tenant.api_key.encode(), **headers}
    async with asyncio.timeout(REQUEST_TIMEOUT):
        r = await fuzz.post(trading(tenant.tenant_id), content=body, headers=all_headers)
    appended = await store.xlen(log) - before
    if currently_in_test_context():
        event(f"status {r.status_code}")
    assert r.status_code < 500, f"{r.status_code} {r.text[:500]}"
    assert r.status_code in ANSWERS, f"{r.status_code} {r.text[:500]}"
    assert r.headers["content-type"].startswith("application/json")
    answer = orjson.loads(r.content)
    if r.status_code == 202:
        assert isinstance(answer, dict)
        assert set(answer) in ({"id"}, {"results"})
        assert appended == answered_as_appended(r, answer), r.text[:500]
        return r, appended
    assert appended == 0, f"a {r.status_code} answer appended {appended} entries"
    assert isinstance(answer, dict)
    assert set(answer) == {"detail", "errors"}
    assert isinstance(answer["detail"], str)
    assert answer["detail"].strip()
    assert isinstance(answer["errors"], list)
    for error in answer["errors"]:
        assert isinstance(error, dict)
        assert set(error) == {"path", "message"}
        assert isinstance(error["path"], str)
        assert isinstance(error["message"], str)
    return r, appended


def answered_as_appended(r: httpx.Response, answer: dict[str, Any]) -> int:
    """How many events a 202 says it appended: a batch's results marked accepted (not duplicate),
    a single event unless its answer is a replay."""
    if "results" in answer:
        statuses = [result["status"] for result in answer["results"]]
        assert set(statuses) <= {"accepted", "duplicate"}, statuses
        return statuses.count("accepted")
    return 0 if r.headers.get("idempotent-replayed") == "true" else 1


# ----------------------------------------------------------------------------------------------
# Strategies

# orjson writes integers up to 64 bits; the store and the app never see anything wider anyway.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
whitespace = st.text(alphabet=" \t\r\n\u00a0\u2003\u3000\ufeff", min_size=1, max_size=6)
unicode_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40
)
# Long strings cheaply: past the id (256), source (1024) and body (256 KiB) limits.
huge = st.tuples(
    st.sampled_from([257, 1025, 5000, 300_000]), st.sampled_from(["x", "é", "€", "😀"])
).map(lambda t: t[1] * t[0])

JSON_MEDIA_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON",
    STRUCTURED,
    f"{STRUCTURED}; charset=utf-8",
    BATCH,
    "application/vnd.api+json",
    "application/problem+json",
]
OTHER_MEDIA_TYPES = [
    "text/plain",
    "text/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
    "*/*",
    "",
    ";",
    "application/",
    "json",
]
content_types = st.one_of(
    st.sampled_from(JSON_MEDIA_TYPES),
    st.sampled_from(OTHER_MEDIA_TYPES),
    st.from_regex(r"\A[a-zA-Z*]{1,12}/[a-zA-Z0-9.+*-]{0,24}(; ?[a-z]{1,8}=[a-z0-9-]{0,10})?\Z"),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40),
)


def latin1(value: str) -> bytes:
    return value.encode("latin-1")


def content_type_header(content_type: str | None) -> dict[bytes, bytes]:
    return {} if content_type is None else {b"content-type": latin1(content_type)}


offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# Any RFC 3339 time, up to the edges of the calendar (0001-01-01T00:00:00+01:00 is valid RFC 3339
# but has no UTC instant datetime can hold: a client error).
any_rfc3339_times = st.datetimes(timezones=offsets).map(
    lambda moment: moment.isoformat().replace("+00:00", "Z")
)
# Times in the years 1970 to 2200 whatever their offset: what a valid event carries.
rfc3339_times = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 12, 30), timezones=offsets
).map(lambda moment: moment.isoformat().replace("+00:00", "Z"))


def odd_values(*specific: Any) -> st.SearchStrategy[Any]:
    """A broken value for an attribute: missing, of a wrong type, empty, blank, huge, odd
    unicode, or one of the attribute's own near misses (values or strategies)."""
    strategies = [s for s in specific if isinstance(s, st.SearchStrategy)]
    values = [v for v in specific if not isinstance(v, st.SearchStrategy)]
    return st.one_of(
        st.just(MISSING),
        json_values,
        st.just(""),
        whitespace,
        huge,
        unicode_text,
        *strategies,
        *([st.sampled_from(values)] if values else []),
    )


# Per attribute: (valid values, broken values). MISSING leaves the attribute out.
ATTRIBUTES: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "id": (st.text(min_size=1, max_size=40).filter(str.strip), odd_values()),
    "type": (
        st.sampled_from(["SubmitSignal", "SubmitSignal", "SubmitSignal", "RemoveBroker"]),
        odd_values(
            "submitSignal", "submit-signal", "Submit-Signal", "SUBMITSIGNAL", "Nope", "A" * 129
        ),
    ),
    "source": (
        st.sampled_from(["trading", "https://example.org/bot", "/a/b"]),
        odd_values("x" * 1025),
    ),
    "time": (
        st.one_of(st.just(MISSING), rfc3339_times),
        odd_values(
            any_rfc3339_times,
            "yesterday",
            "2026-04-27",
            "2026-04-27T11:20:00",
            "2026-13-45T99:99:99Z",
        ),
    ),
    "dataschema": (
        st.sampled_from(
            [MISSING, "submit-signal/1.0", "https://example.org/schemas/submit-signal/1.0.json"]
        ),
        odd_values(
            "submit-signal/9.9", "remove-broker/1.0", "/1.0", "submit-signal", "1.0", "/", "a/b/c/d"
        ),
    ),
    "datacontenttype": (
        st.sampled_from([MISSING, "application/json", "application/json; charset=utf-8"]),
        odd_values("text/csv", "x", STRUCTURED, "application/xml"),
    ),
    "subject": (st.one_of(st.just(MISSING), unicode_text), odd_values()),
}
BROKEN_SPECVERSIONS = odd_values("0.3", "1", "1.00", 1.0, 1, None)
# How a client may misspell each attribute (the dialect ignores case; structured mode does not).
MISSPELLINGS = {
    "id": ["Id", "ID", "eventId"],
    "type": ["Type", "eventType"],
    "source": ["Source", "src"],
    "time": ["Time", "timestamp"],
    "dataschema": ["dataSchema", "DataSchema", "data_schema", "schema"],
    "datacontenttype": ["dataContentType", "DATACONTENTTYPE", "contentType"],
    "subject": ["Subject"],
}
DIALECT_SPELLING = {"dataschema": "dataSchema", "datacontenttype": "dataContentType"}
extension_names = st.one_of(
    st.from_regex(r"\A[a-z0-9]{1,20}\Z"),
    st.from_regex(r"\A[a-z0-9]{21,30}\Z"),
    st.sampled_from(["tenantid", "data_base64", "Data", "DATA", "ext-1", "ext_1", "é", ""]),
    st.text(max_size=12),
)
BREAKABLE = [*ATTRIBUTES, "specversion", "spelling", "data", "extensions"]


@st.composite
def envelopes(draw: st.DrawFn, tenant_id: str, structured: bool) -> dict[str, Any]:
    """An event with up to three things wrong with it (sometimes none)."""
    broken = draw(st.sets(st.sampled_from(BREAKABLE), max_size=3), label="broken")
    event: dict[str, Any] = {}
    for name, (valid, odd) in ATTRIBUTES.items():
        value = draw(odd if name in broken else valid, label=name)
        if value is not MISSING:
            event[name if structured else DIALECT_SPELLING.get(name, name)] = value
    if "specversion" in broken:
        value = draw(BROKEN_SPECVERSIONS, label="specversion")
        if value is not MISSING:
            event["specversion"] = value
    elif structured:
        event["specversion"] = "1.0"
    if "spelling" in broken:
        for name in draw(st.sets(st.sampled_from(list(MISSPELLINGS)), min_size=1, max_size=2)):
            spelt = DIALECT_SPELLING.get(name, name) if not structured else name
            if spelt in event:
                event[draw(st.sampled_from(MISSPELLINGS[name]))] = event.pop(spelt)
    if "extensions" in broken:
        extensions = draw(
            st.dictionaries(
                extension_names,
                st.one_of(json_values, st.just(tenant_id), st.sampled_from([True, 7, "v"])),
                min_size=1,
                max_size=3,
            ),
            label="extensions",
        )
    else:
        extensions = draw(
            st.sampled_from([{}, {}, {"strategy": "momentum"}, {"tenantid": tenant_id}])
        )
    for name, value in extensions.items():
        event.setdefault(name, value)
    if "data" in broken:
        data = draw(
            st.one_of(st.just(MISSING), st.just(signal_event("someone-else")["data"]), json_values),
            label="data",
        )
    else:
        data = signal_event(tenant_id)["data"]
    if data is not MISSING:
        event["data"] = data
    return event


# ----------------------------------------------------------------------------------------------
# Properties: whatever the input, a documented answer, and no write unless 202.


@FUZZ
@given(body=json_values, content_type=st.sampled_from(JSON_MEDIA_TYPES))
async def test_any_json_value_as_body(fuzz, store, prefix, tenant, body, content_type):
    await send(fuzz, store, prefix, tenant, orjson.dumps(body), content_type_header(content_type))


@settings(FUZZ, max_examples=300)
@given(data=st.data(), mode=st.sampled_from(["dialect", "structured", "batch", "random"]))
async def test_envelopes_mixing_valid_and_invalid_attributes(
    fuzz, store, prefix, tenant, data, mode
):
    structured = mode in ("structured", "batch") or data.draw(st.booleans(), label="structured")
    event = data.draw(envelopes(tenant.tenant_id, structured), label="event")
    if mode == "dialect":
        body, content_type = event, "application/json"
    elif mode == "structured":
        body, content_type = event, STRUCTURED
    elif mode == "batch":
        extra = data.draw(st.lists(envelopes(tenant.tenant_id, True), max_size=2), label="more")
        body, content_type = [event, *extra], BATCH
    else:
        body, content_type = event, data.draw(content_types, label="content_type")
    r, appended = await send(
        fuzz, store, prefix, tenant, orjson.dumps(body), content_type_header(content_type)
    )
    if r.status_code == 202 and mode == "batch":
        assert appended <= len(body)
    elif r.status_code == 202:
        assert appended <= 1


SIGNAL_FIELDS = list(signal_event("t")["data"])


@settings(FUZZ, max_examples=300)
@given(data=st.data(), structured=st.booleans())
async def test_submit_signal_data_of_every_wrong_shape(
    fuzz, store, prefix, tenant, data, structured
):
    """A valid envelope around data whose every field may be missing, mistyped or extra."""
    event = signal_event(tenant.tenant_id, event_id=secrets.token_hex(8))
    fields: dict[str, Any] = {}
    for name in SIGNAL_FIELDS:
        choice = data.draw(st.sampled_from(["keep", "keep", "drop", "replace"]), label=name)
        if choice == "keep":
            fields[name] = event["data"][name]
        elif choice == "replace":
            fields[name] = data.draw(
                st.one_of(json_values, st.just(""), huge, unicode_text), label=name
            )
    extra = data.draw(st.dictionaries(st.text(max_size=16), json_values, max_size=3), label="extra")
    event["data"] = {**fields, **extra}
    if structured:
        event = to_structured(event)
    content_type = STRUCTURED if structured else "application/json"
    r, appended = await send(
        fuzz, store, prefix, tenant, orjson.dumps(event), content_type_header(content_type)
    )
    assert r.status_code in {202, 403, 413, 422}, r.text[:500]
    if r.status_code == 202:
        assert appended == 1
        assert r.json() == {"id": event["data"]["CorrelationId"]}


header_values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40),
    unicode_text.map(lambda s: quote(s, safe="")),
    st.sampled_from(["1.0", "%", "%zz", "%ED%A0%80", "%FF%FE", "SubmitSignal", "trading"]),
    st.sampled_from([300, 1500]).map(lambda n: "y" * n),
)
ce_names = st.one_of(
    st.sampled_from(
        [
            "specversion",
            "id",
            "type",
            "source",
            "time",
            "dataschema",
            "datacontenttype",
            "subject",
            "tenantid",
            "data",
            "data_base64",
        ]
    ),
    st.from_regex(r"\A[a-z0-9_.-]{0,25}\Z"),
)


@settings(FUZZ, max_examples=200)
@given(
    data=st.data(),
    headers=st.dictionaries(ce_names, header_values, max_size=8),
    base=st.sampled_from(["none", "valid", "valid", "partial"]),
    body=st.one_of(st.none(), json_values.map(orjson.dumps), st.binary(max_size=64)),
    content_type=st.one_of(
        st.just("application/json"), st.just("application/json"), st.none(), content_types
    ),
)
async def test_binary_mode_with_random_ce_headers(
    fuzz, store, prefix, tenant, data, headers, base, body, content_type
):
    event = signal_event(tenant.tenant_id, event_id=secrets.token_hex(8))
    valid = {
        "specversion": "1.0",
        "id": event["id"],
        "type": "SubmitSignal",
        "source": "trading",
        "dataschema": "submit-signal/1.0",
        "time": event["time"],
    }
    ce: dict[str, str] = {}
    if base == "valid":
        ce.update(valid)
    elif base == "partial":
        ce.update({k: v for k, v in valid.items() if data.draw(st.booleans(), label=k)})
    ce.update(headers)
    if body is None:
        body = orjson.dumps(event["data"])
    all_headers = {latin1(f"ce-{name}"): latin1(value) for name, value in ce.items()}
    all_headers.update(content_type_header(content_type))
    await send(fuzz, store, prefix, tenant, body, all_headers)


def mutations(original: bytes) -> st.SearchStrategy[bytes]:
    """``original`` with random bytes written over, inserted or cut at random places."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        out = bytearray(original)
        for _ in range(draw(st.integers(min_value=1, max_value=4))):
            at = draw(st.integers(min_value=0, max_value=len(out)))
            chunk = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=4),
                    st.sampled_from(
                        [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf0\x28\x8c", b"\x00", b"\\u"]
                    ),
                )
            )
            action = draw(st.sampled_from(["insert", "overwrite", "cut"]))
            if action == "insert":
                out[at:at] = chunk
            elif action == "overwrite":
                out[at : at + len(chunk)] = chunk
            else:
                del out[at : at + len(chunk)]
        return bytes(out)

    return mutate()


@settings(FUZZ, max_examples=200)
@given(
    data=st.data(),
    content_type=st.one_of(
        st.sampled_from(JSON_MEDIA_TYPES), st.sampled_from(JSON_MEDIA_TYPES), content_types
    ),
)
async def test_random_bytes_and_invalid_utf8(fuzz, store, prefix, tenant, data, content_type):
    valid = orjson.dumps(signal_event(tenant.tenant_id, event_id=secrets.token_hex(8)))
    body = data.draw(
        st.one_of(
            st.binary(max_size=300),
            mutations(valid),
            mutations(orjson.dumps([to_structured(orjson.loads(valid))])),
        ),
        label="body",
    )
    await send(fuzz, store, prefix, tenant, body, content_type_header(content_type))


# ----------------------------------------------------------------------------------------------
# Property: every valid SubmitSignal is accepted, appended once, and its replay appends nothing.


def up_to(bound: int, *, positive: bool = False) -> st.SearchStrategy[int | float]:
    """A number the schemas allow: from 0 (excluded when ``positive``) to ``bound``."""
    return st.one_of(
        st.integers(min_value=int(positive), max_value=bound),
        st.floats(min_value=0, max_value=bound, exclude_min=positive),
    )


non_blank = st.text(min_size=1, max_size=60).filter(str.strip)


@st.composite
def valid_signal_data(draw: st.DrawFn) -> dict[str, Any]:
    """SubmitSignal data as schemas/submit-signal/1.0.json allows it (TenantId filled in later)."""
    order_type = draw(st.sampled_from(["MKT", "LMT"]))
    data: dict[str, Any] = {
        "CorrelationId": draw(st.text(min_size=1, max_size=60)),
        "Id": draw(st.text(min_size=1, max_size=60)),
        "Symbol": draw(st.text(min_size=1, max_size=12)),
        "Data": draw(st.sampled_from(["buy", "sell", "close"])),
        "Quantity": draw(up_to(10**9, positive=True)),
        "OrderType": order_type,
        "InstrumentType": draw(st.sampled_from(["STK", "Forex", "Crypto", "Options"])),
    }
    optional = {
        "BrokerId": st.text(min_size=1, max_size=30),
        "BrokerName": st.text(max_size=30),
        "Date": rfc3339_times,
        "Price": up_to(10**9, positive=order_type == "LMT"),
        "AccountRiskPercentage": up_to(100),
        "AccountQuantityMultiplier": up_to(1000),
    }
    for name, values in optional.items():
        required = name == "Price" and order_type == "LMT"
        if required or draw(st.booleans()):
            data[name] = draw(values)
    return data


@st.composite
def valid_envelopes(draw: st.DrawFn) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "id": draw(st.text(min_size=1, max_size=256).filter(str.strip)),
        "type": "SubmitSignal",
        "source": draw(non_blank),
    }
    if draw(st.booleans()):
        envelope["dataschema"] = draw(
            st.sampled_from(
                ["submit-signal/1.0", "https://example.org/schemas/submit-signal/1.0.json"]
            )
        )
    if draw(st.booleans()):
        envelope["time"] = draw(rfc3339_times)
    if draw(st.booleans()):
        envelope["datacontenttype"] = "application/json"
    if draw(st.booleans()):
        envelope["subject"] = draw(non_blank)
    extensions = draw(
        st.dictionaries(
            st.from_regex(r"\A[a-z0-9]{1,20}\Z").filter(
                lambda n: (
                    n not in {"data", "tenantid", "specversion"}
                    and n not in {"id", "type", "source", "time", "dataschema"}
                    and n not in {"datacontenttype", "subject"}
                )
            ),
            st.one_of(st.text(max_size=20), st.booleans(), st.integers(-(2**31), 2**31 - 1)),
            max_size=2,
        )
    )
    return {**envelope, **extensions}


def request_for(mode: str, envelope: dict[str, Any], data: Any) -> tuple[bytes, dict[str, str]]:
    if mode == "dialect":
        renamed = {"dataschema": "dataSchema", "datacontenttype": "dataContentType"}
        event = {renamed.get(k, k): v for k, v in envelope.items()}
        return orjson.dumps({**event, "data": data}), {"content-type": "application/json"}
    if mode == "structured":
        event = {"specversion": "1.0", **envelope, "data": data}
        return orjson.dumps(event), {"content-type": STRUCTURED}
    headers = {"content-type": "application/json", "ce-specversion": "1.0"}
    for name, value in envelope.items():
        if name != "datacontenttype":
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
            headers[f"ce-{name}"] = quote(text, safe="")
    return orjson.dumps(data), headers


def expected_extension(value: Any) -> Any:
    # Binary mode carries every attribute as text.
    return value if isinstance(value, str) else orjson.dumps(value).decode()


@settings(FUZZ, max_examples=150)
@given(
    envelope=valid_envelopes(),
    data=valid_signal_data(),
    with_tenant=st.booleans(),
    mode=st.sampled_from(["dialect", "structured", "binary"]),
)
async def test_any_valid_submit_signal_is_appended_once(
    fuzz, store, prefix, envelope, data, with_tenant, mode
):
    tenant = await new_tenant(store, prefix)  # a fresh log, and fresh ids to deduplicate
    if with_tenant:
        data = {**data, "TenantId": tenant.tenant_id}
    body, headers = request_for(mode, envelope, data)
    r, appended = await send(fuzz, store, prefix, tenant, body, headers)
    assert r.status_code == 202, r.text[:1000]
    assert r.json() == {"id": data["CorrelationId"]}
    assert "idempotent-replayed" not in r.headers
    assert appended == 1
    [(_, entry)] = await store.xrange(Keyspace(prefix).tenant_log(tenant.tenant_id))
    logged = orjson.loads(entry[b"event"])
    assert logged["id"] == envelope["id"]
    assert logged["source"] == envelope["source"]
    assert logged["type"] == "SubmitSignal"
    assert logged["dataschema"] == "submit-signal/1.0"
    assert logged["tenantid"] == tenant.tenant_id
    assert logged["data"] == data
    if "time" in envelope:
        sent = datetime.fromisoformat(envelope["time"])
        assert datetime.fromisoformat(logged["time"]) == sent.astimezone(UTC)
    for name, value in envelope.items():
        if name not in {"id", "source", "type", "time", "dataschema", "datacontenttype"}:
            assert logged[name] == (expected_extension(value) if mode == "binary" else value)

    again, appended = await send(fuzz, store, prefix, tenant, body, headers)
    assert again.status_code == 202
    assert again.content == r.content
    assert again.headers["idempotent-replayed"] == "true"
    assert appended == 0
    assert await store.xlen(Keyspace(prefix).tenant_log(tenant.tenant_id)) == 1


# ----------------------------------------------------------------------------------------------
# Bugs the properties found (at b094415; fixed in 32305af), each as its smallest input.


@pytest.mark.parametrize("time", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_time_at_the_edge_of_the_calendar_is_a_client_error(
    fuzz, store, prefix, tenant, time
):
    event = {**signal_event(tenant.tenant_id), "time": time}
    r, _ = await send(
        fuzz, store, prefix, tenant, orjson.dumps(event), {b"content-type": b"application/json"}
    )
    assert r.status_code == 400, r.text
    assert [e["path"] for e in r.json()["errors"]] == ["time"]


async def test_ce_data_header_is_a_client_error(fuzz, store, prefix, tenant):
    event = signal_event(tenant.tenant_id)
    headers = {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "x",
        "ce-type": "SubmitSignal",
        "ce-source": "trading",
        "ce-data": "zzz",
    }
    r, _ = await send(fuzz, store, prefix, tenant, orjson.dumps(event["data"]), headers)
    assert r.status_code == 400, r.text
    assert "ce-data" in [e["path"] for e in r.json()["errors"]]


async def test_deeply_nested_data_is_a_client_error(fuzz, store, prefix, tenant):
    depth = 300
    event = signal_event(tenant.tenant_id, Quantity="@")
    body = orjson.dumps(event).replace(b'"@"', b"[" * depth + b"]" * depth)
    r, _ = await send(fuzz, store, prefix, tenant, body, {b"content-type": b"application/json"})
    assert r.status_code == 422
    assert any(e["path"].startswith("data") for e in r.json()["errors"])


async def test_extension_name_with_a_trailing_newline_is_rejected(fuzz, store, prefix, tenant):
    event = {**signal_event(tenant.tenant_id), "ext\n": "v"}
    r, appended = await send(
        fuzz, store, prefix, tenant, orjson.dumps(event), {b"content-type": b"application/json"}
    )
    assert r.status_code == 400, r.text
    assert appended == 0
