"""The workers' registry decides every command the gateway's catalog accepts, and only those."""

from __future__ import annotations

from pathlib import Path

from baas.core.trading.tradingview import SIGNAL_SCHEMA
from baas.schema_files import load_catalog
from workers.handlers import DECIDERS

CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "schemas")
REGISTERED = [name for cls in DECIDERS for name in cls.TYPES]


def test_every_catalog_command_type_has_one_decider():
    assert len(REGISTERED) == len(set(REGISTERED))
    assert set(REGISTERED) == set(CATALOG.command_types())


def test_tradingview_signals_use_a_schema_of_the_catalog_that_the_workers_decide():
    name, version = SIGNAL_SCHEMA.split("/")
    assert CATALOG.get(name, version).command_type in REGISTERED
