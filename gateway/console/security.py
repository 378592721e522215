"""What every console response carries (the headers) and what every console form proves (its
CSRF token); the session cookie's attributes."""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from baas.core.problems import Problem
from gateway.client_ip import _trusted
from gateway.services import services

SESSION_COOKIE = "baas_console"
SIGN_IN_COOKIE = "baas_console_sign_in"  # the sign-in form's CSRF token (no session yet)
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf"
BAD_CSRF = "The form's security token is missing or stale: reload the page and try again."
HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
)


class ConsoleHeaders:
    """ASGI middleware: the security headers on every response of the console."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def check_csrf(sent: str | None, expected: str | None) -> None:
    """A 403 unless the form's token is the expected one."""
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Problem(403, BAD_CSRF)


def is_https(request: Request) -> bool:
    """Served over https, or behind a trusted proxy (BAAS_TRUSTED_PROXIES) that says so."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else ""
    proxies = services(request).trusted_proxies
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
    return bool(proxies) and _trusted(peer, proxies) and forwarded == "https"


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def drop_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, httponly=True, samesite="strict", secure=is_https(request)
    )
