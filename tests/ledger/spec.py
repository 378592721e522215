"""The ledger API description's examples, as a client copies them: its curl commands, its Python
example and its JSON examples (stored in ``tests/support/spec_examples/ledger-api.json``; see
``tests.support.spec_documents``)."""

from __future__ import annotations

from typing import Any

from tests.support.spec_documents import LEDGER_API

SPEC_HOST = "https://botranks.ai"
EXAMPLES = LEDGER_API.stored_examples()


def quick_start_curl() -> str:
    """The Quick Start's curl command, continuation lines and -d body included."""
    return EXAMPLES["quick_start_curl"]


def python_example() -> str:
    """The Quick Start's Python program, from its import to its print."""
    return EXAMPLES["python_example"]


def idempotency_bodies() -> list[str]:
    """The -d bodies of the Idempotency section's two curl calls (``curl … -d '…'``)."""
    return list(EXAMPLES["idempotency_bodies"])


def example(name: str) -> Any:
    """One of the JSON examples: ``key_request``, ``key_response``, ``snapshot_request``,
    ``snapshot_response``."""
    return EXAMPLES[name]


def performance_keys() -> set[str]:
    """The keys of the abridged ``GET /performance`` answer."""
    return set(EXAMPLES["performance_keys"])


def detail_examples() -> list[str]:
    """Every ``{ "detail": "…" }`` the description prints."""
    return list(EXAMPLES["details"])
