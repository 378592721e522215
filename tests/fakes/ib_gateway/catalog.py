"""Instruments the fake knows, and how a request's contract fields resolve to them."""

import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .protocol import Field


@dataclass(frozen=True)
class ContractSpec:
    """The contract fields of a request, in the order clients send them."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""

    @classmethod
    def from_fields(cls, fields: Sequence[str]) -> "ContractSpec":
        con_id, symbol, sec_type, last, strike, right, mult, exch, primary, ccy, local, tc = fields
        return cls(
            int(con_id or 0), symbol, sec_type, last, float(strike or 0), right,
            mult, exch, primary, ccy, local, tc,
        )  # fmt: skip

    def wire(self) -> list[Field]:
        """The 11 fields (no primary exchange) replies use for a contract."""
        return [
            self.con_id, self.symbol, self.sec_type, self.last_trade_date, self.strike,
            self.right, self.multiplier, self.exchange, self.currency, self.local_symbol,
            self.trading_class,
        ]  # fmt: skip


@dataclass(frozen=True)
class Instrument:
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str
    primary_exchange: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    long_name: str = ""
    min_tick: float = 0.01
    size_increment: float = 1.0
    mark_price: float = 100.0
    """Price a market order fills at unless the script says otherwise."""
    under_con_id: int = 0
    under_symbol: str = ""

    def spec(self, exchange: str = "") -> ContractSpec:
        return ContractSpec(
            self.con_id, self.symbol, self.sec_type, self.last_trade_date, self.strike,
            self.right, self.multiplier, exchange or self.exchange, self.primary_exchange,
            self.currency, self.local_symbol, self.trading_class,
        )  # fmt: skip


def _stock(con_id: int, symbol: str, primary: str, name: str, mark: float) -> Instrument:
    return Instrument(
        con_id, symbol, "STK", "SMART", "USD", primary, symbol, symbol,
        long_name=name, mark_price=mark,
    )  # fmt: skip


def _pair(con_id: int, base: str, quote: str, min_tick: float, mark: float) -> Instrument:
    local = f"{base}.{quote}"
    return Instrument(
        con_id, base, "CASH", "IDEALPRO", quote, "", local, local,
        long_name=f"{base} {quote}", min_tick=min_tick, mark_price=mark,
    )  # fmt: skip


def _coin(con_id: int, symbol: str, min_tick: float, mark: float) -> Instrument:
    return Instrument(
        con_id, symbol, "CRYPTO", "PAXOS", "USD", "", f"{symbol}.USD", symbol,
        min_tick=min_tick, size_increment=1e-8, mark_price=mark,
    )  # fmt: skip


DEFAULT_INSTRUMENTS = (
    _stock(265598, "AAPL", "NASDAQ", "APPLE INC", 190.0),
    _stock(272093, "MSFT", "NASDAQ", "MICROSOFT CORP", 420.0),
    _stock(756733, "SPY", "ARCA", "SPDR S&P 500 ETF TRUST", 500.0),
    _stock(8314, "IBM", "NYSE", "INTL BUSINESS MACHINES CORP", 180.0),
    _pair(12087792, "EUR", "USD", 0.00005, 1.08),
    _pair(12087797, "GBP", "USD", 0.00005, 1.27),
    _pair(15016059, "USD", "JPY", 0.005, 150.0),
    _coin(479624278, "BTC", 0.25, 60000.0),
    _coin(495759171, "ETH", 0.05, 3000.0),
)

_OCC = re.compile(r"^(?P<root>[A-Z0-9.]{1,6}) *(?P<date>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")


def occ_symbol(root: str, expiry: str, right: str, strike: float) -> str:
    """``AAPL  250117C00150000``: root padded to 6, YYMMDD, C/P, strike x 1000 in 8 digits."""
    return f"{root:<6}{expiry[2:]}{right}{round(strike * 1000):08d}"


def parse_occ(local_symbol: str) -> tuple[str, str, str, float] | None:
    """(root, YYYYMMDD expiry, right, strike) of an OCC option symbol, or None."""
    m = _OCC.match(local_symbol)
    if not m:
        return None
    return m["root"], "20" + m["date"], m["right"], int(m["strike"]) / 1000


class Catalog:
    """Known instruments; US equity options are created on demand for known stocks."""

    def __init__(self, instruments: Iterable[Instrument] = DEFAULT_INSTRUMENTS) -> None:
        self._by_con_id = {i.con_id: i for i in instruments}

    def add(self, instrument: Instrument) -> None:
        self._by_con_id[instrument.con_id] = instrument

    def lookup(self, spec: ContractSpec) -> list[Instrument]:
        """Every instrument the fields describe (none: IB answers error 200)."""
        if spec.con_id:
            found = self._by_con_id.get(spec.con_id)
            return [found] if found else []
        if spec.sec_type == "OPT":
            option = self._option(spec)
            return [option] if option else []
        if not (spec.symbol or spec.local_symbol):
            return []
        return [i for i in self._by_con_id.values() if _matches(i, spec)]

    def find(self, key: str) -> Instrument:
        """The one instrument with this local symbol (an OCC symbol included) or symbol."""
        if parse_occ(key):
            found = self.lookup(ContractSpec(sec_type="OPT", local_symbol=key))
        else:
            found = self.lookup(ContractSpec(local_symbol=key)) or self.lookup(
                ContractSpec(symbol=key)
            )
        if len(found) != 1:
            raise KeyError(f"{key!r} matches {len(found)} instruments")
        return found[0]

    def _option(self, spec: ContractSpec) -> Instrument | None:
        if spec.local_symbol:
            parsed = parse_occ(spec.local_symbol)
            if not parsed:
                return None
            root, expiry, right, strike = parsed
        else:
            root, expiry, right, strike = (
                spec.symbol, spec.last_trade_date, spec.right[:1], spec.strike,
            )  # fmt: skip
            if len(expiry) != 8 or right not in ("C", "P") or strike <= 0:
                return None
        underlying = next(
            (i for i in self._by_con_id.values() if i.sec_type == "STK" and i.symbol == root),
            None,
        )
        if underlying is None:
            return None
        local = occ_symbol(root, expiry, right, strike)
        option = Instrument(
            # a stable made-up conId, so the same option qualifies identically every time
            700_000_000 + zlib.crc32(local.encode()) % 100_000_000,
            root, "OPT", "SMART", underlying.currency, "", local, root, expiry, strike, right,
            "100", long_name=underlying.long_name, mark_price=1.0,
            under_con_id=underlying.con_id, under_symbol=root,
        )  # fmt: skip
        self.add(option)
        return option


def _matches(i: Instrument, s: ContractSpec) -> bool:
    return (
        (not s.sec_type or s.sec_type == i.sec_type)
        and (not s.symbol or s.symbol == i.symbol)
        and (not s.local_symbol or s.local_symbol == i.local_symbol)
        and (not s.currency or s.currency == i.currency)
        and (not s.exchange or s.exchange in (i.exchange, i.primary_exchange))
        and (not s.primary_exchange or s.primary_exchange == i.primary_exchange)
    )
