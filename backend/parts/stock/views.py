"""HTTP for stock (rules PRT-1, PRT-2): locations, levels, the ledger, receiving notes, transfers and serials.
The rules live in backend.parts.stock.service and backend.parts.stock.ledger."""

from typing import Any

from flask import url_for

from backend.accounts.models import Role
from backend.http.api import ETAG_HEADER, Blueprint, tagged
from backend.http.context import current_user, db, onsite
from backend.http.crud import paginate
from backend.parts.stock import service as stock
from backend.parts.stock.schemas import (CancelSchema, LedgerEntrySchema, LedgerFilterSchema, LocationFilterSchema,
                                         ReceiptCreateSchema, ReceiptFilterSchema, ReceiptSchema, SerialQuerySchema,
                                         SerialSchema, StockFilterSchema, StockLevelSchema, StockLocationSchema,
                                         TransferCreateSchema, TransferFilterSchema, TransferSchema)

locations_blp = Blueprint("stock_locations", __name__, url_prefix="/api/v1/stock-locations",
                          description="Where stock is held: the central store, stations, vans, in transit (PRT-1)")
stock_blp = Blueprint("stock", __name__, url_prefix="/api/v1/stock",
                      description="Stock levels, the ledger, receiving notes and transfers (PRT-1, PRT-2)")
serials_blp = Blueprint("serials", __name__, url_prefix="/api/v1/serials",
                        description="Serial-tracked units: where each is and where it has been")

# Everyone who handles or plans around parts; customer service agents have no use for stock.
READERS = (Role.TECHNICIAN, Role.DISPATCHER, Role.SUPERVISOR, Role.WAREHOUSE, Role.MANAGER, Role.ADMIN)
# A technician sends from and receives into their own van; the service layer checks which van is theirs.
MOVERS = (Role.WAREHOUSE, Role.TECHNICIAN)
CREATED = {"headers": {**ETAG_HEADER, "Location": {"schema": {"type": "string"}, "required": True}}}


@locations_blp.route("", methods=["GET"])
@locations_blp.access(*READERS)
@locations_blp.arguments(LocationFilterSchema, location="query", as_kwargs=True)
@locations_blp.response(200, StockLocationSchema(many=True))
@locations_blp.paginate()
@locations_blp.doc(summary="List stock locations")
def list_locations(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), stock.list_locations(filters, current_user()), pagination_parameters)


@locations_blp.route("/<id:location_id>", methods=["GET"])
@locations_blp.access(*READERS)
@locations_blp.response(200, StockLocationSchema)
@locations_blp.alt_response(404, response="NOT_FOUND")
@locations_blp.doc(summary="Get a stock location")
def get_location(location_id: int) -> Any:
    return stock.get_visible_location(db(), location_id, current_user())


@stock_blp.route("", methods=["GET"])
@stock_blp.access(*READERS)
@stock_blp.arguments(StockFilterSchema, location="query", as_kwargs=True)
@stock_blp.response(200, StockLevelSchema(many=True))
@stock_blp.paginate()
@stock_blp.doc(summary="On hand, reserved and available per location and part")
def list_stock(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), stock.stock_levels(filters, current_user()), pagination_parameters)


@stock_blp.route("/ledger", methods=["GET"])
@stock_blp.access(*READERS)
@stock_blp.arguments(LedgerFilterSchema, location="query", as_kwargs=True)
@stock_blp.response(200, LedgerEntrySchema(many=True))
@stock_blp.paginate()
@stock_blp.doc(summary="Stock movements, oldest first (the books of each location)")
def list_ledger(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), stock.ledger_entries(filters, current_user()), pagination_parameters)


@stock_blp.route("/receipts", methods=["POST"])
@stock_blp.access(Role.WAREHOUSE)
@stock_blp.write
@stock_blp.arguments(ReceiptCreateSchema)
@stock_blp.response(201, ReceiptSchema, headers={"Location": {"schema": {"type": "string"}, "required": True}})
@stock_blp.alt_response(409, response="CONFLICT")
@stock_blp.doc(summary="Record a receiving note: the parts go into stock (PRT-2)")
def create_receipt(data: dict[str, Any]) -> Any:
    receipt = stock.receive_goods(db(), data, actor_id=current_user().id, now=onsite().clock.now())
    return receipt, {"Location": url_for("stock.get_receipt", receipt_id=receipt.id)}


