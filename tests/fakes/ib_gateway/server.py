"""The fake gateway: an asyncio TCP server on loopback speaking the TWS API to real clients."""

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

from . import messages as msg
from .broker import Broker, Ledger
from .catalog import ContractSpec
from .protocol import (
    API_SIGN,
    SERVER_VERSION,
    Field,
    In,
    Out,
    decode,
    encode,
    ib_time,
    parse_version_range,
    read_frame,
)

T = TypeVar("T")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class Received:
    """A message a client sent, from startApi on."""

    client_id: int
    fields: tuple[str, ...]

    @property
    def msg_id(self) -> int:
        return int(self.fields[0])


class Session:
    """A connection that logged in with a clientId."""

    def __init__(
        self, client_id: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.client_id = client_id
        self._reader = reader
        self._writer = writer
        self.closed = False

    async def read(self) -> list[str]:
        return decode(await read_frame(self._reader))

    def send(self, *fields: Field) -> None:
        if not self.closed:
            self._writer.write(encode(*fields))

    def close(self) -> None:
        """Close after flushing what was sent, like a gateway dropping the socket."""
        if not self.closed:
            self.closed = True
            self._writer.close()


Handler = Callable[[Session, list[str]], None]


class FakeIBGateway(Broker):
    """A scriptable IB Gateway for tests: ``async with FakeIBGateway() as gw: ... gw.port``."""

    def __init__(
        self,
        *,
        accounts: Sequence[str] = ("DU1234567",),
        next_valid_id: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the fake gateway listens on loopback only, not {host!r}")
        super().__init__(accounts, next_valid_id)
        self.host = host
        self.port = port
        self.handshakes: list[str] = []
        """Version ranges clients offered, e.g. ``v157..178``."""
        self.received: list[Received] = []
        self._sessions: dict[int, Session] = {}
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Condition()
        self._failures: list[Exception] = []
        self._unanswered: set[int] = set()
        self._handlers: dict[int, Handler] = {
            In.PLACE_ORDER: lambda s, f: self._place_order(s.client_id, f),
            In.CANCEL_ORDER: lambda s, f: self._cancel_order(s.client_id, int(f[2])),
            In.REQ_OPEN_ORDERS: lambda s, _: self._send_open_orders(s, s.client_id),
            In.REQ_ALL_OPEN_ORDERS: lambda s, _: self._send_open_orders(s, None),
            In.REQ_ACCOUNT_UPDATES: self._req_account_updates,
            In.REQ_EXECUTIONS: self._req_executions,
            In.REQ_CONTRACT_DETAILS: self._req_contract_details,
            In.REQ_CURRENT_TIME: lambda s, _: s.send(Out.CURRENT_TIME, 1, int(time.time())),
            In.REQ_POSITIONS: self._req_positions,
            In.REQ_ACCOUNT_SUMMARY: self._req_account_summary,
            In.REQ_ACCOUNT_UPDATES_MULTI: self._req_account_updates_multi,
            In.REQ_COMPLETED_ORDERS: self._req_completed_orders,
        }

    # lifecycle

    async def start(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Close everything; raise what went wrong inside the fake, if anything did."""
        await self._shut_down()
        if self._failures:
            raise ExceptionGroup("the fake IB gateway failed", self._failures)

    async def restart(self, *, next_valid_id: int | None = None, keep_orders: bool = True) -> None:
        """Drop every client and listen again on the same port, like a gateway restart."""
        await self._shut_down()
        if not keep_orders:
            self.ledger = Ledger()
        if next_valid_id is not None:
            self.next_valid_id = next_valid_id
        await self.start()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def stop_answering(self, message_id: int) -> None:
        """Receive (and record) this request from now on but never answer it, like a hung
        gateway; e.g. ``stop_answering(In.REQ_CURRENT_TIME)`` leaves heartbeats unanswered."""
        self._unanswered.add(int(message_id))

    def deliver_notice(self, code: int, message: str, *, order_ref: str | None = None) -> None:
        """Send an error message that is IB's notice or warning (e.g. 399 for an odd lot):
        about the order with this orderRef (to the client that placed it, with its orderId
        as reqId), else to every connected client with reqId -1."""
        if order_ref is None:
            for client_id in self.client_ids:
                self._deliver(client_id, msg.error(-1, code, message))
            return
        order = self.order(order_ref)
        self._deliver(order.placed.client_id, msg.error(order.placed.order_id, code, message))

    @property
    def client_ids(self) -> set[int]:
        """ClientIds connected right now."""
        return set(self._sessions)

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 (a test helper must never hang)
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked after every message and
        connection change) and return its value."""
        async with asyncio.timeout(timeout), self._changed:
            return await self._changed.wait_for(predicate)

    # connections

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        session = None
        try:
            session = await self._log_in(reader, writer)
            while session and not session.closed:
                await self._dispatch(session, await session.read())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        except Exception as exc:
            self._failures.append(exc)
        finally:
            if session:
                self._close(session)
            writer.close()
            self._writers.discard(writer)
            self._tasks.discard(task)
            await self._notify()

    async def _log_in(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Session | None:
        if await reader.readexactly(len(API_SIGN)) != API_SIGN:
            return None
        # the version range is the one frame without a trailing NUL
        offered = (await read_frame(reader)).decode()
        self.handshakes.append(offered)
        if SERVER_VERSION not in parse_version_range(offered):
            return None
        writer.write(encode(SERVER_VERSION, ib_time()))
        fields = decode(await read_frame(reader))
        if fields[0] != str(In.START_API.value):
            raise ValueError(f"expected startApi, got {fields}")
        client_id = int(fields[2])
        self.received.append(Received(client_id, tuple(fields)))
        if client_id in self._sessions:
            writer.write(encode(*msg.error(-1, 326, msg.CLIENT_ID_IN_USE)))
            return None
        session = self._sessions[client_id] = Session(client_id, reader, writer)
        session.send(Out.MANAGED_ACCTS, 1, ",".join(self.accounts))
        session.send(Out.NEXT_VALID_ID, 1, self.next_valid_id)
        await self._notify()
        return session

    async def _dispatch(self, session: Session, fields: list[str]) -> None:
        self.received.append(Received(session.client_id, tuple(fields)))
        msg_id = int(fields[0])
        handler = None if msg_id in self._unanswered else self._handlers.get(msg_id)
        if handler:
            handler(session, fields)
        await self._notify()

    def _close(self, session: Session) -> None:
        if self._sessions.get(session.client_id) is session:
            del self._sessions[session.client_id]
        session.close()

    async def _shut_down(self) -> None:
        if self._server:
            self._server.close()
        for session in list(self._sessions.values()):
            self._close(session)
        for writer in self._writers:
            writer.close()
        if self._tasks:
            await asyncio.wait(self._tasks)
        if self._server:
            await self._server.wait_closed()
            self._server = None

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _deliver(self, client_id: int, fields: list[Field]) -> None:
        session = self._sessions.get(client_id)
        if session:
            session.send(*fields)

    def _hang_up(self, client_id: int) -> None:
        session = self._sessions.get(client_id)
        if session:
            self._close(session)

    # requests

    def _send_open_orders(self, session: Session, client_id: int | None) -> None:
        """reqOpenOrders (5): this client's working orders; reqAllOpenOrders (16): every
        client's. Each as openOrder then orderStatus (both carrying the placing client's
        clientId and orderId), then openOrderEnd."""
        for order in self._open_orders(client_id):
            session.send(*msg.open_order(order))
            session.send(*msg.order_status(order))
        session.send(Out.OPEN_ORDER_END, 1)

    def _req_completed_orders(self, session: Session, _: list[str]) -> None:
        for order in self._completed_orders():
            session.send(*msg.completed_order(order))
        session.send(Out.COMPLETED_ORDERS_END)

    def _req_executions(self, session: Session, fields: list[str]) -> None:
        req_id = int(fields[2])
        for execution in self._matching_executions(fields[3:10]):
            session.send(*msg.exec_details(req_id, execution))
            session.send(*msg.commission_report(execution))
        session.send(Out.EXECUTION_DATA_END, 1, req_id)

    def _req_contract_details(self, session: Session, fields: list[str]) -> None:
        req_id = int(fields[2])
        found = self.catalog.lookup(ContractSpec.from_fields(fields[3:15]))
        if not found:
            session.send(*msg.error(req_id, 200, msg.NO_SECURITY_DEFINITION))
            return
        for instrument in found:
            session.send(*msg.contract_details(req_id, instrument))
        session.send(Out.CONTRACT_DATA_END, 1, req_id)

    def _req_positions(self, session: Session, _: list[str]) -> None:
        for position in self.positions.values():
            session.send(*msg.position(position))
        session.send(Out.POSITION_END, 1)

    def _req_account_updates(self, session: Session, fields: list[str]) -> None:
        subscribe, account = fields[2] == "1", fields[3] or self.accounts[0]
        if not subscribe:
            return
        for (acct, tag, currency), value in self.account_values.items():
            if acct == account:
                session.send(Out.ACCT_VALUE, 2, tag, value, currency, acct)
        session.send(Out.ACCT_DOWNLOAD_END, 1, account)

    def _req_account_summary(self, session: Session, fields: list[str]) -> None:
        req_id, tags = int(fields[2]), set(fields[4].split(","))
        for (acct, tag, currency), value in self.account_values.items():
            if tag in tags:
                session.send(Out.ACCOUNT_SUMMARY, 1, req_id, acct, tag, value, currency)
        session.send(Out.ACCOUNT_SUMMARY_END, 1, req_id)

    def _req_account_updates_multi(self, session: Session, fields: list[str]) -> None:
        req_id, account, model_code = int(fields[2]), fields[3], fields[4]
        for (acct, tag, currency), value in self.account_values.items():
            if not account or acct == account:
                session.send(
                    Out.ACCOUNT_UPDATE_MULTI, 1, req_id, acct, model_code, tag, value, currency
                )
        session.send(Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id)
