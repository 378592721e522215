"""The IBKR broker: signals in, outcomes out, through one ib_async connection per
(worker, broker).

``submit`` (or ``close_position``) turns an accepted signal into an IB order, once: it waits
for the connection up to the signal's deadline, checks that IB does not already have an order
for the signal (``orderRef`` = the signal id), whichever clientId sent it, qualifies the
contract (cached), and places the order. Everything IB then reports about it (acknowledgement,
each execution with its commission, cancellation, rejection with IB's code) becomes a
``BrokerOutcome``, handed in order to the ``on_outcome`` sink and then emitted on
``outcomeEvent``.

After every (re)connect the adapter reconciles before sending anything: executions that
happened while it was away are delivered (each execId once), orders that completed meanwhile
are reported, and an order lost with the connection (unknown to IB) is sent again if its
signal is still within its maximum age, else rejected.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from eventkit import Event
from ib_async import Contract, Fill, Trade

from .connection import ConnectionOptions, ConnectionStatus, IbkrConnection
from .contracts import (
    OrderRefused,
    PreparedOrder,
    contract_for,
    contract_key,
    prepare_order,
    to_decimal,
)
from .orders import BrokerOrder, BrokerOutcome, OutcomeKind, OutcomeSink
from .reconcile import OrderState, Snapshot, fetch_snapshot, fills_to_deliver, is_ours, order_state

log = logging.getLogger("baas.worker.ibkr")

CANCEL_CONFIRMATION = 202
CANCEL_FAILURES = frozenset({10147, 10148})
DELIVERED_RETENTION = timedelta(days=8)
"""IB reports executions of the last 7 days at most; their execIds are remembered a day more."""
SIGNAL_RETENTION = timedelta(days=2)


class IbkrStopped(Exception):
    """The adapter stopped before the order was sent: nothing went to IB, and the signal can
    be submitted again (to this broker in a new process)."""


@dataclass(frozen=True, slots=True)
class IbkrOptions:
    connection: ConnectionOptions = ConnectionOptions()
    request_timeout: float = 10.0
    """Longest wait for IB to answer a request (orders, executions, contract details, positions)."""
    commission_wait: float = 5.0
    """How long a fill waits for its commission report before it is delivered without one."""
    rejection_grace: float = 0.5
    """How long an order IB cancelled (not at our request) waits for the error that may
    explain it, which makes it a rejection with IB's code."""


@dataclass(frozen=True, slots=True)
class _Qualified:
    contract: Contract
    min_tick: Decimal | None


@dataclass(slots=True)
class _Signal:
    """What the adapter knows of one signal's order."""

    signal_id: str
    order: BrokerOrder | None = None
    """None: an order of this clientId found at IB that this process was not asked to send."""
    quantity: Decimal | None = None
    limit_price: Decimal | None = None
    notes: tuple[str, ...] = ()
    generation: int = 0
    """The connection this process placed it on (0: not placed by this process)."""
    adopted: bool = False
    """Found already at IB when asked to send it (sent before a restart, or by another worker)."""
    perm_id: int = 0
    busy: bool = False
    submitted: bool = False
    final: OutcomeKind | None = None
    cancel_requested: bool = False
    grace: asyncio.TimerHandle | None = None
    touched: datetime = field(default_factory=lambda: datetime.now(UTC))


def _now() -> datetime:
    return datetime.now(UTC)


