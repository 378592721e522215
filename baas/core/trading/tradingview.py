"""TradingView webhooks: from an alert's message text to a SubmitSignal command.

TradingView POSTs the alert's message as the body (``text/plain``, or ``application/json`` when
the text happens to parse), sets no headers of ours and waits at most 3 s. So the message is read
the same way whatever its content type: a JSON object with a few known keys, or a single action
word. The alert configured beforehand (ConfigureIndicatorAlert / ConfigureStrategyAlert, as a
plain dict with ``Kind`` "indicator" or "strategy") fills in what the message does not carry.

A repeated alert (TradingView retries, or fires twice) yields the same signal id, so the log's
idempotency admits it once.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from baas.core.catalog import name_of
from baas.core.intake import parse_time
from baas.core.problems import FieldError, Problem, unprocessable
from baas.core.surrogates import lone_surrogates, printable
from baas.core.trading.commands import SUBMIT_SIGNAL

ACTIONS = ("buy", "sell", "close")
MARKET_POSITIONS = ("long", "short", "flat")
SOURCE = "tradingview"
SIGNAL_SCHEMA = f"{name_of(SUBMIT_SIGNAL)}/1.0"

# Accepted message keys (matched without regard to case), in order of precedence.
_ALIASES: dict[str, tuple[str, ...]] = {
    "ticker": ("ticker", "symbol"),
    "action": ("action", "side", "order_action"),
    "quantity": ("quantity", "qty", "contracts"),
    "contracts": ("contracts",),
    "price": ("price", "close"),
    "time": ("time", "timenow"),
    "position_size": ("position_size",),
    "market_position": ("market_position",),
    "order_id": ("order_id", "id"),
}
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
# The key right before a placeholder in text that is not JSON even with the placeholders quoted.
_KEY_BEFORE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*"?[^"{}:,]*$')
_EXAMPLE = '{"ticker": "{{ticker}}", "action": "buy", "price": {{close}}, "time": "{{timenow}}"}'


@dataclass(frozen=True)
class TradingViewMessage:
    """An alert message as read, before the alert's settings apply."""

    ticker: str | None = None
    action: str | None = None  # buy | sell | close, lowercase
    quantity: Decimal | None = None  # quantity, qty or contracts
    price: Decimal | None = None
    time: str | None = None  # the {{timenow}} text as sent
    contracts: Decimal | None = None
    position_size: Decimal | None = None  # signed: positive long, negative short
    market_position: str | None = None  # long | short | flat, lowercase
    order_id: str | None = None  # {{strategy.order.id}}
    fields: Mapping[str, Any] = field(default_factory=dict)  # the whole parsed message


@dataclass(frozen=True)
class WebhookSignal:
    """The SubmitSignal CloudEvent (the spec's dialect) and, in position mode, the target."""

    event: dict[str, Any]
    # Strategy alerts in Mode "position": the signed target position; the worker trades the
    # difference between it and the broker's position.
    target_position: Decimal | None = None


def parse_message(body: bytes) -> TradingViewMessage:
    """Read a webhook body, or raise Problem 400 (not a message) or 422 (bad values)."""
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise _not_a_message("The alert message is not UTF-8 text.") from None
    if not text.strip():
        raise _not_a_message("The alert message is empty.")
    try:
        document = _document(text)
    except RecursionError:
        raise _not_a_message("The alert message is nested too deeply to be read.") from None
    if isinstance(document, str):
        word = document.strip()
        if word.lower() in ACTIONS:
            return TradingViewMessage(action=word.lower(), fields={"action": word})
        raise _not_a_message("The alert message is neither a JSON object nor an action word.")
    if not isinstance(document, dict):
        raise _not_a_message("The alert message is JSON but not an object.")
    return _from_object(document)


