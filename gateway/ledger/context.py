"""The ledger's stores, made with the rest of the gateway's services at its start."""

from __future__ import annotations

from starlette.requests import Request

from gateway.services import LedgerServices, services


def ledger_services(request: Request) -> LedgerServices:
    return services(request).ledger
