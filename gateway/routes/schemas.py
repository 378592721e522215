"""The schema catalog, tenant-scoped (with X-Api-Key) and public."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from baas.core.catalog import UnknownSchema
from baas.core.problems import Problem
from gateway.guard import authenticate, check_ip
from gateway.services import services

SCHEMA_MEDIA_TYPE = "application/schema+json"


def _listing(request: Request) -> Response:
    return JSONResponse(services(request).catalog.listing())


def _document(request: Request) -> Response:
    name = request.path_params["name"]
    version = request.path_params["version"]
    try:
        schema = services(request).catalog.get(name, version)
    except UnknownSchema:
        raise Problem(404, f"No schema {name}/{version}. List them at GET /schemas.") from None
    return JSONResponse(dict(schema.document), media_type=SCHEMA_MEDIA_TYPE)


async def tenant_schemas(request: Request) -> Response:
    await authenticate(request, request.path_params["tenantId"])
    return _listing(request)


async def tenant_schema(request: Request) -> Response:
    await authenticate(request, request.path_params["tenantId"])
    return _document(request)


async def public_schemas(request: Request) -> Response:
    await check_ip(request)
    return _listing(request)


async def public_schema(request: Request) -> Response:
    await check_ip(request)
    return _document(request)