def _document(text: str) -> Any:
    """The message as JSON, else as text; Problem 422 for placeholders TradingView did not
    replace, 400 for text that is not Unicode."""
    unrendered = _unrendered_placeholders(text)
    if unrendered:
        raise unprocessable(
            "TradingView did not replace the placeholders in the alert message: they arrived as "
            "literal {{...}} text. TradingView fills in the placeholders it knows when they are "
            "written in the Message box of the alert dialog (an alertcondition() message "
            "included); text a script builds (alert() calls, a strategy's alert_message) is sent "
            "as written, {{strategy.*}} placeholders work only in alerts on a strategy, and "
            "unknown placeholders stay as they are. Paste this alert's message template into the "
            "Message box of the TradingView alert.",
            unrendered,
        )
    try:
        document = json.loads(text, parse_constant=_json_constant)
    except ValueError:
        return text
    surrogates = lone_surrogates(document)
    if surrogates:
        raise Problem(400, "The alert message holds text that is not Unicode.", surrogates)
    return document


def to_signal(
    alert: Mapping[str, Any],
    message: TradingViewMessage,
    tenant_id: str,
    received_at: datetime,
) -> WebhookSignal:
    """Turn a message for ``alert`` into a SubmitSignal event, or raise Problem 422."""
    kind = alert.get("Kind")
    if kind not in ("indicator", "strategy"):
        raise ValueError(f"unknown alert kind: {kind!r}")
    alert_id = alert["AlertId"]
    errors: list[FieldError] = []

    target: Decimal | None = None
    quantity: Decimal | None = None
    if kind == "strategy" and (alert.get("Mode") or "orders") == "position":
        if message.market_position == "flat":
            target = Decimal(0)
        elif message.position_size is None:
            errors.append(
                FieldError(
                    "position_size",
                    "required: alert in position mode; send {{strategy.position_size}}",
                )
            )
        else:
            target = message.position_size
        action = None
        if target is not None:
            action = "buy" if target > 0 else "sell" if target < 0 else "close"
            quantity = abs(target) if target else Decimal(1)
    else:
        action = _action(alert, message, kind)
        if action is None:
            errors.append(FieldError("action", "required: buy, sell or close"))
        quantity = _quantity(alert, message, action)
        if quantity is None and action is not None:
            errors.append(
                FieldError(
                    "quantity",
                    "required: the message carries no quantity and the alert has no Quantity",
                )
            )

    symbol = _symbol(alert, message.ticker)
    if symbol is None:
        errors.append(FieldError("ticker", "required: the alert has no Symbol; send {{ticker}}"))
    order_type = alert.get("OrderType") or "MKT"
    if order_type == "LMT" and not (message.price and message.price > 0):
        errors.append(FieldError("price", "required and greater than 0 for a LMT alert"))
    if errors:
        raise unprocessable(
            f"The TradingView message cannot become a signal for alert {alert_id}.", errors
        )
    assert action is not None and quantity is not None and symbol is not None

    moment = parse_time(message.time) if message.time else None
    date = _rfc3339(moment if moment is not None else received_at)
    signal_id = _signal_id(alert_id, kind, message, action, received_at)
    data: dict[str, Any] = {
        "CorrelationId": alert_id,
        "TenantId": tenant_id,
        "Id": signal_id,
    }
    if alert.get("BrokerId"):
        data["BrokerId"] = alert["BrokerId"]
    data["Symbol"] = symbol
    data["Date"] = date
    data["Data"] = action
    data["Quantity"] = _json_number(quantity)
    if message.price is not None:
        data["Price"] = _json_number(message.price)
    data["OrderType"] = order_type
    data["InstrumentType"] = alert.get("InstrumentType") or "STK"
    # The alert's own RiskPercentage / QuantityMultiplier apply in the worker.
    data["AccountRiskPercentage"] = 0
    data["AccountQuantityMultiplier"] = 0
    event = {
        "id": signal_id,
        "type": SUBMIT_SIGNAL,
        "source": SOURCE,
        "dataSchema": SIGNAL_SCHEMA,
        "dataContentType": "application/json",
        "time": date,
        "data": data,
    }
    return WebhookSignal(event, target)


