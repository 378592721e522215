"""The versioned JSON Schemas of the commands, ``schemas/<name>/<version>.json``.

Every file is checked for the house rules (draft 2020-12, ``$id``, PascalCase ``title``,
a description on every property, valid examples under both validators the project uses),
then submit-signal and the other commands get case-by-case checks.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from jsonschema import Draft202012Validator

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
SCHEMA_FILES = sorted(SCHEMAS_DIR.glob("*/*.json"))
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
EXPECTED = {
    "submit-signal/1.0",
    "configure-indicator-alert/1.0",
    "configure-strategy-alert/1.0",
    "configure-broker/1.0",
    "remove-broker/1.0",
}

# Keywords whose subschemas only add constraints to the object they sit in: properties named
# there must be declared (with their description) in the sibling "properties".
OVERLAY_ONE = ("if", "then", "else", "not")
OVERLAY_MANY = ("allOf", "anyOf", "oneOf")


def _key(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _schema(key: str) -> dict[str, Any]:
    return _load(SCHEMAS_DIR / f"{key}.json")


def _py_validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _rs_validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def _errors(schema: dict[str, Any], instance: Any) -> tuple[list[str], list[str]]:
    """Error messages from python-jsonschema and from jsonschema-rs."""
    py = [e.message for e in _py_validator(schema).iter_errors(instance)]
    rs = [e.message for e in _rs_validator(schema).iter_errors(instance)]
    return py, rs


def assert_valid(schema: dict[str, Any], instance: Any, where: str = "") -> None:
    py, rs = _errors(schema, instance)
    assert not py, f"{where} python-jsonschema rejects {instance!r}: {py}"
    assert not rs, f"{where} jsonschema-rs rejects {instance!r}: {rs}"


def assert_invalid(schema: dict[str, Any], instance: Any) -> None:
    py, rs = _errors(schema, instance)
    assert py, f"python-jsonschema accepts {instance!r}"
    assert rs, f"jsonschema-rs accepts {instance!r}"


def _property_schemas(schema: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every declared property (and map-value) schema, at every depth, with its path."""
    if not isinstance(schema, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        yield f"{where}.{name}", sub
        yield from _property_schemas(sub, f"{where}.{name}")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield f"{where}.*", extra
        yield from _property_schemas(extra, f"{where}.*")
    for name, sub in schema.get("patternProperties", {}).items():
        yield f"{where}.~{name}", sub
        yield from _property_schemas(sub, f"{where}.~{name}")
    items = schema.get("items")
    if isinstance(items, dict):
        yield from _property_schemas(items, f"{where}[]")
    for i, sub in enumerate(schema.get("prefixItems", [])):
        yield from _property_schemas(sub, f"{where}[{i}]")
    for name, sub in schema.get("$defs", {}).items():
        yield from _property_schemas(sub, f"{where}$defs.{name}")


def _overlay_names(schema: Any, where: str) -> Iterator[tuple[str, str]]:
    """(path, name) of each property an overlay (if/then/allOf...) names, recursively."""
    if not isinstance(schema, dict):
        return
    subs = [(kw, schema[kw]) for kw in OVERLAY_ONE if kw in schema]
    subs += [(f"{kw}[{i}]", s) for kw in OVERLAY_MANY for i, s in enumerate(schema.get(kw, []))]
    for kw, sub in subs:
        if not isinstance(sub, dict):
            continue
        for name in list(sub.get("properties", {})) + list(sub.get("required", [])):
            yield f"{where}/{kw}", name
        yield from _overlay_names(sub, f"{where}/{kw}")


def _object_schemas(schema: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """The top level and every nested schema that declares properties."""
    if isinstance(schema, dict):
        if "properties" in schema:
            yield where or "<top>", schema
        for name, sub in _property_schemas(schema, where):
            if isinstance(sub, dict) and "properties" in sub:
                yield name, sub


# --------------------------------------------------------------------------- every file


def test_schema_files_exist() -> None:
    found = {_key(p) for p in SCHEMA_FILES}
    missing = EXPECTED - found
    assert not missing, f"missing schema files: {sorted(missing)}"


def test_python_jsonschema_checks_date_time() -> None:
    # Without rfc3339-validator python-jsonschema silently accepts any string as a date-time.
    assert "date-time" in Draft202012Validator.FORMAT_CHECKER.checkers, (
        "install rfc3339-validator so python-jsonschema checks format date-time"
    )


@pytest.fixture(params=SCHEMA_FILES, ids=_key)
def schema_file(request: pytest.FixtureRequest) -> tuple[Path, dict[str, Any]]:
    path: Path = request.param
    return path, _load(path)


def test_layout(schema_file: tuple[Path, dict[str, Any]]) -> None:
    path, _ = schema_file
    assert path.parent.parent == SCHEMAS_DIR
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", path.parent.name), path.parent.name
    assert re.fullmatch(r"\d+\.\d+", path.stem), f"version {path.stem!r} is not MAJOR.MINOR"


def test_against_metaschema(schema_file: tuple[Path, dict[str, Any]]) -> None:
    _, schema = schema_file
    assert schema.get("$schema") == DRAFT_2020_12
    Draft202012Validator.check_schema(schema)
    jsonschema_rs.meta.validate(schema)
    _rs_validator(schema)  # compiles


def test_id_and_title(schema_file: tuple[Path, dict[str, Any]]) -> None:
    path, schema = schema_file
    name, version = path.parent.name, path.stem
    assert schema.get("$id") == f"urn:baas-gateway:schema:{name}:{version}"
    title = schema.get("title")
    assert isinstance(title, str)
    assert re.fullmatch(r"(?:[A-Z][a-z0-9]*)+", title), f"title {title!r} is not PascalCase"
    assert title == "".join(part.capitalize() for part in name.split("-"))


def test_top_level_shape(schema_file: tuple[Path, dict[str, Any]]) -> None:
    _, schema = schema_file
    assert isinstance(schema.get("description"), str)
    assert schema["description"].strip()
    assert schema.get("type") == "object"
    assert schema.get("additionalProperties") is False
    assert schema.get("properties"), "no properties"
    for name in schema["properties"]:
        assert re.fullmatch(r"(?:[A-Z][a-z0-9]*)+", name), f"field {name!r} is not PascalCase"


def test_every_property_has_a_description(schema_file: tuple[Path, dict[str, Any]]) -> None:
    _, schema = schema_file
    seen = 0
    for where, sub in _property_schemas(schema):
        seen += 1
        assert isinstance(sub, dict), f"{where}: a boolean schema cannot carry a description"
        description = sub.get("description")
        assert isinstance(description, str), f"{where}: no description"
        assert description.strip(), f"{where}: empty description"
        assert "title" not in sub, f"{where}: properties carry a description, not a title"
    assert seen >= len(schema["properties"])


def test_required_and_conditional_fields_are_declared(
    schema_file: tuple[Path, dict[str, Any]],
) -> None:
    # A typo in "required" or in an if/then would silently never match anything.
    _, schema = schema_file
    for where, obj in _object_schemas(schema):
        declared = set(obj["properties"])
        undeclared = set(obj.get("required", [])) - declared
        assert not undeclared, f"{where}: required but not declared: {sorted(undeclared)}"
        for at, name in _overlay_names(obj, where):
            assert name in declared, f"{at}: names undeclared property {name!r}"


def test_defaults_are_valid(schema_file: tuple[Path, dict[str, Any]]) -> None:
    _, schema = schema_file
    for where, sub in _property_schemas(schema):
        if isinstance(sub, dict) and "default" in sub:
            assert_valid(sub, sub["default"], f"default of {where}:")


def test_examples_are_valid(schema_file: tuple[Path, dict[str, Any]]) -> None:
    _, schema = schema_file
    examples = schema.get("examples")
    assert isinstance(examples, list)
    assert examples, "no examples"
    for example in examples:
        assert isinstance(example, dict)
        assert_valid(schema, example)


def test_examples_are_complete(schema_file: tuple[Path, dict[str, Any]]) -> None:
    # Together the examples show every field (the fields of one variant may sit in another
    # example), but of fields that exclude each other ("not": {"required": [...]}) one will do.
    _, schema = schema_file
    shown = set().union(*(set(example) for example in schema["examples"]))
    exclusive = schema.get("not", {}).get("required", [])
    if shown & set(exclusive):
        shown |= set(exclusive)
    assert shown == set(schema["properties"])


# --------------------------------------------------------------------------- submit-signal

# The data of the spec's SubmitSignal example (baas-api.txt, "Submitting a Trade"), verbatim.
SPEC_SUBMIT_SIGNAL = json.loads(
    """
{
"CorrelationId": "<your-alert-id>",
"TenantId": "<your-tenant-id>",
"Id": "<unique-signal-id>",
"BrokerId": "<your-broker-id>",
"BrokerName": "IBKR",
"Symbol": "MSFT",
"Date": "2026-04-27T11:20:00Z",
"Data": "buy",
"Quantity": 1,
"Price": 424.60,
"OrderType": "MKT",
"InstrumentType": "STK",
"AccountRiskPercentage": 0,
"AccountQuantityMultiplier": 0
}
"""
)


@pytest.fixture(scope="module")
def submit_signal() -> dict[str, Any]:
    return _schema("submit-signal/1.0")


_DROP = object()  # as a value in _signal(...) or a broker instance: leave the field out


def _signal(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SPEC_SUBMIT_SIGNAL)
    for name, value in changes.items():
        if value is _DROP:
            data.pop(name)
        else:
            data[name] = value
    return data


def test_submit_signal_spec_example(submit_signal: dict[str, Any]) -> None:
    assert set(SPEC_SUBMIT_SIGNAL) == set(submit_signal["properties"])
    assert_valid(submit_signal, SPEC_SUBMIT_SIGNAL)


def test_submit_signal_spec_fields_one_by_one(submit_signal: dict[str, Any]) -> None:
    # Each field of the spec's example is valid against its own property schema.
    for name, value in SPEC_SUBMIT_SIGNAL.items():
        assert_valid(submit_signal["properties"][name], value)


def test_submit_signal_required(submit_signal: dict[str, Any]) -> None:
    assert set(submit_signal["required"]) == {
        "CorrelationId",
        "Id",
        "Symbol",
        "Data",
        "Quantity",
        "OrderType",
        "InstrumentType",
    }
    minimal = {name: SPEC_SUBMIT_SIGNAL[name] for name in submit_signal["required"]}
    assert_valid(submit_signal, minimal)
    for name in submit_signal["required"]:
        assert_invalid(submit_signal, _signal(**{name: _DROP}))


@pytest.mark.parametrize(
    "date",
    [
        "2026-04-27T11:20:00Z",
        "2026-04-27T11:20:00.123456+00:00",  # Python's datetime.now(timezone.utc).isoformat()
        "2026-04-27T11:20:00.1234567Z",  # PowerShell's ToString("o")
        "2026-04-27T13:20:00+02:00",
    ],
)
def test_submit_signal_dates_of_the_spec_clients(submit_signal: dict[str, Any], date: str) -> None:
    assert_valid(submit_signal, _signal(Date=date))


def test_submit_signal_limit_order_with_price(submit_signal: dict[str, Any]) -> None:
    assert_valid(submit_signal, _signal(OrderType="LMT", Price=424.6))


def test_submit_signal_market_order_without_price(submit_signal: dict[str, Any]) -> None:
    assert_valid(submit_signal, _signal(Price=_DROP))
    assert_valid(submit_signal, _signal(Price=0))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"OrderType": "LMT", "Price": _DROP}, id="LMT-without-Price"),
        pytest.param({"OrderType": "LMT", "Price": 0}, id="LMT-with-Price-0"),
        pytest.param({"Price": -1}, id="negative-Price"),
        pytest.param({"Quantity": 0}, id="Quantity-0"),
        pytest.param({"Quantity": -1}, id="negative-Quantity"),
        pytest.param({"Quantity": "1"}, id="Quantity-as-string"),
        pytest.param({"Data": "hold"}, id="Data-hold"),
        pytest.param({"Data": "BUY"}, id="Data-upper-case"),
        pytest.param({"Date": "yesterday"}, id="Date-not-a-date"),
        pytest.param({"Date": "2026-04-27T11:20:00"}, id="Date-without-offset"),
        pytest.param({"Date": "2026-13-01T00:00:00Z"}, id="Date-month-13"),
        pytest.param({"Side": "buy"}, id="unknown-field"),
        pytest.param({"correlationId": "x"}, id="field-in-wrong-case"),
        pytest.param({"AccountRiskPercentage": -1}, id="AccountRiskPercentage--1"),
        pytest.param({"AccountQuantityMultiplier": -1}, id="AccountQuantityMultiplier--1"),
        pytest.param({"OrderType": "STP"}, id="OrderType-STP"),
        pytest.param({"InstrumentType": "Futures"}, id="InstrumentType-Futures"),
        pytest.param({"CorrelationId": ""}, id="empty-CorrelationId"),
        pytest.param({"Id": ""}, id="empty-Id"),
        pytest.param({"Symbol": ""}, id="empty-Symbol"),
    ],
)
def test_submit_signal_rejects(submit_signal: dict[str, Any], changes: dict[str, Any]) -> None:
    assert_invalid(submit_signal, _signal(**changes))


