"""A protocol-level fake IB Gateway: real ib_async clients connect to it over loopback TCP.

async with FakeIBGateway() as gw:
    gw.on_order(Fill(price=101.5, parts=(40, 60)), order_ref="sig-1")
    ib = await IB().connectAsync("127.0.0.1", gw.port, clientId=1)
"""

from .catalog import ContractSpec, Instrument, occ_symbol, parse_occ
from .orders import Execution, PlacedOrder, Position, WorkingOrder
from .protocol import SERVER_VERSION
from .script import Behavior, Drop, Fill, Hold, Reject
from .server import FakeIBGateway, Received

__all__ = [
    "SERVER_VERSION",
    "Behavior",
    "ContractSpec",
    "Drop",
    "Execution",
    "FakeIBGateway",
    "Fill",
    "Hold",
    "Instrument",
    "PlacedOrder",
    "Position",
    "Received",
    "Reject",
    "WorkingOrder",
    "occ_symbol",
    "parse_occ",
]
