"""A tenant's strategies: what one is, and the defaults of a new one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_STRATEGY_NAME = "default"
DEFAULT_BASE_CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class Strategy:
    strategy_id: str
    tenant_id: str
    name: str
    base_currency: str
    created_at: str
    is_default: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.strategy_id,
            "tenant_id": self.tenant_id,
            "name": self.name,
            "base_currency": self.base_currency,
            "is_default": self.is_default,
            "created_at": self.created_at,
        }