def test_submit_signal_rejects_non_objects(submit_signal: dict[str, Any]) -> None:
    for instance in (None, [], "buy", 1):
        assert_invalid(submit_signal, instance)


# --------------------------------------------------------------------------- alerts


@pytest.fixture(
    scope="module", params=["configure-indicator-alert/1.0", "configure-strategy-alert/1.0"]
)
def alert_schema(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _schema(request.param)


def test_alert_needs_only_alert_id(alert_schema: dict[str, Any]) -> None:
    assert alert_schema["required"] == ["AlertId"]
    assert_valid(alert_schema, {"AlertId": "a1"})
    assert_valid(alert_schema, {"AlertId": "a1", "Enabled": False})
    assert_valid(alert_schema, {"AlertId": "a1", "RotateWebhookToken": True})
    assert_invalid(alert_schema, {})
    assert_invalid(alert_schema, {"AlertId": ""})


def test_alert_defaults(alert_schema: dict[str, Any]) -> None:
    props = alert_schema["properties"]
    assert props["MaxSignalAgeSeconds"]["default"] == 60
    assert props["Enabled"]["default"] is True
    assert props["RotateWebhookToken"]["default"] is False


def test_alert_symbol_map(alert_schema: dict[str, Any]) -> None:
    assert_valid(alert_schema, {"AlertId": "a1", "SymbolMap": {"BTCUSD": "BTC"}})
    assert_valid(alert_schema, {"AlertId": "a1", "Symbol": "BTC"})


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"Symbol": "BTC", "SymbolMap": {"BTCUSD": "BTC"}}, id="Symbol-and-SymbolMap"),
        pytest.param({"SymbolMap": {"BTCUSD": 1}}, id="SymbolMap-number-value"),
        pytest.param({"SymbolMap": {"BTCUSD": ""}}, id="SymbolMap-empty-value"),
        pytest.param({"SymbolMap": {"": "BTC"}}, id="SymbolMap-empty-key"),
        pytest.param({"SymbolMap": {}}, id="SymbolMap-empty"),
        pytest.param({"SymbolMap": ["BTC"]}, id="SymbolMap-list"),
        pytest.param({"Quantity": 0}, id="Quantity-0"),
        pytest.param({"QuantityMultiplier": -1}, id="QuantityMultiplier--1"),
        pytest.param({"RiskPercentage": -0.5}, id="RiskPercentage--0.5"),
        pytest.param({"MaxSignalAgeSeconds": 0}, id="MaxSignalAgeSeconds-0"),
        pytest.param({"MaxSignalAgeSeconds": 1.5}, id="MaxSignalAgeSeconds-1.5"),
        pytest.param({"OrderType": "STP"}, id="OrderType-STP"),
        pytest.param({"InstrumentType": "Futures"}, id="InstrumentType-Futures"),
        pytest.param({"Enabled": "yes"}, id="Enabled-string"),
        pytest.param({"RotateWebhookToken": 1}, id="RotateWebhookToken-number"),
        pytest.param({"CorrelationId": "a1"}, id="unknown-field"),
    ],
)
def test_alert_rejects(alert_schema: dict[str, Any], changes: dict[str, Any]) -> None:
    assert_invalid(alert_schema, {"AlertId": "a1", **changes})


