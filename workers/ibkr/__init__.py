"""Interactive Brokers through IB Gateway (or TWS), on ib_async.

- ``orders``: ``BrokerOrder`` in, ``BrokerOutcome`` out.
- ``contracts``: signals to IB contracts and orders (pure).
- ``connection``: one self-reconnecting connection per (worker, broker) and its status.
- ``reconcile``: what IB knows about our orders, matched by ``orderRef``.
- ``adapter``: ``IbkrBroker``, which ties them together.
- ``check``: ``baas ibkr check``.
"""

from .adapter import IbkrBroker, IbkrOptions, IbkrStopped
from .check import check
from .connection import Backoff, ConnectionOptions, ConnectionStatus, IbkrConnection
from .contracts import OrderRefused, contract_for, parse_option, prepare_order
from .orders import BrokerOrder, BrokerOutcome, OptionSpec, OutcomeSink

__all__ = [
    "Backoff",
    "BrokerOrder",
    "BrokerOutcome",
    "ConnectionOptions",
    "ConnectionStatus",
    "IbkrBroker",
    "IbkrConnection",
    "IbkrOptions",
    "IbkrStopped",
    "OptionSpec",
    "OrderRefused",
    "OutcomeSink",
    "check",
    "contract_for",
    "parse_option",
    "prepare_order",
]