class IbkrBroker:
    """An IBKR broker of one tenant, as seen by one worker process."""

    def __init__(
        self,
        *,
        tenant_id: str,
        broker_id: str,
        host: str,
        port: int,
        client_id: int,
        on_outcome: OutcomeSink,
        account: str | None = None,
        options: IbkrOptions = IbkrOptions(),
        delivered_exec_ids: Iterable[str] = (),
        rng: random.Random | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.broker_id = broker_id
        self.options = options
        self.connection = IbkrConnection(
            host, port, client_id, account=account, options=options.connection, rng=rng
        )
        self.ib = self.connection.ib
        self.outcomeEvent = Event("outcomeEvent")
        """Each outcome, after ``on_outcome`` has taken it."""
        self._sink = on_outcome
        self._signals: dict[str, _Signal] = {}
        self._delivered: dict[str, datetime] = dict.fromkeys(delivered_exec_ids, _now())
        self._commission_timers: dict[str, asyncio.TimerHandle] = {}
        self._contracts: dict[tuple[Any, ...], _Qualified] = {}
        self._queue: asyncio.Queue[BrokerOutcome] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._changed = asyncio.Condition()
        self._stopping = False
        self._generation = 0
        self._tickets = itertools.count()
        self._snapshot: Snapshot | None = None
        self._snapshot_ticket = -1
        self._snapshot_lock = asyncio.Lock()
        self._positions_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reconciling: asyncio.Task[None] | None = None
        self._delivery: asyncio.Task[None] | None = None
        self.ib.orderStatusEvent += self._on_order_status
        self.ib.execDetailsEvent += self._on_exec_details
        self.ib.commissionReportEvent += self._on_commission_report
        self.ib.errorEvent += self._on_error
        self.connection.connectedEvent += self._on_connected
        self.connection.disconnectedEvent += self._on_disconnected

    @classmethod
    def for_broker(
        cls,
        config: Mapping[str, Any],
        *,
        tenant_id: str,
        worker_index: int,
        on_outcome: OutcomeSink,
        options: IbkrOptions = IbkrOptions(),
        delivered_exec_ids: Iterable[str] = (),
    ) -> IbkrBroker:
        """From a broker's configuration (``BrokerConfigured`` data): clientId = the broker's
        ``ClientId`` + the worker's index, so every worker has its own connection."""
        return cls(
            tenant_id=tenant_id,
            broker_id=config["BrokerId"],
            host=config["Host"],
            port=int(config["Port"]),
            client_id=int(config.get("ClientId") or 0) + worker_index,
            account=config.get("Account") or None,
            on_outcome=on_outcome,
            options=options,
            delivered_exec_ids=delivered_exec_ids,
        )

    # lifecycle

    async def start(self) -> None:
        """Start connecting and delivering outcomes (returns at once; see ``wait_ready``)."""
        self._stopping = False
        if self._delivery is None or self._delivery.done():
            self._delivery = asyncio.create_task(self._deliver_outcomes(), name="ibkr-outcomes")
        self.connection.start()

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Disconnect, after handing the outcomes already known to the sink. A ``submit``
        still waiting for the connection raises ``IbkrStopped``."""
        self._stopping = True
        await self._notify()
        tasks = [t for t in (*self._tasks, self._reconciling) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for handle in self._commission_timers.values():
            handle.cancel()
        self._commission_timers.clear()
        for sig in self._signals.values():
            if sig.grace is not None:
                sig.grace.cancel()
                sig.grace = None
        with contextlib.suppress(TimeoutError):
            await self.drain(drain_timeout)
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
        await self.connection.stop()

    async def __aenter__(self) -> IbkrBroker:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def wait_ready(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Whether the adapter is connected and reconciled, waiting at most ``timeout`` s."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self.ready

    async def drain(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every outcome known so far has been handed to the sink."""
        await asyncio.wait_for(self._queue.join(), timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self.connection.is_connected

    def status(self) -> ConnectionStatus:
        return self.connection.status()

    @property
    def delivered_exec_ids(self) -> frozenset[str]:
        return frozenset(self._delivered)

    def net_liquidation(self) -> Decimal | None:
        """The account's NetLiquidation in its base currency (for risk sizing), if known."""
        account = self.connection.trading_account() or ""
        for value in self.ib.accountValues(account):
            if value.tag == "NetLiquidation" and value.currency not in ("", "BASE"):
                with contextlib.suppress(ArithmeticError, ValueError):
                    return Decimal(value.value)
        return None

    # orders

    async def submit(self, order: BrokerOrder) -> None:
        """Send the signal's order to IB, once. Returns when it is placed, found already at
        IB, or rejected (outcomes go to the sink). A second call for the same signal, in this
        process or (after a crash) in a new one, sends nothing."""
        await self._execute(order, close=order.side in ("close", "target"))

    async def close_position(self, order: BrokerOrder) -> None:
        """Flatten the position IB reports in the order's instrument: sell a long, buy back a
        short, for its size (``order.side`` and ``order.quantity`` are ignored)."""
        await self._execute(order, close=True)

    async def cancel(self, signal_id: str) -> bool:
        """Ask IB to cancel the signal's working order. True if a cancel was sent (or the order
        was not sent yet and now will not be); the ``cancelled`` outcome follows."""
        sig = self._signals.get(signal_id)
        if sig is not None and sig.final:
            return False
        if sig is not None and sig.busy and not sig.generation:
            sig.cancel_requested = True
            await self._notify()
            return True
        if not self.connection.is_connected:
            return False
        my_client = self.connection.client_id
        for trade in self.ib.trades():
            o = trade.order
            if o.orderRef == signal_id and o.clientId == my_client and not trade.isDone():
                self._signal_for(signal_id).cancel_requested = True
                self.ib.cancelOrder(o)
                return True
        return False

    async def reconcile_executions(self) -> int:
        """Deliver executions IB has and the sink has not had (each execId once), and orders
        found completed; for a periodic job. Returns how many executions were delivered."""
        if not self.ready:
            return 0
        before = len(self._delivered)
        snapshot = await self._fresh_snapshot()
        self._offer_fills(snapshot)
        for sig in list(self._signals.values()):
            if self._followed(sig) and not sig.busy:
                state = order_state(snapshot, sig.signal_id)
                if state.exists:
                    self._apply_state(sig, state)
        self._prune()
        return len(self._delivered) - before

    # sending

    async def _execute(self, order: BrokerOrder, *, close: bool) -> None:
        sig = self._signals.get(order.signal_id)
        if sig is not None and (sig.order is not None or sig.busy):
            log.info("ibkr signal already handled", extra=self._extra(order.signal_id))
            return
        sig = sig or self._signals.setdefault(order.signal_id, _Signal(order.signal_id))
        sig.order, sig.busy, sig.touched = order, True, _now()
        try:
            await self._send(sig, close=close)
        except IbkrStopped:
            raise
        except Exception as exc:
            log.exception("ibkr submit failed", extra=self._extra(sig.signal_id))
            if not sig.generation and not sig.adopted:
                self._final(sig, "rejected", reason=f"internal error before sending: {exc!r}")
        finally:
            sig.busy = False

    async def _send(self, sig: _Signal, *, close: bool, resend: bool = False) -> None:
        order = sig.order
        assert order is not None
        try:
            contract = contract_for(
                order.instrument_type, order.symbol, order.currency, order.option
            )
            if not close:
                prepare_order(order, contract)  # refuse what can never be sent, at once
        except OrderRefused as refused:
            self._final(sig, "rejected", code=refused.code, reason=refused.reason)
            return
        while True:
            if not await self._wait_ready(sig, order.deadline):
                self._final(sig, "rejected", reason=self._unsendable(order.deadline, resend))
                return
            if sig.cancel_requested or sig.final:
                break
            try:
                state = order_state(await self._fresh_snapshot(), sig.signal_id)
                if state.exists:
                    log.info("ibkr order already at IB", extra=self._extra(sig.signal_id))
                    sig.adopted = True
                    self._apply_state(sig, state)
                    return
                if sig.cancel_requested or sig.final:
                    break
                qualified = await self._qualify(contract)
                to_send = await self._closing(order, qualified) if close else order
                prepared = prepare_order(
                    to_send,
                    qualified.contract,
                    min_tick=qualified.min_tick,
                    account=self.connection.trading_account() or "",
                )
            except OrderRefused as refused:
                self._final(sig, "rejected", code=refused.code, reason=refused.reason)
                return
            except (ConnectionError, TimeoutError) as exc:
                log.warning(
                    "ibkr request failed before sending; retrying",
                    extra={**self._extra(sig.signal_id), "error": repr(exc)},
                )
                await asyncio.sleep(0.05)
                continue
            if sig.cancel_requested or sig.final:
                break
            if _now() >= order.deadline:
                self._final(sig, "rejected", reason=self._unsendable(order.deadline, resend))
                return
            if self.ready:
                sig.order = to_send
                self._place(sig, qualified.contract, prepared)
                return
        if not sig.final:
            self._final(sig, "cancelled", reason="cancelled before it was sent to IB")

    def _place(self, sig: _Signal, contract: Contract, prepared: PreparedOrder) -> None:
        trade = self.ib.placeOrder(contract, prepared.order)
        sig.generation = self._generation
        sig.quantity, sig.limit_price, sig.notes = (
            prepared.quantity,
            prepared.limit_price,
            prepared.notes,
        )
        log.info(
            "ibkr order placed",
            extra={
                **self._extra(sig.signal_id),
                "order_id": trade.order.orderId,
                "action": prepared.order.action,
                "quantity": str(prepared.quantity),
                "cash_quantity": str(prepared.cash_quantity),
                "order_type": prepared.order.orderType,
                "symbol": contract.localSymbol or contract.symbol,
            },
        )

    async def _wait_ready(self, sig: _Signal, deadline: datetime) -> bool:
        """Wait until orders can be sent (or the signal is cancelled): False at the deadline."""

        def settled() -> bool:
            return self._stopping or sig.cancel_requested or self.ready

        while not settled():
            remaining = (deadline - _now()).total_seconds()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                async with self._changed:
                    await asyncio.wait_for(self._changed.wait_for(settled), remaining)
        if self._stopping:
            raise IbkrStopped(f"the IBKR broker stopped before {sig.signal_id} was sent")
        return sig.cancel_requested or _now() < deadline

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _unsendable(self, deadline: datetime, resend: bool) -> str:
        status = self.connection.status()
        when = deadline.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if resend:
            text = (
                "the order did not reach IB before the connection dropped, and the signal's "
                f"maximum age ran out at {when}: not sent again"
            )
        elif status.ready:
            return f"stale: the signal's maximum age ran out at {when} before the order was sent"
        else:
            text = (
                f"not connected to IB Gateway at {status.host}:{status.port} "
                f"(clientId {status.client_id}): the signal's maximum age ran out at {when} "
                "while waiting for the connection"
            )
        if not status.ready and status.last_error:
            text += f"; last error: {status.last_error}"
        return text

    async def _qualify(self, contract: Contract) -> _Qualified:
        """The contract as IB knows it (conId and all), asked once per instrument."""
        key = contract_key(contract)
        cached = self._contracts.get(key)
        if cached is not None:
            return cached
        errors: list[tuple[int, str]] = []

        def on_error(_req_id: int, code: int, message: str, about: object) -> None:
            if about is contract:
                errors.append((code, message))

        self.ib.errorEvent += on_error
        try:
            details = await asyncio.wait_for(
                self.ib.reqContractDetailsAsync(contract), self.options.request_timeout
            )
        finally:
            self.ib.errorEvent -= on_error
        if not self.connection.is_connected:
            raise ConnectionError("disconnected while qualifying the contract")
        matches = [d for d in details if d.contract and d.contract.secType == contract.secType]
        if not matches:
            code, message = errors[-1] if errors else (200, "No security definition found")
            raise OrderRefused(f"{message} ({_describe(contract)})", code)
        if len(matches) > 1:
            names = ", ".join(_describe(d.contract) for d in matches[:5] if d.contract)
            raise OrderRefused(f"{_describe(contract)} is ambiguous at IB: {names}")
        found = matches[0]
        assert found.contract is not None
        qualified = Contract.recreate(found.contract)
        if contract.exchange == "SMART":
            qualified.exchange = "SMART"
        result = _Qualified(qualified, to_decimal(found.minTick) or None)
        self._contracts[key] = result
        return result

    async def _closing(self, order: BrokerOrder, qualified: _Qualified) -> BrokerOrder:
        account = self.connection.trading_account()
        async with self._positions_lock:
            positions = await asyncio.wait_for(
                self.ib.reqPositionsAsync(), self.options.request_timeout
            )
        held = sum(
            (
                to_decimal(p.position) or Decimal(0)
                for p in positions
                if p.contract.conId == qualified.contract.conId
                and (not account or p.account == account)
            ),
            Decimal(0),
        )
        where = f" in account {account}" if account else ""
        what = _describe(qualified.contract)
        if order.side == "target":
            difference = order.quantity - held
            if not difference:
                raise OrderRefused(
                    f"the position in {what}{where} is already {held}: nothing to trade"
                )
            side = "buy" if difference > 0 else "sell"
            return dataclasses.replace(order, side=side, quantity=abs(difference))
        if not held:
            raise OrderRefused(f"nothing to close: IB reports no position in {what}{where}")
        return dataclasses.replace(order, side="sell" if held > 0 else "buy", quantity=abs(held))

    async def _fresh_snapshot(self) -> Snapshot:
        """A snapshot taken after this call began; concurrent callers share one request."""
        ticket = next(self._tickets)
        async with self._snapshot_lock:
            if self._snapshot is not None and self._snapshot_ticket > ticket:
                return self._snapshot
            started = next(self._tickets)
            snapshot = await fetch_snapshot(self.ib, self.options.request_timeout)
            self._snapshot, self._snapshot_ticket = snapshot, started
            return snapshot

    # reconciliation

    def _on_connected(self) -> None:
        self._generation += 1
        if self._reconciling is not None:
            self._reconciling.cancel()
        self._reconciling = asyncio.create_task(
            self._after_connect(self._generation), name="ibkr-reconcile"
        )

    def _on_disconnected(self) -> None:
        self._ready.clear()
        for handle in self._commission_timers.values():
            handle.cancel()  # the fills come back with the executions after the reconnect
        self._commission_timers.clear()
        if self._reconciling is not None and not self._reconciling.done():
            self._reconciling.cancel()

    async def _after_connect(self, generation: int) -> None:
        snapshot = None
        for attempt in range(3):
            try:
                snapshot = await self._fresh_snapshot()
                break
            except ConnectionError:
                return  # lost again: the next connect reconciles
            except TimeoutError:
                log.warning("ibkr reconciliation timed out", extra={"attempt": attempt + 1})
        if snapshot is None:
            self.connection.drop("IB did not answer the reconciliation requests")
            return
        if generation != self._generation or not self.connection.is_connected:
            return
        self._offer_fills(snapshot)
        for sig in list(self._signals.values()):
            if not self._followed(sig) or sig.busy or sig.generation >= generation:
                continue
            state = order_state(snapshot, sig.signal_id)
            if state.exists:
                self._apply_state(sig, state)
            elif sig.generation:
                # placed by this process on an earlier connection, and IB has never heard of it
                self._spawn(self._resend(sig))
        self._ready.set()
        self.connection.set_ready(True)
        await self._notify()
        log.info("ibkr reconciled", extra={"client_id": self.connection.client_id})

    async def _resend(self, sig: _Signal) -> None:
        log.warning("ibkr order lost with the connection", extra=self._extra(sig.signal_id))
        sig.generation, sig.busy = 0, True
        try:
            await self._send(sig, close=False, resend=True)
        finally:
            sig.busy = False

    def _apply_state(self, sig: _Signal, state: OrderState) -> None:
        """Report what IB has for a signal (found after a reconnect, or by a repeated submit)."""
        view = state.order
        if view is not None:
            sig.perm_id = sig.perm_id or view.perm_id
            if sig.quantity is None and view.total_quantity:
                sig.quantity = view.total_quantity
            if sig.limit_price is None:
                sig.limit_price = view.limit_price
        filled = bool(state.fills) or bool(view and view.filled)
        if state.state in ("working", "filled") or filled:
            self._ensure_submitted(sig)
        for fill in fills_to_deliver(
            state.fills,
            self.connection.client_id,
            self._signals.__contains__,
            self._delivered.__contains__,
        ):
            self._offer_fill(fill)
        if state.state == "cancelled":
            status = view.status if view else "Cancelled"
            self._final(sig, "cancelled", reason=f"found {status} at IB")
        elif state.state == "inactive":
            self._final(sig, "rejected", reason="found Inactive at IB")

    @staticmethod
    def _followed(sig: _Signal) -> bool:
        """A signal whose order is at IB (placed or adopted here) and not over yet."""
        return sig.order is not None and not sig.final and bool(sig.generation or sig.adopted)

    def _offer_fills(self, snapshot: Snapshot) -> None:
        for fill in fills_to_deliver(
            snapshot.fills,
            self.connection.client_id,
            self._signals.__contains__,
            self._delivered.__contains__,
        ):
            self._offer_fill(fill)

    def _prune(self) -> None:
        now = _now()
        for exec_id, at in list(self._delivered.items()):
            if now - at > DELIVERED_RETENTION:
                del self._delivered[exec_id]
        for signal_id, sig in list(self._signals.items()):
            if sig.final and not sig.busy and now - sig.touched > SIGNAL_RETENTION:
                del self._signals[signal_id]

    # ib_async events

    def _ours(self, order_ref: str, client_id: int) -> bool:
        return is_ours(order_ref, client_id, self.connection.client_id, self._signals.__contains__)

    def _checking(self, order_ref: str) -> bool:
        """A submit is checking what IB has for this signal: it reports what it finds."""
        sig = self._signals.get(order_ref)
        return sig is not None and sig.busy and not sig.generation and not sig.adopted

    def _signal_for(self, signal_id: str) -> _Signal:
        sig = self._signals.get(signal_id)
        if sig is None:
            sig = self._signals[signal_id] = _Signal(signal_id)
        return sig

    def _on_order_status(self, trade: Trade) -> None:
        order, status = trade.order, trade.orderStatus
        if not self._ours(order.orderRef, order.clientId or status.clientId):
            return
        if self._checking(order.orderRef):
            return
        sig = self._signal_for(order.orderRef)
        sig.perm_id = status.permId or order.permId or sig.perm_id
        state = status.status
        if state in ("PreSubmitted", "Submitted", "Filled"):
            self._ensure_submitted(sig)
        elif state in ("Cancelled", "ApiCancelled"):
            code = trade.log[-1].errorCode if trade.log else 0
            if code and code != CANCEL_CONFIRMATION:
                return  # an IB error ended it: errorEvent follows with the message
            if sig.cancel_requested:
                self._final(sig, "cancelled", reason="cancelled on request")
            else:
                self._after_grace(sig, "cancelled", "cancelled at IB")
        elif state == "Inactive":
            self._after_grace(sig, "rejected", "IB made the order Inactive")

    def _on_error(self, req_id: int, code: int, message: str, _contract: object) -> None:
        if req_id < 0:
            return
        trade = self.ib.wrapper.trades.get((self.ib.wrapper.clientId, req_id))
        if trade is None or not self._ours(trade.order.orderRef, trade.order.clientId):
            return
        sig = self._signal_for(trade.order.orderRef)
        if code == CANCEL_CONFIRMATION or code in CANCEL_FAILURES:
            return
        ended_it = trade.isDone() and (
            (trade.log and trade.log[-1].errorCode == code) or sig.grace is not None
        )
        if not ended_it:
            # a warning (e.g. 399, an odd lot or an order held until the market opens)
            log.info(
                "ibkr warning",
                extra={**self._extra(sig.signal_id), "code": code, "ib_message": message},
            )
            return
        filled = trade.orderStatus.filled or sum(f.execution.shares for f in trade.fills)
        self._final(sig, "cancelled" if filled else "rejected", code=code, reason=message)

    def _on_exec_details(self, _trade: Trade, fill: Fill) -> None:
        self._offer_fill(fill)

    def _on_commission_report(self, _trade: Trade, fill: Fill, _report: object) -> None:
        self._offer_fill(fill)

    # outcomes

    def _offer_fill(self, fill: Fill) -> None:
        """Deliver an execution once its commission is known (or after ``commission_wait``)."""
        e = fill.execution
        if e.execId in self._delivered or not self._ours(e.orderRef, e.clientId):
            return
        if self._checking(e.orderRef):
            return
        if fill.commissionReport.execId == e.execId:
            handle = self._commission_timers.pop(e.execId, None)
            if handle is not None:
                handle.cancel()
            self._deliver_fill(fill)
        elif e.execId not in self._commission_timers:
            self._commission_timers[e.execId] = asyncio.get_running_loop().call_later(
                self.options.commission_wait, self._commission_overdue, fill
            )

    def _commission_overdue(self, fill: Fill) -> None:
        exec_id = fill.execution.execId
        self._commission_timers.pop(exec_id, None)
        if exec_id not in self._delivered:
            self._deliver_fill(self.ib.wrapper.fills.get(exec_id, fill))

    def _deliver_fill(self, fill: Fill) -> None:
        e, report = fill.execution, fill.commissionReport
        self._delivered[e.execId] = _now()
        sig = self._signal_for(e.orderRef)
        sig.perm_id = sig.perm_id or e.permId
        self._ensure_submitted(sig)
        has_report = report.execId == e.execId
        self._emit(
            sig,
            "filled",
            time=e.time or _now(),
            fill_id=e.execId,
            quantity=to_decimal(e.shares),
            price=to_decimal(e.price),
            commission=to_decimal(report.commission) if has_report else None,
            commission_currency=report.currency if has_report else None,
            cumulative_quantity=to_decimal(e.cumQty),
            broker_order_id=str(e.permId) if e.permId else None,
            side="buy" if e.side == "BOT" else "sell",
        )

    def _ensure_submitted(self, sig: _Signal) -> None:
        if sig.submitted or sig.order is None or sig.final:
            return
        sig.submitted = True
        self._emit(
            sig,
            "submitted",
            quantity=sig.quantity,
            price=sig.limit_price,
            reason="; ".join(sig.notes) or None,
        )

    def _after_grace(self, sig: _Signal, kind: OutcomeKind, reason: str) -> None:
        if sig.final or sig.grace is not None:
            return
        sig.grace = asyncio.get_running_loop().call_later(
            self.options.rejection_grace, functools.partial(self._final, sig, kind, reason=reason)
        )

    def _final(
        self, sig: _Signal, kind: OutcomeKind, *, code: int | None = None, reason: str | None = None
    ) -> None:
        if sig.grace is not None:
            sig.grace.cancel()
            sig.grace = None
        if sig.final:
            return
        sig.final, sig.touched = kind, _now()
        log.info(
            f"ibkr order {kind}",
            extra={**self._extra(sig.signal_id), "code": code, "reason": reason},
        )
        self._emit(sig, kind, code=code, reason=reason)

    def _emit(self, sig: _Signal, kind: OutcomeKind, **fields: Any) -> None:
        fields.setdefault("time", _now())
        fields.setdefault("broker_order_id", str(sig.perm_id) if sig.perm_id else None)
        fields.setdefault("order_quantity", sig.quantity)
        self._queue.put_nowait(
            BrokerOutcome(
                kind=kind,
                signal_id=sig.signal_id,
                tenant_id=self.tenant_id,
                broker_id=self.broker_id,
                **fields,
            )
        )

    async def _deliver_outcomes(self) -> None:
        while True:
            outcome = await self._queue.get()
            try:
                await self._sink(outcome)
            except Exception:
                log.exception("ibkr outcome not taken", extra=self._extra(outcome.signal_id))
                if outcome.kind == "filled" and outcome.fill_id:
                    self._delivered.pop(outcome.fill_id, None)  # the next reconcile retries
            else:
                self.outcomeEvent.emit(outcome)
            finally:
                self._queue.task_done()

    # helpers

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _extra(self, signal_id: str) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "broker_id": self.broker_id,
            "client_id": self.connection.client_id,
            "signal_id": signal_id,
        }


def _describe(contract: Contract) -> str:
    parts = [contract.secType, contract.localSymbol or contract.symbol]
    if contract.secType == "OPT" and not contract.localSymbol:
        parts += [contract.lastTradeDateOrContractMonth, f"{contract.strike:g}", contract.right]
    parts += [contract.exchange, contract.currency]
    return " ".join(p for p in parts if p)
