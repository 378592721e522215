"""Outgoing messages, field by field in the order ib_async's decoder reads them at version 178.

``None`` stands for an unset value (an empty field), which the decoder turns into its default.
"""

from .catalog import ContractSpec, Instrument
from .orders import Execution, Position, WorkingOrder
from .protocol import Field, Out

NO_SECURITY_DEFINITION = "No security definition has been found for the request"
CLIENT_ID_IN_USE = (
    "Unable to connect as the client id is already in use. Retry with a unique client id."
)


def error(req_id: int, code: int, message: str) -> list[Field]:
    return [Out.ERR_MSG, 2, req_id, code, message, ""]  # "" = advancedOrderRejectJson


def order_status(o: WorkingOrder) -> list[Field]:
    return [
        Out.ORDER_STATUS, o.placed.order_id, o.status, o.filled, o.remaining,
        o.avg_fill_price, o.perm_id, o.placed.parent_id, o.last_fill_price,
        o.placed.client_id, "", 0.0,  # whyHeld, mktCapPrice
    ]  # fmt: skip


def open_order(o: WorkingOrder) -> list[Field]:
    p = o.placed
    return [
        Out.OPEN_ORDER, p.order_id, *o.contract.wire(),
        p.action, o.quantity, p.order_type, p.lmt_price, p.aux_price, p.tif,
        "", o.account, "", 0, p.order_ref, p.client_id, o.perm_id,  # ocaGroup .. permId
        p.outside_rth, False, 0.0, "", "",  # .. hidden, discretionaryAmt, goodAfterTime, (unused)
        "", "", "",  # faGroup, faMethod, faPercentage
        "", "", "", None, "", 0, "", -1,  # modelCode .. exemptCode
        0, None, None, None, None, None,  # auctionStrategy .. stockRangeUpper
        0, False, False, False, None, 0,  # displaySize, blockOrder, sweepToFill .. ocaType
        False, False, None, p.parent_id, 0,  # eTradeOnly, firmQuoteOnly, nbboPriceCap, parentId, ..
        None, None, "", None,  # volatility, volatilityType, deltaNeutralOrderType, ..AuxPrice
        False, None, None, None, None, None, "",  # continuousUpdate .. comboLegsDescrip
        0, 0, 0,  # combo legs, order combo legs, smart combo routing params
        None, None, None,  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        False, "", "", False, False,  # optOutSmartRouting .. notHeld, has delta neutral contract
        "",  # algoStrategy
        False, False, o.status,  # solicited, whatIf, status
        "", "", "", "", "", "", "", "", "",  # margin before/change/after
        None, None, None, "", "",  # commission, min, max, commissionCurrency, warningText
        False, False,  # randomizeSize, randomizePrice
        0,  # conditions
        "", None, None, None, None, None, None, 0,  # adjustedOrderType .. adjustableTrailingUnit
        "", "", "",  # soft dollar tier name, value, display name
        p.cash_qty, False, False, False, False,  # cashQty .. usePriceMgmtAlgo
        None, None, False,  # duration, postToAts, autoCancelParent
        None, None, None, None, None,  # minTradeQty .. midOffsetAtHalf
    ]  # fmt: skip


def completed_order(o: WorkingOrder) -> list[Field]:
    """Like openOrder but without orderId or clientId: clients match it by permId/orderRef."""
    p = o.placed
    return [
        Out.COMPLETED_ORDER, *o.contract.wire(),
        p.action, o.quantity, p.order_type, p.lmt_price, p.aux_price, p.tif,
        "", o.account, "", 0, p.order_ref, o.perm_id,  # ocaGroup .. permId
        p.outside_rth, False, 0.0, "", "", "", "",  # hidden .. faPercentage
        "", "", "", None, "", 0, "", -1,  # modelCode .. exemptCode
        None, None, None, None, None,  # startingPrice .. stockRangeUpper
        0, False, False, None, 0, 0,  # displaySize, sweepToFill .. triggerMethod
        None, None, "", None,  # volatility, volatilityType, deltaNeutralOrderType, ..AuxPrice
        False, None, None, None, "",  # continuousUpdate .. trailingPercent, comboLegsDescrip
        0, 0, 0,  # combo legs, order combo legs, smart combo routing params
        None, None, None,  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        "", "", False, False,  # clearingAccount, clearingIntent, notHeld, has delta neutral
        "",  # algoStrategy
        False, o.status, False, False,  # solicited, status, randomizeSize, randomizePrice
        0,  # conditions
        None, None, p.cash_qty, False, False,  # trailStopPrice, lmtPriceOffset, cashQty ..
        "", o.filled, 0, False, "", False, False, 0,  # autoCancelDate .. parentPermId
        o.completed_time, o.completed_status,
        None, None, None, None, None,  # minTradeQty .. midOffsetAtHalf
    ]  # fmt: skip


def exec_details(req_id: int, e: Execution) -> list[Field]:
    return [
        Out.EXECUTION_DATA, req_id, e.order_id, *e.contract.wire(),
        e.exec_id, e.time, e.account, e.venue, e.side, e.shares, e.price, e.perm_id,
        e.client_id, 0, e.cum_qty, e.avg_price, e.order_ref,  # 0 = liquidation
        "", None, "", 0, False,  # evRule, evMultiplier, modelCode, lastLiquidity, pendingPriceRev..
    ]  # fmt: skip


def commission_report(e: Execution) -> list[Field]:
    return [
        Out.COMMISSION_REPORT, 1, e.exec_id, e.commission, e.commission_currency,
        e.realized_pnl, None, None,  # yield, yieldRedemptionDate
    ]  # fmt: skip


def contract_details(req_id: int, i: Instrument) -> list[Field]:
    under_sec_type = "STK" if i.under_con_id else ""
    stock_type = "COMMON" if i.sec_type == "STK" else ""
    valid_exchanges = ",".join(filter(None, (i.exchange, i.primary_exchange)))
    return [
        Out.CONTRACT_DATA, req_id, i.symbol, i.sec_type, i.last_trade_date, i.strike, i.right,
        i.exchange, i.currency, i.local_symbol, i.trading_class, i.trading_class, i.con_id,
        i.min_tick, i.multiplier, "LMT,MKT,STP", valid_exchanges,
        1, i.under_con_id, i.long_name, i.primary_exchange, i.last_trade_date[:6],
        "", "", "", "US/Eastern", "", "", "", None,  # industry .. evMultiplier
        0,  # secIdList
        1, i.under_symbol, under_sec_type, "", i.last_trade_date, stock_type,
        i.size_increment, i.size_increment, i.size_increment,  # minSize, sizeIncrement, suggested
    ]  # fmt: skip


def position(p: Position) -> list[Field]:
    spec: ContractSpec = p.instrument.spec()
    return [Out.POSITION_DATA, 3, p.account, *spec.wire(), p.quantity, p.avg_cost]
