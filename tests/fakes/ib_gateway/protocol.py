"""TWS API socket framing: 4-byte big-endian length, then NUL-terminated text fields."""

import asyncio
import struct
import time
from enum import IntEnum

SERVER_VERSION = 178
"""The only version the fake speaks; every outgoing layout follows ib_async's decoder for it."""

API_SIGN = b"API\0"

Field = str | int | float | bool | None


class In(IntEnum):
    """Message ids the client sends."""

    PLACE_ORDER = 3
    CANCEL_ORDER = 4
    REQ_OPEN_ORDERS = 5
    REQ_ACCOUNT_UPDATES = 6
    REQ_EXECUTIONS = 7
    REQ_CONTRACT_DETAILS = 9
    REQ_ALL_OPEN_ORDERS = 16
    REQ_CURRENT_TIME = 49
    REQ_POSITIONS = 61
    REQ_ACCOUNT_SUMMARY = 62
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    REQ_COMPLETED_ORDERS = 99


class Out(IntEnum):
    """Message ids the gateway sends."""

    ORDER_STATUS = 3
    ERR_MSG = 4
    OPEN_ORDER = 5
    ACCT_VALUE = 6
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    EXECUTION_DATA = 11
    MANAGED_ACCTS = 15
    CURRENT_TIME = 49
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    COMMISSION_REPORT = 59
    POSITION_DATA = 61
    POSITION_END = 62
    ACCOUNT_SUMMARY = 63
    ACCOUNT_SUMMARY_END = 64
    ACCOUNT_UPDATE_MULTI = 73
    ACCOUNT_UPDATE_MULTI_END = 74
    COMPLETED_ORDER = 101
    COMPLETED_ORDERS_END = 102


def format_field(value: Field) -> str:
    """Render one field the way TWS does: empty for unset, 0/1 for booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))  # IntEnum members render as their number
    return str(value)


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def encode(*fields: Field) -> bytes:
    """One framed message: every field NUL-terminated."""
    return frame("".join(f"{format_field(f)}\0" for f in fields).encode())


def decode(payload: bytes) -> list[str]:
    """Split a frame's payload into fields; the last NUL leaves an empty tail to drop."""
    fields = payload.decode(errors="backslashreplace").split("\0")
    fields.pop()
    return fields


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">I", await reader.readexactly(4))
    return await reader.readexactly(size)


def parse_version_range(text: str) -> range:
    """``v157..178`` (optionally followed by connect options) as the range of versions offered."""
    low, _, high = text.split(" ", 1)[0].removeprefix("v").partition("..")
    return range(int(low), int(high or low) + 1)


def ib_time(epoch: float | None = None) -> str:
    """A timestamp in the ``20250101 12:00:00 UTC`` form TWS uses."""
    return time.strftime("%Y%m%d %H:%M:%S UTC", time.gmtime(epoch))
