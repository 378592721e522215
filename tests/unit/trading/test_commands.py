"""Log entries decode once into typed commands; anything else decodes to None."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from baas.core.trading.commands import (
    CONFIGURE_BROKER,
    CONFIGURE_INDICATOR_ALERT,
    CONFIGURE_STRATEGY_ALERT,
    REMOVE_BROKER,
    SUBMIT_SIGNAL,
    CommandDecoder,
    ConfigureAlert,
    ConfigureBroker,
    RemoveBroker,
    SubmitSignal,
)

DECODER = CommandDecoder([SubmitSignal, ConfigureAlert, ConfigureBroker, RemoveBroker])


def entry(command_type: str, **extra: object) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "trading",
        "type": command_type,
        "time": "2026-04-27T11:20:00.5Z",
        "tenantid": "t1",
        "data": {"BrokerId": "b1"},
        **extra,
    }


def test_a_signal_decodes_with_its_entry_tenant_id_time_data_and_target_position():
    command = DECODER.decode("1-0", "t1", entry(SUBMIT_SIGNAL, targetposition="-3.5"))
    assert command == SubmitSignal(
        "1-0",
        "t1",
        "evt-1",
        SUBMIT_SIGNAL,
        datetime(2026, 4, 27, 11, 20, 0, 500000, tzinfo=UTC),
        {"BrokerId": "b1"},
        Decimal("-3.5"),
    )


@pytest.mark.parametrize(("target", "decoded"), [(None, None), ("x", None), (2, Decimal(2))])
def test_a_target_position_that_is_not_a_number_is_none(target, decoded):
    document = entry(SUBMIT_SIGNAL) | ({} if target is None else {"targetposition": target})
    command = DECODER.decode("1-0", "t1", document)
    assert isinstance(command, SubmitSignal)
    assert command.target_position == decoded


@pytest.mark.parametrize(
    ("command_type", "kind"),
    [(CONFIGURE_INDICATOR_ALERT, "indicator"), (CONFIGURE_STRATEGY_ALERT, "strategy")],
)
def test_both_alert_types_are_one_command_of_their_kind(command_type, kind):
    command = DECODER.decode("1-0", "t1", entry(command_type))
    assert isinstance(command, ConfigureAlert)
    assert command.kind == kind


def test_broker_commands_decode_to_their_classes():
    assert type(DECODER.decode("1-0", "t1", entry(CONFIGURE_BROKER))) is ConfigureBroker
    assert type(DECODER.decode("1-0", "t1", entry(REMOVE_BROKER))) is RemoveBroker


def test_an_outcome_or_an_unknown_type_is_no_command():
    assert DECODER.decode("1-0", "t1", entry("SignalAccepted", source="worker")) is None
    assert DECODER.decode("1-0", "t1", entry("Unheard")) is None
    assert CommandDecoder([RemoveBroker]).decode("1-0", "t1", entry(SUBMIT_SIGNAL)) is None


def test_a_command_without_data_has_empty_data():
    document = entry(REMOVE_BROKER)
    del document["data"]
    command = DECODER.decode("1-0", "t1", document)
    assert command is not None and command.data == {}
