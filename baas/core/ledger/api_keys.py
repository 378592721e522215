"""The ledger's API keys: their form (``fq_live_`` + 256 random bits), what is shown of one, and
the records the store keeps of them (metadata and digest, never the key)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from baas.core import apikeys

KEY_PREFIX = "fq_live_"
KEY_DISPLAY_CHARS = len(KEY_PREFIX) + 2  # "fq_live_9Q"
KEY_WARNING = "Store this key now; it cannot be retrieved later."


@dataclass(frozen=True, slots=True)
class LedgerKey:
    """A ledger API key's metadata (never the key)."""

    key_id: str
    strategy_id: str
    tenant_id: str
    name: str
    key_prefix: str
    created_at: str
    revoked_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.key_id,
            "strategy_id": self.strategy_id,
            "name": self.name,
            "key_prefix": self.key_prefix,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True, slots=True)
class IssuedLedgerKey:
    """A new key: the only moment its plaintext exists."""

    info: LedgerKey
    plaintext: str


@dataclass(frozen=True, slots=True)
class LedgerKeyOwner:
    tenant_id: str
    strategy_id: str
    key_id: str


def new_ledger_key() -> str:
    """``fq_live_`` + 43 URL-safe characters (256 random bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def ledger_key_owner(raw: bytes | None, key_digest: str) -> LedgerKeyOwner | None:
    """Read an index record fetched by digest, comparing the digests in constant time."""
    if raw is None:
        return None
    record = orjson.loads(raw)
    if not apikeys.matches(record["digest"], key_digest):
        return None
    return LedgerKeyOwner(record["tenant_id"], record["strategy_id"], record["key_id"])


def key_from_record(raw: bytes) -> LedgerKey:
    """A key's metadata from the record a strategy's key hash holds (its digest left out)."""
    record = orjson.loads(raw)
    record.pop("digest", None)
    return LedgerKey(**record)
