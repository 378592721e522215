"""``baas ibkr check``: is an IB Gateway there, logged in, and answering the API?

IB Gateway (with IBC) accepts TCP connections before its login completes, so a port check says
nothing: this completes the API handshake, asks for the current time and reads the managed
accounts, then disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ib_async import IB
from ib_async.ib import StartupFetchNONE

DEFAULT_CLIENT_ID = 999
"""A clientId unlikely to be used by a worker (workers use the broker's ClientId + index)."""


async def check(
    host: str,
    port: int,
    client_id: int = DEFAULT_CLIENT_ID,
    timeout: float = 10.0,  # noqa: ASYNC109 (bounds the whole check)
) -> tuple[bool, str]:
    """(True, a one-line summary) when the API answers, else (False, why not)."""
    where = f"{host}:{port}"
    ib = IB()
    ib_errors: list[str] = []
    socket_errors: list[str] = []

    def on_error(_req_id: int, code: int, message: str, _contract: object) -> None:
        if not 2100 <= code < 2200:
            ib_errors.append(f"IB error {code}: {message}")

    ib.errorEvent += on_error
    ib.client.apiError += socket_errors.append
    quiet = logging.getLogger("ib_async")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # the answer says what went wrong; no log noise
    try:
        async with asyncio.timeout(timeout):
            await ib.connectAsync(
                host,
                port,
                clientId=client_id,
                timeout=timeout,
                readonly=True,
                fetchFields=StartupFetchNONE,
            )
            now = await ib.reqCurrentTimeAsync()
            accounts = ib.managedAccounts()
            version = ib.client.serverVersion()
    except TimeoutError:
        reason = (
            ib_errors[-1]
            if ib_errors
            else (
                f"no API answer within {timeout:g} s (IB Gateway still logging in, "
                f"or clientId {client_id} in use?)"
            )
        )
        return False, f"IB Gateway at {where}: {reason}"
    except OSError as exc:
        return False, f"cannot connect to IB Gateway at {where}: {exc.strerror or exc}"
    except Exception as exc:  # anything ib_async raises is an answer, not a crash
        detail = ib_errors[-1] if ib_errors else f"{type(exc).__name__}: {exc}"
        return False, f"IB Gateway at {where}: {detail}"
    finally:
        with contextlib.suppress(Exception):
            ib.disconnect()
        quiet.setLevel(level)
    return True, (
        f"IB Gateway at {where}: API server version {version}, "
        f"time {now:%Y-%m-%d %H:%M:%S %Z}, "
        f"accounts {', '.join(accounts) or 'none'} (clientId {client_id})"
    )
