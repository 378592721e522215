"""The ledger's pure core: accounting, daily NAV and performance metrics (no I/O)."""

from baas.core.ledger.accounting import (
    ACCOUNTING_CONTEXT,
    LedgerState,
    Position,
    ReconciliationEntry,
    SnapshotResult,
    apply_cash_event,
    apply_order,
    apply_orders,
    apply_snapshot,
    replay,
)
from baas.core.ledger.events import (
    CASH_EVENT_TYPES,
    EFFECTIVE_STATUSES,
    EXTERNAL_FLOW_TYPES,
    CashEvent,
    LedgerEvent,
    Order,
    PositionSnapshot,
    SnapshotPosition,
    parse_timestamp,
    to_decimal,
    utc_date,
)
from baas.core.ledger.metrics import compute_metrics
from baas.core.ledger.nav import (
    NavPoint,
    NavSeries,
    Valuation,
    build_nav_series,
    mark_to_market,
)
from baas.core.ledger.performance import benchmark_returns, performance_report

__all__ = [
    "ACCOUNTING_CONTEXT",
    "CASH_EVENT_TYPES",
    "EFFECTIVE_STATUSES",
    "EXTERNAL_FLOW_TYPES",
    "CashEvent",
    "LedgerEvent",
    "LedgerState",
    "NavPoint",
    "NavSeries",
    "Order",
    "Position",
    "PositionSnapshot",
    "ReconciliationEntry",
    "SnapshotPosition",
    "SnapshotResult",
    "Valuation",
    "apply_cash_event",
    "apply_order",
    "apply_orders",
    "apply_snapshot",
    "benchmark_returns",
    "build_nav_series",
    "compute_metrics",
    "mark_to_market",
    "parse_timestamp",
    "performance_report",
    "replay",
    "to_decimal",
    "utc_date",
]