def indicator_message_template(alert: Mapping[str, Any]) -> str:
    """The message to paste into the TradingView alert of an indicator alert.

    With Action from_message the template says "buy" and a note asks the user to set the action
    of each TradingView alert; a fixed Action is written in (the alert's Action wins anyway).
    Quantity appears only when the alert has none, as 1 for the user to change.
    """
    action = alert.get("Action") or "from_message"
    pairs = [("ticker", '"{{ticker}}"'), ("action", json.dumps(action, ensure_ascii=False))]
    if action == "from_message":
        pairs[1] = ("action", '"buy"')
    if not alert.get("Quantity"):
        pairs.append(("quantity", "1"))
    pairs += [("price", "{{close}}"), ("time", '"{{timenow}}"')]
    if action == "from_message":
        pairs.append(("note", '"set action to buy, sell or close for this TradingView alert"'))
    return _object(pairs)


def strategy_message_template(alert: Mapping[str, Any]) -> str:
    """The message to paste into the TradingView alert of a strategy (either Mode)."""
    return _object(
        [
            ("ticker", '"{{ticker}}"'),
            ("action", '"{{strategy.order.action}}"'),
            ("contracts", "{{strategy.order.contracts}}"),
            ("position_size", "{{strategy.position_size}}"),
            ("market_position", '"{{strategy.market_position}}"'),
            ("price", "{{strategy.order.price}}"),
            ("time", '"{{timenow}}"'),
            ("order_id", '"{{strategy.order.id}}"'),
        ]
    )


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f'"{key}": {value}' for key, value in pairs) + "}"


def _not_a_message(reason: str) -> Problem:
    return Problem(
        400,
        f"{reason} Send a single action word (buy, sell or close), or a JSON object such as "
        f"{_EXAMPLE} (the alert's message template has the exact text to paste).",
        [FieldError("", "expected a JSON object or one of buy, sell, close")],
    )


def _json_constant(name: str) -> None:
    # Pine renders na as NaN, bare in the message: read it as "no value". Infinity is not JSON.
    if name == "NaN":
        return None
    raise ValueError(name)


def _unrendered_placeholders(text: str) -> list[FieldError]:
    """One error per placeholder left in the text, at the path of the value holding it."""
    found = list(_PLACEHOLDER.finditer(text))
    if not found:
        return []
    # Quote the bare placeholders ("price": {{close}}) so the text parses and shows their keys.
    inside = _inside_strings(text)
    pieces = []
    last = 0
    for match in found:
        if not inside[match.start()]:
            pieces += [text[last : match.start()], json.dumps(match.group())]
            last = match.end()
    pieces.append(text[last:])
    try:
        document = json.loads("".join(pieces), parse_constant=lambda _: None)
    except ValueError:
        errors = []
        for match in found:
            key = _KEY_BEFORE.search(text, max(0, match.start() - 200), match.start())
            errors.append(_placeholder_error(_key_text(key.group(1)) if key else "", match.group()))
        return errors
    return list(_placeholders_in(document, ""))


def _key_text(quoted: str) -> str:
    """A key as written between its quotes, its escapes read when they are valid JSON."""
    try:
        return json.loads(f'"{quoted}"')
    except ValueError:
        return quoted


def _inside_strings(text: str) -> list[bool]:
    """For each character, whether it lies inside a JSON string literal."""
    inside = [False] * len(text)
    in_string = escaped = False
    for i, char in enumerate(text):
        inside[i] = in_string
        if escaped:
            escaped = False
        elif in_string and char == "\\":
            escaped = True
        elif char == '"':
            in_string = not in_string
    return inside


def _placeholders_in(value: Any, path: str) -> Iterator[FieldError]:
    if isinstance(value, str):
        for match in _PLACEHOLDER.finditer(value):
            yield _placeholder_error(path, match.group())
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else key
            yield from _placeholders_in(key, inner)
            yield from _placeholders_in(item, inner)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _placeholders_in(item, f"{path}[{i}]")


def _placeholder_error(path: str, placeholder: str) -> FieldError:
    return FieldError(printable(path), f"{printable(placeholder)} was not replaced by TradingView")


