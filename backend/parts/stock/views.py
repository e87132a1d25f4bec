"""HTTP for stock (rules PRT-1, PRT-2): locations, levels, the ledger, receiving notes, transfers and serials.
The rules live in backend.parts.stock.service and backend.parts.stock.ledger."""

from typing import Any

from flask import url_for

from backend.accounts.models import Role
from backend.http.api import Blueprint, created, tagged
from backend.http.context import current_user, db, now
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


@locations_blp.endpoint("GET", roles=READERS, takes=LocationFilterSchema, as_kwargs=True,
                        answers=StockLocationSchema(many=True), paginated=True, summary="List stock locations")
def list_locations(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), stock.list_locations(filters, current_user()), pagination_parameters)


@locations_blp.endpoint("GET", "/<id:location_id>", roles=READERS, answers=StockLocationSchema, refuses=(404,),
                        summary="Get a stock location")
def get_location(location_id: int) -> Any:
    return stock.get_visible_location(db(), location_id, current_user())


@stock_blp.endpoint("GET", roles=READERS, takes=StockFilterSchema, as_kwargs=True, answers=StockLevelSchema(many=True),
                    paginated=True, summary="On hand, reserved and available per location and part")
def list_stock(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), stock.stock_levels(filters, current_user()), pagination_parameters)


@stock_blp.endpoint("GET", "/ledger", roles=READERS, takes=LedgerFilterSchema, as_kwargs=True,
                    answers=LedgerEntrySchema(many=True), paginated=True,
                    summary="Stock movements, oldest first (the books of each location)")
def list_ledger(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), stock.ledger_entries(filters, current_user()), pagination_parameters)


@stock_blp.endpoint("POST", "/receipts", roles=(Role.WAREHOUSE,), writes=True, takes=ReceiptCreateSchema,
                    answers=ReceiptSchema, status=201, location=True, refuses=(409,),
                    summary="Record a receiving note: the parts go into stock (PRT-2)")
def create_receipt(data: dict[str, Any]) -> Any:
    receipt = stock.receive_goods(db(), data, actor_id=current_user().id, now=now())
    return receipt, {"Location": url_for("stock.get_receipt", receipt_id=receipt.id)}


@stock_blp.endpoint("GET", "/receipts", roles=READERS, takes=ReceiptFilterSchema, as_kwargs=True,
                    answers=ReceiptSchema(many=True), paginated=True, summary="List receiving notes, newest first")
def list_receipts(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), stock.list_receipts(filters, current_user()), pagination_parameters)


@stock_blp.endpoint("GET", "/receipts/<id:receipt_id>", roles=READERS, answers=ReceiptSchema, refuses=(404,),
                    summary="Get a receiving note")
def get_receipt(receipt_id: int) -> Any:
    return stock.get_visible_receipt(db(), receipt_id, current_user())


@stock_blp.endpoint("POST", "/transfers", roles=MOVERS, writes=True, takes=TransferCreateSchema, answers=TransferSchema,
                    status=201, etag=True, location=True, refuses=(409,),
                    summary="Send stock to another location; it shows as in transit until received")
def create_transfer(data: dict[str, Any]) -> Any:
    transfer = stock.send_transfer(db(), data, actor=current_user(), now=now())
    return created(transfer, "stock.get_transfer", transfer_id=transfer.id)


@stock_blp.endpoint("GET", "/transfers", roles=READERS, takes=TransferFilterSchema, as_kwargs=True,
                    answers=TransferSchema(many=True), paginated=True, summary="List transfers, newest first")
def list_transfers(pagination_parameters: Any, **filters: Any) -> Any:
    return paginate(db(), stock.list_transfers(filters, current_user()), pagination_parameters)


@stock_blp.endpoint("GET", "/transfers/<id:transfer_id>", roles=READERS, answers=TransferSchema, etag=True,
                    refuses=(404,), summary="Get a transfer")
def get_transfer(transfer_id: int) -> Any:
    return tagged(stock.get_visible_transfer(db(), transfer_id, current_user()))


@stock_blp.endpoint("POST", "/transfers/<id:transfer_id>/receive", roles=MOVERS, writes=True, answers=TransferSchema,
                    etag=True, refuses=(404, 409), summary="Receive a transfer at its destination")
def receive_transfer(transfer_id: int) -> Any:
    return tagged(stock.receive_transfer(db(), transfer_id, actor=current_user(), now=now()))


@stock_blp.endpoint("POST", "/transfers/<id:transfer_id>/cancel", roles=MOVERS, writes=True, takes=CancelSchema,
                    answers=TransferSchema, etag=True, refuses=(404, 409),
                    summary="Cancel a transfer still in transit: the stock goes back to the source")
def cancel_transfer(data: dict[str, Any], transfer_id: int) -> Any:
    return tagged(stock.cancel_transfer(db(), transfer_id, actor=current_user(), reason=data["reason"],
                                         now=now()))


@serials_blp.endpoint("GET", "/<serial>", roles=READERS, takes=SerialQuerySchema, as_kwargs=True, answers=SerialSchema,
                      refuses=(404,), summary="Where a serial-tracked unit is now, and its history from the ledger")
def get_serial(serial: str, part: int | None = None) -> Any:
    return stock.find_serial(db(), serial, part, current_user())
