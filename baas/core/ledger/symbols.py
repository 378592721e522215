"""Ticker symbols as the ledger keeps them."""

from __future__ import annotations

import re
from typing import Any

SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.^=_:+-]{0,31}|\^[A-Z0-9.=_:+-]{1,31}")


def normalize_symbol(value: Any) -> str:
    """Upper-case ticker (``aapl`` → ``AAPL``; ``BTC-USD``, ``^GSPC``, ``BRK.B``, ``ES=F``)."""
    if not isinstance(value, str):
        raise ValueError("must be a string, e.g. AAPL")
    symbol = value.strip().upper()
    if not SYMBOL.fullmatch(symbol):
        raise ValueError(
            f"{value!r} is not a ticker: 1 to 32 letters, digits or . ^ = _ : + -, e.g. AAPL"
        )
    return symbol
