"""API keys: random, high-entropy, shown once, stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "baas_"
DISPLAY_CHARS = 9  # "baas_" and four random characters: enough to tell keys apart in a list


def new_api_key(prefix: str = KEY_PREFIX) -> str:
    """``prefix`` + 43 URL-safe characters (256 random bits)."""
    return prefix + secrets.token_urlsafe(32)


def new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"


def digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def matches(stored_digest: str, api_key_digest: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(stored_digest.encode(), api_key_digest.encode())


def display_prefix(api_key: str, chars: int = DISPLAY_CHARS) -> str:
    return api_key[:chars]