def test_indicator_alert_action() -> None:
    schema = _schema("configure-indicator-alert/1.0")
    for action in ("buy", "sell", "close", "from_message"):
        assert_valid(schema, {"AlertId": "a1", "Action": action})
    assert_invalid(schema, {"AlertId": "a1", "Action": "hold"})
    assert_invalid(schema, {"AlertId": "a1", "Mode": "orders"})


def test_strategy_alert_mode() -> None:
    schema = _schema("configure-strategy-alert/1.0")
    assert schema["properties"]["Mode"]["default"] == "orders"
    for mode in ("orders", "position"):
        assert_valid(schema, {"AlertId": "a1", "Mode": mode})
    assert_invalid(schema, {"AlertId": "a1", "Mode": "positions"})
    # Actions come from the strategy: no Action field.
    assert_invalid(schema, {"AlertId": "a1", "Action": "buy"})
    assert_invalid(schema, {"AlertId": "a1", "Action": "from_message"})


def test_strategy_alert_has_the_indicator_alert_fields() -> None:
    indicator = set(_schema("configure-indicator-alert/1.0")["properties"])
    strategy = set(_schema("configure-strategy-alert/1.0")["properties"])
    assert strategy == (indicator - {"Action"}) | {"Mode"}


# --------------------------------------------------------------------------- brokers


