"""The pure core of the intake: catalog names and references, envelope reading, client IPs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from cloudevents.core.v1.event import CloudEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from baas.core.catalog import UnknownSchema, name_of, type_of
from baas.core.envelope import parse_request
from baas.core.event_time import format_time
from baas.core.intake import admit, admit_usual
from baas.core.problems import FieldError, Problem
from baas.schema_files import load_catalog
from gateway.client_ip import client_ip, parse_networks
from tests.support.events import signal_event, to_structured

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "schemas")
NOW = datetime(2026, 4, 27, 11, 20, tzinfo=UTC)
RECEIVED = "2026-11-22T05:00:00.123456Z"


@pytest.mark.parametrize(
    ("name", "command_type"),
    [
        ("submit-signal", "SubmitSignal"),
        ("configure-indicator-alert", "ConfigureIndicatorAlert"),
        ("remove-broker", "RemoveBroker"),
    ],
)
def test_names_and_types_map_both_ways(name, command_type):
    assert type_of(name) == command_type
    assert name_of(command_type) == name


@pytest.mark.parametrize(
    "reference",
    [
        "submit-signal/1.0",
        "https://example.org/schemas/submit-signal/1.0",
        "/schemas/submit-signal/1.0.json",
    ],
)
def test_dataschema_references(reference):
    assert CATALOG.resolve("SubmitSignal", reference).ref == "submit-signal/1.0"


def test_latest_version_applies_without_dataschema():
    assert CATALOG.resolve("SubmitSignal", None).ref == "submit-signal/1.0"


@pytest.mark.parametrize(
    ("command_type", "reference", "fragment"),
    [
        ("SubmitSignal", "submit-signal", "not of the form"),
        ("SubmitSignal", "submit-signal/2.0", "unknown version"),
        ("SubmitSignal", "remove-broker/1.0", "does not match"),
        ("Teleport", None, "unknown command type"),
    ],
)
def test_bad_references(command_type, reference, fragment):
    with pytest.raises(UnknownSchema, match=fragment):
        CATALOG.resolve(command_type, reference)


def test_a_listing_is_sorted_by_version():
    assert {"name": "submit-signal", "versions": ["1.0"]} in CATALOG.listing()


def test_error_paths_name_array_items_and_missing_properties():
    schema = CATALOG.get("configure-indicator-alert", "1.0")
    errors = schema.errors({"SymbolMap": {"BTCUSD": 1}})
    assert FieldError("data.AlertId", '"AlertId" is a required property') in errors
    assert any(e.path == "data.SymbolMap.BTCUSD" for e in errors)


def test_field_errors_nest_under_batch_positions():
    assert FieldError("data.Quantity", "m").under("[2]").path == "[2].data.Quantity"
    assert FieldError("", "m").under("[2]").path == "[2]"
    assert FieldError("data", "m").under("").path == "data"


def cloudevent_of(raw: bytes) -> CloudEvent:
    """The CloudEvent ``cloudevents.core`` reads from a canonical event (and validates)."""
    document = orjson.loads(raw)
    data = document.pop("data", None)
    if "time" in document:
        document["time"] = datetime.fromisoformat(document["time"])
    return CloudEvent(document, data)


def json_of(event: CloudEvent) -> bytes:
    """What the CloudEvents JSON format makes of ``event``, with its time as the log writes it."""
    document: dict[str, Any] = dict(event.get_attributes())
    time = document.get("time")
    if isinstance(time, datetime):
        document["time"] = format_time(time)
    document["data"] = event.get_data()
    return orjson.dumps(document)


def test_the_dialect_is_case_insensitive_for_known_names():
    body = b'{"ID": "1", "Type": "RemoveBroker", "Source": "s", "DataSchema": "remove-broker/1.0", "data": {"BrokerId": "b"}}'
    [submission] = parse_request("application/json", {}, body)
    [command] = admit([submission], CATALOG, "t1", format_time(NOW))
    event = cloudevent_of(command.to_json())
    assert event.get_id() == "1"
    assert event.get_dataschema() == "remove-broker/1.0"
    assert event.get_extension("tenantid") == "t1"
    assert event.get_time() == NOW


def test_the_canonical_event_is_what_cloudevents_writes_of_it():
    body = orjson.dumps({**signal_event("t1", "e-1"), "time": "2026-04-27T13:20:00+02:00"})
    [command] = admit(parse_request("application/json", {}, body), CATALOG, "t1", format_time(NOW))
    event = cloudevent_of(command.to_json())  # cloudevents.core validates it
    assert json_of(event) == command.to_json()
    assert event.get_time() == datetime(2026, 4, 27, 11, 20, tzinfo=UTC)
    assert event.get_data() == orjson.loads(body)["data"]
    assert command.reply_id == "alert-1"


def test_time_without_zone_is_rejected():
    body = b'{"id": "1", "type": "RemoveBroker", "source": "s", "time": "2026-04-27T11:20:00", "data": {"BrokerId": "b"}}'
    with pytest.raises(Problem) as caught:
        admit(parse_request("application/json", {}, body), CATALOG, "t1", format_time(NOW))
    assert caught.value.status == 400
    assert caught.value.errors[0].path == "time"


@pytest.mark.parametrize(
    "time", ["1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00", "2201-01-01T00:00:00Z"]
)
def test_time_outside_the_years_1970_to_2200_is_rejected(time):
    document = {**signal_event("t1"), "time": time}
    assert admit_usual(document, CATALOG, "t1", RECEIVED) is None
    with pytest.raises(Problem) as caught:
        admit(
            parse_request("application/json", {}, orjson.dumps(document)), CATALOG, "t1", RECEIVED
        )
    assert caught.value.status == 400
    assert caught.value.errors == [
        FieldError("time", "must be an RFC 3339 date-time with a zone, in the years 1970 to 2200")
    ]


def test_tenant_extension_must_match():
    body = b'{"specversion": "1.0", "id": "1", "type": "RemoveBroker", "source": "s", "tenantid": "x", "data": {"BrokerId": "b"}}'
    with pytest.raises(Problem) as caught:
        admit(
            parse_request("application/cloudevents+json", {}, body), CATALOG, "t1", format_time(NOW)
        )
    assert caught.value.status == 403


def test_data_base64_is_415():
    body = b'{"specversion": "1.0", "id": "1", "type": "RemoveBroker", "source": "s", "data_base64": "AA=="}'
    with pytest.raises(Problem) as caught:
        parse_request("application/cloudevents+json", {}, body)
    assert caught.value.status == 415


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        ("1.2.3.4", None, "", "1.2.3.4"),
        ("1.2.3.4", "9.9.9.9", "", "1.2.3.4"),
        ("10.0.0.1", "9.9.9.9", "10.0.0.0/8", "9.9.9.9"),
        ("10.0.0.1", "8.8.8.8, 9.9.9.9, 10.0.0.2", "10.0.0.0/8", "9.9.9.9"),
        ("10.0.0.1", "garbage", "10.0.0.0/8", "10.0.0.1"),
        ("10.0.0.1", "9.9.9.9, garbage", "10.0.0.0/8", "10.0.0.1"),
        ("10.0.0.1", "garbage, 9.9.9.9", "10.0.0.0/8", "9.9.9.9"),
        ("10.0.0.1", "9.9.9.9:443", "10.0.0.0/8", "10.0.0.1"),
        ("10.0.0.1", "10.0.0.3", "10.0.0.0/8", "10.0.0.3"),
        ("1.2.3.4", "9.9.9.9", "10.0.0.0/8", "1.2.3.4"),
    ],
)
def test_client_ip(peer, forwarded, proxies, expected):
    assert client_ip(peer, forwarded, parse_networks(proxies)) == expected


# admit_usual, the one-pass way of the usual request, against parse_request + admit.

_NAMES = st.sampled_from(
    ["id", "ID", "type", "source", "time", "specversion", "dataSchema", "dataschema",
     "dataContentType", "datacontenttype", "subject", "tenantid", "data_base64", "extra1", "data"]
)  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from(
        ["", " ", "1.0", "0.3", "x" * 300, "2026-04-27T11:20:00Z", "2026-04-27T13:20:00+02:00",
         "2026-04-27T11:20:00", "2026-04-27 11:20:00Z", "submit-signal/1.0", "remove-broker/1.0",
         "submit-signal/9.9", "SubmitSignal", "RemoveBroker", "application/json", "text/plain",
         "t1", "t2", "buy", "LMT", "MKT", "STK"]
    ),
    st.integers(-2, 2),
    st.none(),
    st.booleans(),
)  # fmt: skip
_DATA_FIELDS = st.sampled_from(
    ["TenantId", "Quantity", "OrderType", "Price", "Data", "Symbol", "CorrelationId", "Unknown"]
)


_FEW = st.sampled_from([0, 0, 0, 1, 2])  # mostly unchanged, so that many are admitted


@st.composite
def _documents(draw):
    document = signal_event("t1", draw(st.sampled_from(["e-1", "e-2"])))
    data = dict(document["data"])
    for _ in range(draw(_FEW)):
        data[draw(_DATA_FIELDS)] = draw(_VALUES)
    for _ in range(draw(_FEW)):
        data.pop(draw(_DATA_FIELDS), None)
    document["data"] = data if draw(_FEW) < 2 else draw(_VALUES)
    for _ in range(draw(_FEW)):
        document[draw(_NAMES)] = draw(_VALUES)
    for _ in range(draw(_FEW)):
        document.pop(draw(_NAMES), None)
    return document


@settings(max_examples=1500, deadline=None)
@given(
    document=_documents(),
    content_type=st.sampled_from(["application/json", "application/cloudevents+json"]),
)
def test_admit_usual_agrees_with_the_step_by_step_way(document, content_type):
    body = orjson.dumps(document)
    usual = admit_usual(
        document,
        CATALOG,
        "t1",
        RECEIVED,
        structured_mode=content_type == "application/cloudevents+json",
    )
    try:
        admitted = admit(parse_request(content_type, {}, body), CATALOG, "t1", RECEIVED)
    except Problem:
        admitted = None
    if usual is not None:
        assert admitted == [usual]


@pytest.mark.parametrize("structured", [False, True])
def test_admit_usual_takes_the_usual_request(structured):
    document = signal_event("t1", "e-1")
    if structured:
        document = to_structured(document)
    command = admit_usual(document, CATALOG, "t1", RECEIVED, structured_mode=structured)
    assert command is not None
    content_type = "application/cloudevents+json" if structured else "application/json"
    expected = admit(
        parse_request(content_type, {}, orjson.dumps(document)), CATALOG, "t1", RECEIVED
    )
    assert [command] == expected
