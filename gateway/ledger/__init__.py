"""The ledger API (routes, authentication, errors, OpenAPI) on top of ``baas.core.ledger``."""

from gateway.ledger.openapi import LEDGER_OPERATIONS, LEDGER_SECURITY_SCHEMES
from gateway.ledger.routes import LEDGER_ROUTES

__all__ = ["LEDGER_OPERATIONS", "LEDGER_ROUTES", "LEDGER_SECURITY_SCHEMES"]