@pytest.fixture(scope="module")
def configure_broker() -> dict[str, Any]:
    return _schema("configure-broker/1.0")


IBKR = {"BrokerId": "ib", "Kind": "ibkr", "Host": "127.0.0.1", "Port": 4002}
PAPER = {"BrokerId": "pp", "Kind": "paper"}


def test_configure_broker_valid(configure_broker: dict[str, Any]) -> None:
    assert_valid(configure_broker, IBKR)
    assert_valid(configure_broker, {**IBKR, "ClientId": 0, "Account": "DU1234567"})
    assert_valid(configure_broker, PAPER)
    assert_valid(
        configure_broker,
        {**PAPER, "StartingCash": 5000, "CommissionPerShare": 0, "MinCommission": 0},
    )
    assert_valid(configure_broker, {**PAPER, "SlippageBps": 2.5, "Enabled": False, "Name": "x"})


def test_configure_broker_defaults(configure_broker: dict[str, Any]) -> None:
    props = configure_broker["properties"]
    assert props["StartingCash"]["default"] == 100000
    assert props["CommissionPerShare"]["default"] == 0
    assert props["MinCommission"]["default"] == 0
    assert props["SlippageBps"]["default"] == 0
    assert props["Enabled"]["default"] is True


@pytest.mark.parametrize(
    "instance",
    [
        pytest.param({"Kind": "paper"}, id="no-BrokerId"),
        pytest.param({"BrokerId": "pp"}, id="no-Kind"),
        pytest.param({"BrokerId": "pp", "Kind": "alpaca"}, id="unknown-Kind"),
        pytest.param({"BrokerId": "", "Kind": "paper"}, id="empty-BrokerId"),
        pytest.param({**IBKR, "Host": _DROP}, id="ibkr-without-Host"),
        pytest.param({**IBKR, "Port": _DROP}, id="ibkr-without-Port"),
        pytest.param({**IBKR, "Port": 0}, id="Port-0"),
        pytest.param({**IBKR, "Port": 65536}, id="Port-65536"),
        pytest.param({**IBKR, "Port": "4002"}, id="Port-string"),
        pytest.param({**IBKR, "ClientId": -1}, id="ClientId--1"),
        pytest.param({**IBKR, "StartingCash": 1000}, id="ibkr-with-StartingCash"),
        pytest.param({**IBKR, "SlippageBps": 1}, id="ibkr-with-SlippageBps"),
        pytest.param({**PAPER, "Host": "127.0.0.1"}, id="paper-with-Host"),
        pytest.param({**PAPER, "Account": "DU1"}, id="paper-with-Account"),
        pytest.param({**PAPER, "StartingCash": 0}, id="StartingCash-0"),
        pytest.param({**PAPER, "CommissionPerShare": -0.01}, id="negative-CommissionPerShare"),
        pytest.param({**PAPER, "MinCommission": -1}, id="negative-MinCommission"),
        pytest.param({**PAPER, "SlippageBps": -1}, id="negative-SlippageBps"),
        pytest.param({**PAPER, "Password": "x"}, id="unknown-field"),
    ],
)
def test_configure_broker_rejects(configure_broker: dict[str, Any], instance: dict) -> None:
    instance = {k: v for k, v in instance.items() if v is not _DROP}
    assert_invalid(configure_broker, instance)