def _from_object(document: dict[str, Any]) -> TradingViewMessage:
    spelled: dict[str, str] = {}
    for key in document:
        spelled.setdefault(key.lower(), key)
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for name, aliases in _ALIASES.items():
        key = next((spelled[a] for a in aliases if a in spelled), None)
        if key is None or document[key] is None:
            continue
        raw = document[key]
        try:
            if name in ("quantity", "contracts", "price", "position_size"):
                values[name] = _decimal(raw, signed=name == "position_size")
            else:
                values[name] = _text(raw)
        except ValueError as exc:
            errors.append(FieldError(key, str(exc)))
            continue
        if name == "action" and values[name] is not None:
            values[name] = values[name].lower()
            if values[name] not in ACTIONS:
                errors.append(FieldError(key, "must be buy, sell or close"))
        if name == "market_position" and values[name] is not None:
            values[name] = values[name].lower()
            if values[name] not in MARKET_POSITIONS:
                errors.append(FieldError(key, "must be long, short or flat"))
    if errors:
        raise unprocessable("The alert message has invalid values.", errors)
    return TradingViewMessage(**values, fields=document)


def _decimal(value: Any, *, signed: bool) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("must be a number")
    if isinstance(value, float):
        value = repr(value)  # the shortest text that reads back as this float: 0.1, not 0.1000...
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError("must be a number, e.g. 1.5") from None
    if number.is_nan():  # "NaN": Pine's na
        return None
    if not number.is_finite() or not math.isfinite(float(number)):
        raise ValueError("must be a finite number")
    if number < 0 and not signed:
        raise ValueError("must not be negative")
    return number


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("must be a string")
    text = value.strip() if isinstance(value, str) else str(value)
    return text or None


def _action(alert: Mapping[str, Any], message: TradingViewMessage, kind: str) -> str | None:
    if kind == "strategy":
        return "close" if message.market_position == "flat" else message.action
    fixed = alert.get("Action")
    return message.action if fixed in (None, "from_message") else fixed


def _quantity(
    alert: Mapping[str, Any], message: TradingViewMessage, action: str | None
) -> Decimal | None:
    if message.quantity is not None and message.quantity > 0:
        return message.quantity
    configured = alert.get("Quantity")
    if configured:
        return Decimal(str(configured))
    # The schema needs Quantity > 0; a close flattens the position whatever the quantity.
    return Decimal(1) if action == "close" else None


def _symbol(alert: Mapping[str, Any], ticker: str | None) -> str | None:
    if alert.get("Symbol"):
        return alert["Symbol"]
    if ticker is None:
        return None
    mapping = alert.get("SymbolMap") or {}
    if ticker in mapping:
        return mapping[ticker]
    folded = {key.upper(): value for key, value in mapping.items()}
    return folded.get(ticker.upper(), ticker)


def _signal_id(
    alert_id: str,
    kind: str,
    message: TradingViewMessage,
    action: str,
    received_at: datetime,
) -> str:
    """The same id for the same alert firing: its alert, ticker, action and {{timenow}} text.

    Without a time in the message the second of arrival stands in for it, so identical alerts
    arriving within the same second are one signal.
    """
    when = message.time if message.time is not None else _rfc3339(received_at)
    parts = [alert_id, message.ticker or "", action, when]
    if kind == "strategy":
        # Fixed positions, empty when absent, so no part can pass for another.
        parts += [
            message.order_id or "",
            _plain(message.position_size),
            _plain(message.contracts),
        ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"tv-{digest[:32]}"


def _plain(number: Decimal | None) -> str:
    """A number's text independent of how it was written: 1, 1.0 and "1.00" are all "1"."""
    if number is None:
        return ""
    if number == 0:
        return "0"
    return format(number.normalize(), "f")


def _rfc3339(moment: datetime) -> str:
    """'YYYY-MM-DDTHH:MM:SSZ' in UTC, truncated to the second; a naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _json_number(number: Decimal) -> int | float:
    if number == number.to_integral_value() and abs(number) < 2**53:
        return int(number)
    return float(number)