@stock_blp.route("/receipts", methods=["GET"])
@stock_blp.access(*READERS)
@stock_blp.arguments(ReceiptFilterSchema, location="query", as_kwargs=True)
@stock_blp.response(200, ReceiptSchema(many=True))
@stock_blp.paginate()
@stock_blp.doc(summary="List receiving notes, newest first")
def list_receipts(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), stock.list_receipts(filters, current_user()), pagination_parameters)


@stock_blp.route("/receipts/<id:receipt_id>", methods=["GET"])
@stock_blp.access(*READERS)
@stock_blp.response(200, ReceiptSchema)
@stock_blp.alt_response(404, response="NOT_FOUND")
@stock_blp.doc(summary="Get a receiving note")
def get_receipt(receipt_id: int) -> Any:
    return stock.get_visible_receipt(db(), receipt_id, current_user())


@stock_blp.route("/transfers", methods=["POST"])
@stock_blp.access(*MOVERS)
@stock_blp.write
@stock_blp.arguments(TransferCreateSchema)
@stock_blp.response(201, TransferSchema, **CREATED)
@stock_blp.alt_response(409, response="CONFLICT")
@stock_blp.doc(summary="Send stock to another location; it shows as in transit until received")
def create_transfer(data: dict[str, Any]) -> Any:
    transfer = stock.send_transfer(db(), data, actor=current_user(), now=onsite().clock.now())
    return tagged(transfer, Location=url_for("stock.get_transfer", transfer_id=transfer.id))


@stock_blp.route("/transfers", methods=["GET"])
@stock_blp.access(*READERS)
@stock_blp.arguments(TransferFilterSchema, location="query", as_kwargs=True)
@stock_blp.response(200, TransferSchema(many=True))
@stock_blp.paginate()
@stock_blp.doc(summary="List transfers, newest first")
def list_transfers(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), stock.list_transfers(filters, current_user()), pagination_parameters)


@stock_blp.route("/transfers/<id:transfer_id>", methods=["GET"])
@stock_blp.access(*READERS)
@stock_blp.response(200, TransferSchema, headers=ETAG_HEADER)
@stock_blp.alt_response(404, response="NOT_FOUND")
@stock_blp.doc(summary="Get a transfer")
def get_transfer(transfer_id: int) -> Any:
    return tagged(stock.get_visible_transfer(db(), transfer_id, current_user()))


@stock_blp.route("/transfers/<id:transfer_id>/receive", methods=["POST"])
@stock_blp.access(*MOVERS)
@stock_blp.write
@stock_blp.response(200, TransferSchema, headers=ETAG_HEADER)
@stock_blp.alt_response(404, response="NOT_FOUND")
@stock_blp.alt_response(409, response="CONFLICT")
@stock_blp.doc(summary="Receive a transfer at its destination")
def receive_transfer(transfer_id: int) -> Any:
    return tagged(stock.receive_transfer(db(), transfer_id, actor=current_user(), now=onsite().clock.now()))


@stock_blp.route("/transfers/<id:transfer_id>/cancel", methods=["POST"])
@stock_blp.access(*MOVERS)
@stock_blp.write
@stock_blp.arguments(CancelSchema)
@stock_blp.response(200, TransferSchema, headers=ETAG_HEADER)
@stock_blp.alt_response(404, response="NOT_FOUND")
@stock_blp.alt_response(409, response="CONFLICT")
@stock_blp.doc(summary="Cancel a transfer still in transit: the stock goes back to the source")
def cancel_transfer(data: dict[str, Any], transfer_id: int) -> Any:
    return tagged(stock.cancel_transfer(db(), transfer_id, actor=current_user(), reason=data["reason"],
                                         now=onsite().clock.now()))


@serials_blp.route("/<serial>", methods=["GET"])
@serials_blp.access(*READERS)
@serials_blp.arguments(SerialQuerySchema, location="query", as_kwargs=True)
@serials_blp.response(200, SerialSchema)
@serials_blp.alt_response(404, response="NOT_FOUND")
@serials_blp.doc(summary="Where a serial-tracked unit is now, and its history from the ledger")
def get_serial(serial: str, part: int | None = None) -> Any:
    return stock.find_serial(db(), serial, part)