def test_remove_broker() -> None:
    schema = _schema("remove-broker/1.0")
    assert schema["required"] == ["BrokerId"]
    assert_valid(schema, {"BrokerId": "pp"})
    assert_valid(schema, {"BrokerId": "pp", "TenantId": "t1"})
    assert_invalid(schema, {})
    assert_invalid(schema, {"BrokerId": ""})
    assert_invalid(schema, {"BrokerId": "pp", "Kind": "paper"})


# --------------------------------------------------------------------------- bounds

ALERTS = ("configure-indicator-alert/1.0", "configure-strategy-alert/1.0")
# Every number a command carries has an upper bound that a broker could still accept (#12.3).
BOUNDS = [
    ("submit-signal/1.0", _signal(), "Quantity", 1e9),
    ("submit-signal/1.0", _signal(), "Price", 1e9),
    ("submit-signal/1.0", _signal(), "AccountRiskPercentage", 100),
    ("submit-signal/1.0", _signal(), "AccountQuantityMultiplier", 1000),
    *((alert, {"AlertId": "a"}, "Quantity", 1e9) for alert in ALERTS),
    *((alert, {"AlertId": "a"}, "QuantityMultiplier", 1000) for alert in ALERTS),
    *((alert, {"AlertId": "a"}, "RiskPercentage", 100) for alert in ALERTS),
    *((alert, {"AlertId": "a"}, "MaxSignalAgeSeconds", 31536000) for alert in ALERTS),
    ("configure-broker/1.0", IBKR, "ClientId", 2**31 - 1),
    ("configure-broker/1.0", PAPER, "StartingCash", 1e12),
    ("configure-broker/1.0", PAPER, "CommissionPerShare", 1000),
    ("configure-broker/1.0", PAPER, "MinCommission", 1e6),
    ("configure-broker/1.0", PAPER, "SlippageBps", 1000),
]


@pytest.mark.parametrize(("key", "base", "name", "bound"), BOUNDS, ids=lambda v: str(v)[:30])
def test_numbers_are_bounded(key: str, base: dict[str, Any], name: str, bound: float) -> None:
    schema = _schema(key)
    whole = isinstance(bound, int)
    assert_valid(schema, {**base, name: int(bound) if whole else bound})
    assert_invalid(schema, {**base, name: bound + 1 if whole else bound * (1 + 1e-9)})
    assert_invalid(schema, {**base, name: 1e20})


@pytest.mark.parametrize(
    ("date", "valid"),
    [
        ("1970-01-01T00:00:00Z", True),
        ("2200-12-31T23:59:59Z", True),
        ("1969-12-31T23:59:59Z", False),
        ("2201-01-01T00:00:00Z", False),
        ("0001-01-01T00:00:00Z", False),
        ("9999-12-31T23:59:59Z", False),
    ],
)
def test_submit_signal_date_is_within_the_years_1970_to_2200(
    submit_signal: dict[str, Any], date: str, valid: bool
) -> None:
    (assert_valid if valid else assert_invalid)(submit_signal, _signal(Date=date))
