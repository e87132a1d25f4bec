"""Demo data: realistic stations, technicians, customers, units, parts, opening stock in the central store, and a
few service requests with jobs at each step of the technician's flow, up to reports submitted for the supervisor's
review, a requisition and a paid service waiting for approval, and technicians' expenses (one waiting, one charged
to the customer by finance). Safe to run again: rows are matched on their
natural keys (station code, username, serial number, part number, receiving note reference) and never duplicated;
the requests are made only into an empty register."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from geopy.distance import geodesic
from PIL import Image, ImageDraw

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.accounts.models import Role, User
from backend.accounts.service import create_user, find_user
from backend.config import Settings
from backend.costs.expenses import service as expenses
from backend.costs.ledger import service as cost_ledger
from backend.costs.models import BorneBy, CostSource, Expense
from backend.customers.models import Customer, Unit
from backend.db import clock_of
from backend.dispatch.candidates import DEFAULT_LIMIT
from backend.dispatch.models import Job, ServiceRequest
from backend.dispatch.service import DispatchOrder, close_request, dispatch, record_feedback, register_request
from backend.fieldwork.service import Fix, Report, act
from backend.media.store import MediaStore
from backend.parts.models import Part, Receipt
from backend.parts.requisitions import service as requisitions
from backend.parts.stock.service import central_store, receive_goods
from backend.quality.service import decide as investigate
from backend.reports import service as reports
from backend.reports.models import FieldReport
from backend.reports.signing import ReportSigner
from backend.stations.models import Station
from backend.technicians.models import Technician

STATIONS = [  # code, name, address, latitude, longitude
    ("ZZ", "Zhengzhou service station", "Zhengdong New District, Zhengzhou, Henan", 34.7466, 113.6254),
    ("BJ", "Beijing service station", "Fengtai District, Beijing", 39.8585, 116.2870),
    ("SH", "Shanghai service station", "Jiading District, Shanghai", 31.3747, 121.2650),
    ("GZ", "Guangzhou service station", "Baiyun District, Guangzhou, Guangdong", 23.1579, 113.2733),
    ("CD", "Chengdu service station", "Xindu District, Chengdu, Sichuan", 30.8238, 104.1588),
    ("WH", "Wuhan service station", "Hanyang District, Wuhan, Hubei", 30.5549, 114.2165),
    ("XA", "Xi'an service station", "Weiyang District, Xi'an, Shaanxi", 34.3416, 108.9398),
    ("LZ", "Lanzhou service station", "Qilihe District, Lanzhou, Gansu", 36.0611, 103.8343),
]

SKILLS = ["body", "chassis_engine", "electrical", "air_conditioning", "hydraulics"]
SURNAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu"]
GIVEN = ["Wei", "Fang", "Min", "Jie", "Lei", "Jun", "Tao", "Qiang", "Yan", "Hui", "Bo", "Ping"]

# Sites at real places: some well inside 100 km of a station, some just beyond, some far away.
CUSTOMERS = [  # name, contact, phone, address
    ("Kaifeng City Bus Co.", "Sun Hao", "+86 371 2356 0001", "Gulou District, Kaifeng, Henan"),
    ("Luoyang Tourism Transport", "Ma Lin", "+86 379 6390 0002", "Xigong District, Luoyang, Henan"),
    ("Tianjin Port Shuttle Ltd.", "Guo Qing", "+86 22 2580 0003", "Binhai New Area, Tianjin"),
    ("Suzhou Industrial Park Transit", "Xu Ying", "+86 512 6288 0004", "Suzhou Industrial Park, Jiangsu"),
    ("Foshan Intercity Coaches", "He Jian", "+86 757 8322 0005", "Chancheng District, Foshan, Guangdong"),
    ("Mianyang Passenger Transport", "Luo Ming", "+86 816 2255 0006", "Fucheng District, Mianyang, Sichuan"),
    ("Xianyang Airport Express", "Gao Fei", "+86 29 3321 0007", "Weicheng District, Xianyang, Shaanxi"),
    ("Yichang Three Gorges Tours", "Lin Tao", "+86 717 6222 0008", "Xiling District, Yichang, Hubei"),
    ("Kashgar Highway Transport", "Aziz Tursun", "+86 998 2822 0009", "Kashgar, Xinjiang"),
    ("Lhasa Plateau Coaches", "Tenzin Dorje", "+86 891 6333 0010", "Chengguan District, Lhasa, Tibet"),
    ("Beijing Capital Shuttle", "Han Xue", "+86 10 6789 0011", "Chaoyang District, Beijing"),
    ("Wuhan University Fleet", "Deng Rui", "+86 27 6875 0012", "Wuchang District, Wuhan, Hubei"),
]

MODELS = ["C12 coach", "C10 coach", "M8 minibus", "E12 electric bus", "S11 school bus"]

PARTS = [  # part number, name, unit price, serial tracked, supplier
    ("ALT-24V-150", "Alternator 24 V 150 A", "2380.00", True, "Bosch"),
    ("STM-24V-7K", "Starter motor 24 V 7 kW", "3150.00", True, "Bosch"),
    ("ECU-D6-01", "Engine control unit, D6 diesel", "9800.00", True, "Weichai Power"),
    ("ACC-TM31", "A/C compressor TM31", "6400.00", True, "Sanden"),
    ("TCU-AT6", "Transmission control unit", "7200.00", True, "ZF"),
    ("BRK-PAD-F", "Front brake pad set", "420.00", False, "Knorr-Bremse"),
    ("BRK-PAD-R", "Rear brake pad set", "390.00", False, "Knorr-Bremse"),
    ("FLT-OIL-D6", "Oil filter, D6 diesel", "68.00", False, "Mann+Hummel"),
    ("FLT-FUEL-D6", "Fuel filter, D6 diesel", "85.00", False, "Mann+Hummel"),
    ("BLT-FAN-8PK", "Fan belt 8PK", "150.00", False, "Gates"),
    ("LMP-HEAD-L", "Headlamp assembly, left", "860.00", False, "Hella"),
    ("MIR-EXT-R", "Exterior mirror, right", "540.00", False, "Mekra Lang"),
    ("DR-SEAL-1", "Passenger door seal", "210.00", False, "Cooper Standard"),
    ("WPR-MOT", "Wiper motor", "730.00", False, "Valeo"),
    ("SNS-NOX", "NOx sensor", "1890.00", True, "Continental"),
]

# One account per office role; the printed passwords are for the demo only.
DEMO_USERS = [
    ("admin", "admin-demo-pass", [Role.ADMIN], "Demo Administrator"),
    ("manager", "manager-demo-pass", [Role.MANAGER], "Demo Manager"),
    ("supervisor", "supervisor-demo-pass", [Role.SUPERVISOR], "Demo Supervisor"),
    ("dispatcher", "dispatcher-demo-pass", [Role.DISPATCHER], "Demo Dispatcher"),
    ("agent", "agent-demo-pass", [Role.AGENT], "Demo Service Agent"),
    ("warehouse", "warehouse-demo-pass", [Role.WAREHOUSE], "Demo Warehouse Keeper"),
    ("finance", "finance-demo-pass", [Role.FINANCE], "Demo Finance Controller"),
    ("quality", "quality-demo-pass", [Role.QUALITY], "Demo Quality Engineer"),
]
TECHNICIAN_PASSWORD = "technician-demo-pass"
# Station scope (SCP-1): a dispatcher and a supervisor per region, who see and act on their stations only (the
# accounts above have no stations: head office, the whole company). Region -> station codes.
REGIONS = {"north": ("BJ", "ZZ"), "east": ("SH", "WH"), "south": ("GZ", "CD"), "west": ("XA", "LZ")}
REGIONAL_ROLES = (Role.DISPATCHER, Role.SUPERVISOR)

# A board with something on it: (customer row, station row, km and bearing from it, fault, category, how far the
# job has got). Hours ago it was reported, so the clocks show a spread of urgency.
DEMO_REQUESTS = [
    (0, 0, 70, 90, "Rear door will not close", "body", "registered", 2),
    (1, 0, 120, 270, "Engine warning lamp, power loss on hills", "chassis_engine", "registered", 9),
    (10, 1, 25, 45, "Air conditioning blows warm air", "other", "assigned", 3),
    (3, 2, 80, 300, "Driver's window regulator broken", "body", "accepted", 6),
    (11, 5, 12, 180, "Brakes squeal at low speed", "chassis_engine", "on_site", 14),
    (6, 6, 30, 300, "Headlamp loose after a pothole", "body", "work_done", 20),
    (4, 3, 40, 60, "Front brakes pull to the left", "chassis_engine", "work_done", 30),
    (7, 5, 60, 270, "Passenger door rattles and lets rain in", "body", "work_done", 28),
    # Not yet dispatched: due within the console's 2 h (amber) and already missed (red).
    (2, 1, 40, 120, "Luggage hatch lock jammed", "body", "registered", 23),
    (5, 4, 50, 200, "Wheelchair lift stuck half way", "body", "registered", 27),
    # Taken to the register's end (INV-1): approved, the customer told, investigated (INV-2) and closed.
    (0, 0, 45, 30, "Passenger door seal leaks in heavy rain", "body", "work_done", 20),
    (11, 5, 18, 90, "Dashboard panel rattles over rough road", "other", "work_done", 18),
    (1, 6, 35, 150, "Rear bumper cracked after reversing", "body", "work_done", 16),
]
# What quality inspection found for each closed request: (root cause, its text, countermeasure, responsible party
# kind, the party's name, reason).
DEMO_INVESTIGATIONS = {
    "Passenger door seal leaks in heavy rain": (
        "supplier_part", "Door seal compound hardened early; it no longer seals against the frame",
        "Seal batch 2026-02 quarantined; supplier to change the compound and recall the batch", "supplier",
        "Cooper Standard", "The seal material failed the hardness test against the purchase specification"),
    "Dashboard panel rattles over rough road": (
        "assembly", "Two dashboard clips missing since assembly",
        "Clip count added to the line 2 end-of-line checklist", "department", "Manufacturing, final assembly line 2",
        "The clips were never fitted: an assembly omission"),
    "Rear bumper cracked after reversing": (
        "misuse", "Bumper hit a loading dock bollard while reversing",
        "Driver briefed on the reversing camera; no product change", "customer", None,
        "Impact damage from operation, not a product fault (INT-3 non-quality: chargeable)"),
}
# The part each closed-out job replaced, by its fault (DEMO_INVESTIGATIONS).
DEMO_REPLACED_PARTS = {"Passenger door seal leaks in heavy rain": "DR-SEAL-1"}
STEPS = {"registered": [], "assigned": [], "accepted": ["accept"], "on_site": ["accept", "depart", "arrive"],
         "work_done": ["accept", "depart", "arrive", "work-done"]}
TECHNICIAN_COUNT = 30
OPENING_STOCK_REFERENCE = "DEMO-OPENING"


@dataclass
class DemoSummary:
    created: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    credentials: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def count(self, kind: str, created: bool) -> None:
        bucket = self.created if created else self.present
        bucket[kind] = bucket.get(kind, 0) + 1

    def line(self) -> str:
        kinds = sorted(set(self.created) | set(self.present))
        parts = ", ".join(f"{self.created.get(k, 0) + self.present.get(k, 0)} {k}" for k in kinds)
        return (f"demo data ready: {parts} ({sum(self.created.values())} created, "
                f"{sum(self.present.values())} already present)")


def load_demo_data(session: Session, settings: Settings, *, signer: ReportSigner, media: MediaStore,
                   progress: Callable[[str], None] = lambda _m: None) -> DemoSummary:
    summary = DemoSummary()
    progress("stations")
    stations = [_station(session, summary, *row) for row in STATIONS]
    progress("office users")
    for username, password, roles, full_name in DEMO_USERS:
        _user(session, summary, username, password, roles, full_name, settings.password_min_length)
    by_code = {station.code: station.id for station in stations}
    for region, codes in REGIONS.items():
        for role in REGIONAL_ROLES:
            _user(session, summary, f"{role}-{region}", f"{role}-{region}-demo-pass", [role],
                  f"Demo {role.capitalize()} ({region.capitalize()}: {', '.join(codes)})", settings.password_min_length,
                  station_ids=[by_code[code] for code in codes])
    progress(f"{TECHNICIAN_COUNT} technicians")
    for number in range(1, TECHNICIAN_COUNT + 1):
        _technician(session, summary, number, stations[(number - 1) % len(stations)], settings.password_min_length)
    progress("customers and units")
    for number, row in enumerate(CUSTOMERS, start=1):
        customer = _customer(session, summary, *row)
        for k in range(1 + number % 3):
            _unit(session, summary, customer, number, k)
    progress("parts catalogue")
    for row in PARTS:
        _part(session, summary, *row)
    session.flush()
    progress("opening stock in the central store")
    _opening_stock(session, summary)
    progress("service requests and jobs")
    _field_work(session, summary, settings, signer, media)
    return summary


def _field_work(session: Session, summary: DemoSummary, settings: Settings, signer: ReportSigner,
                media: MediaStore) -> None:
    existing = session.scalar(select(func.count()).select_from(ServiceRequest)) or 0
    if existing:
        summary.present["service requests"] = existing
        return
    now = clock_of(session).now()
    dispatcher = find_user(session, "dispatcher")
    agent = find_user(session, "agent")
    jobs: dict[str, Job] = {}
    for customer_row, station_row, km, bearing, fault, category, stage, hours_ago in DEMO_REQUESTS:
        customer = session.scalar(select(Customer).where(Customer.name == CUSTOMERS[customer_row][0]))
        unit = session.scalar(select(Unit).where(Unit.customer_id == customer.id).order_by(Unit.id).limit(1))
        site = geodesic(kilometers=km).destination(STATIONS[station_row][3:5], bearing)
        request = register_request(session, {
            "customer_id": customer.id, "unit_id": unit.id, "site_address": customer.address,
            "site_latitude": site.latitude, "site_longitude": site.longitude, "fault_description": fault,
            "fault_category": category, "channel": "phone", "complaint_class": "quality", "supplier_needed": False,
            "required_skill": None, "reported_at": now - timedelta(hours=hours_ago)},
            actor_id=agent.id, now=now, settings=settings)
        summary.count("service requests", True)
        if stage == "registered":
            continue
        job = dispatch(session, request.id, DispatchOrder(None, None, None), actor=dispatcher, now=now,
                       travel_speed_kmh=settings.travel_speed_kmh, candidate_limit=DEFAULT_LIMIT)
        technician = session.get(Technician, job.lead_technician_id)
        for action in STEPS[stage]:
            at_site = Fix(site.latitude, site.longitude, 10.0) if action == "arrive" else None
            act(session, job, action, technician.user, Report(position=at_site), now=now,
                arrival_skew=timedelta(seconds=settings.arrival_clock_skew_seconds))
        summary.count("jobs", True)
        jobs[fault] = job
    _paperwork(session, jobs, settings, signer, media, now)


def _paperwork(session: Session, jobs: dict[str, Job], settings: Settings, signer: ReportSigner, media: MediaStore,
               now: datetime) -> None:
    """The supervisor's desk has something on it: two reports submitted for review (one corrected and signed twice,
    REP-3), a requisition waiting for approval (PRT-3) and chargeable work waiting for a paid-service approval
    (REP-6). All of it through the same service functions as the API."""
    supervisor, warehouse = find_user(session, "supervisor"), find_user(session, "warehouse")
    parts = {part.part_number: part for part in session.scalars(select(Part))}

    def lead_of(job: Job) -> User:
        return session.get_one(Technician, job.lead_technician_id).user

    def write(job: Job, **content: Any) -> FieldReport:
        report = reports.current_report(session, job)
        reports.update_draft(session, job, report, {"part_lines": [], "compensation_lines": [], **content}, now=now)
        return report

    def sign(job: Job, report: FieldReport, comments: str, satisfaction: int) -> None:
        request = job.service_request
        signed = reports.SignOff(signer_name=request.customer.contact_person or request.customer.name,
                                 signature_kind="signature", image=_picture("signature"), customer_comments=comments,
                                 satisfaction=satisfaction, device_time=None, latitude=request.site_latitude,
                                 longitude=request.site_longitude)
        reports.sign_off(session, job, report, signed, actor_id=lead_of(job).id, now=now, signer=signer, store=media,
                         settings=settings)

    # Brakes: pads requested, approved and issued; wear parts are paid for (REP-6); signed and handed in.
    brakes = jobs["Front brakes pull to the left"]
    pads = requisitions.create(session, {"job_id": brakes.id, "lines": [
        {"part_id": parts["BRK-PAD-F"].id, "quantity": 1, "reason": "Front pads worn to the backing plate"}]},
        actor=lead_of(brakes), now=now)
    requisitions.approve(session, pads.id, actor=supervisor, now=now)
    requisitions.issue(session, pads.id, {"source_location_id": central_store(session).id, "lines": []},
                       actor=warehouse, now=now)
    reports.approve_paid_service(session, brakes, actor=supervisor, now=now, estimated_amount=Decimal("420.00"),
                                 scope="Front brake pad set: wear parts, not covered by 三包")
    report = write(brakes, operating_hours=3100, mileage_km=86500, usage_history="Intercity coach, 600 km a day",
                   fault_history="Pulling started after a long mountain descent", within_warranty=False,
                   warranty_reason="Brake pads are wear parts", disassembled_before=False,
                   root_cause="Left front pads glazed and worn unevenly", responsibility="customer",
                   work_done="Replaced the front pads, cleaned the calipers, road-tested 10 km",
                   part_lines=[{"part_id": parts["BRK-PAD-F"].id, "quantity": 1, "reason": "Worn out",
                                "covered_by_warranty": False, "new_serial": None, "old_serial": None}])
    reports.add_photo(session, brakes, _picture("photo"), caption="Old pads next to the new set", taken_at=now,
                      actor_id=lead_of(brakes).id, now=now, store=media, max_bytes=settings.max_image_bytes)
    sign(brakes, report, "Drives straight again", 5)
    reports.submit(session, brakes, report, now=now)

    # The door: signed, corrected (a compensation the technician forgot), signed again, handed in.
    door = jobs["Passenger door rattles and lets rain in"]
    findings = dict(operating_hours=5200, mileage_km=142000, usage_history="Sightseeing coach on mountain roads",
                    fault_history="Door was hit by a bollard a month ago", within_warranty=False,
                    warranty_reason="Damage from an impact is not a quality fault", disassembled_before=True,
                    root_cause="Door hinge bent; the seal no longer closes", responsibility="third_party",
                    work_done="Straightened the hinge and refitted the door; hose test passed")
    sign(door, write(door, **findings), "OK", 4)
    correction = reports.start_correction(session, door, author_id=lead_of(door).id)
    write(door, **findings, compensation_lines=[{"reason": "Coach off the road for an extra day",
                                                 "amount": Decimal("300.00")}])
    sign(door, correction, "Thanks for the compensation", 5)
    reports.submit(session, door, correction, now=now)

    # Waiting for the supervisor: rear pads for the squealing brakes (PRT-3) ...
    squeal = jobs["Brakes squeal at low speed"]
    requisitions.create(session, {"job_id": squeal.id, "lines": [
        {"part_id": parts["BRK-PAD-R"].id, "quantity": 1, "reason": "Rear pads below the wear limit"}]},
        actor=lead_of(squeal), now=now)
    # ... and a repair outside warranty that needs a paid-service approval before any chargeable line (REP-6).
    write(jobs["Headlamp loose after a pothole"], operating_hours=2400, mileage_km=61000,
          within_warranty=False, warranty_reason="Damage from a pothole is not a quality fault",
          disassembled_before=False, root_cause="Headlamp bracket cracked by an impact", responsibility="third_party")
    _costs(session, jobs, now)
    _close_out(session, jobs, write, sign, settings, now)


def _close_out(session: Session, jobs: dict[str, Job], write: Callable[..., FieldReport],
               sign: Callable[[Job, FieldReport, str, int], None], settings: Settings, now: datetime) -> None:
    """A few requests at the register's end (INV-1, INV-2): the report approved, the customer told the outcome,
    quality's investigation recorded, the request closed. Through the same service functions as the API."""
    supervisor, agent = find_user(session, "supervisor"), find_user(session, "agent")
    quality, manager = find_user(session, "quality"), find_user(session, "manager")
    for fault, (code, cause, countermeasure, kind, party, reason) in DEMO_INVESTIGATIONS.items():
        job = jobs[fault]
        unit, reported_on = job.service_request.unit, job.service_request.reported_at.date()
        ended = unit.warranty_end_date is not None and reported_on > unit.warranty_end_date  # WAR-1
        covered = kind != "customer" and not ended
        replaced = _replace_part(session, job, DEMO_REPLACED_PARTS[fault], covered, now) \
            if fault in DEMO_REPLACED_PARTS else []
        report = write(job, operating_hours=1800, mileage_km=52000, usage_history="City route, one shift a day",
                       fault_history="First occurrence", within_warranty=covered,
                       warranty_reason=f"Warranty ended on {unit.warranty_end_date}" if ended else reason,
                       disassembled_before=False, root_cause=cause,
                       responsibility=kind if kind != "department" else "manufacturer", work_done=countermeasure,
                       part_lines=replaced)
        sign(job, report, "Fixed", 5)
        reports.submit(session, job, report, now=now)
        reports.approve(session, job, report, actor=supervisor, now=now)
        request = job.service_request
        record_feedback(session, request, actor_id=agent.id, method="phone", given_at=now, now=now,
                        text=f"Told {request.customer.contact_person} the outcome: {countermeasure}")
        named = {"department": "responsible_department", "supplier": "responsible_supplier"}.get(kind)
        investigate(session, request, None, {
            "root_cause": code, "root_cause_text": cause, "countermeasure": countermeasure, "responsible_kind": kind,
            "reason": reason, **({named: party} if named else {})}, actor=quality, now=now, settings=settings)
        close_request(session, request, actor_id=manager.id, now=now,
                      summary=f"{cause}. {countermeasure}. Customer informed by phone.")


def _replace_part(session: Session, job: Job, part_number: str, covered: bool, now: datetime) -> list[dict[str, Any]]:
    """The part a closed-out job replaced (the failure analysis counts it, CST-3): requested, approved and issued to
    the van (PRT-3), then the report's line; covered by the warranty or, once the unit's has ended, paid for."""
    part = session.scalar(select(Part).where(Part.part_number == part_number))
    assert part is not None
    lead = session.get_one(Technician, job.lead_technician_id).user
    requisition = requisitions.create(session, {"job_id": job.id, "lines": [
        {"part_id": part.id, "quantity": 1, "reason": "Replace the failed part"}]}, actor=lead, now=now)
    requisitions.approve(session, requisition.id, actor=find_user(session, "supervisor"), now=now)
    requisitions.issue(session, requisition.id, {"source_location_id": central_store(session).id, "lines": []},
                       actor=find_user(session, "warehouse"), now=now)
    if not covered:  # out of warranty by now: the customer pays, with the supervisor's prior approval (REP-6)
        reports.approve_paid_service(session, job, actor=find_user(session, "supervisor"), now=now,
                                     estimated_amount=part.unit_price, scope=f"{part.name}: outside warranty")
    return [{"part_id": part.id, "quantity": 1, "reason": "Failed in service", "covered_by_warranty": covered,
             "new_serial": None, "old_serial": None}]


def _costs(session: Session, jobs: dict[str, Job], now: datetime) -> None:
    """A few cost lines (CST-1, CST-2): the technicians' expenses, approved by the supervisor or waiting, and
    finance charging the brake job's travel to the customer with the wear parts."""
    supervisor, finance = find_user(session, "supervisor"), find_user(session, "finance")
    brakes, door = jobs["Front brakes pull to the left"], jobs["Passenger door rattles and lets rain in"]

    def spend(job: Job, kind: str, amount: str, receipt: str | None, approve: bool) -> Expense:
        lead = session.get_one(Technician, job.lead_technician_id).user
        expense = expenses.raise_expense(session, {"job_id": job.id, "kind": kind, "amount": Decimal(amount),
                                                   "incurred_on": now.date(), "receipt_number": receipt,
                                                   "description": None}, actor=lead, now=now)
        if approve:
            expenses.decide_expense(session, expense.id, approve=True, reason=None, actor=supervisor, now=now)
        return expense

    travel = spend(brakes, "travel", "186.00", "TKT-2026-0413", approve=True)
    spend(brakes, "allowance", "80.00", None, approve=True)
    spend(door, "packaging", "35.00", "PKG-3391", approve=True)
    spend(door, "lodging", "260.00", "HTL-88213", approve=False)  # for the supervisor's desk
    # The requests taken to closure carry their trips too: borne as their investigations decide (a supplier, the
    # company's assembly line, the customer) once _close_out records them.
    for n, fault in enumerate(DEMO_INVESTIGATIONS, start=1):
        spend(jobs[fault], "travel", f"{140 + 30 * n}.00", f"TKT-2026-05{n:02d}", approve=True)
    line = cost_ledger.cost_line(session, brakes.service_request_id, CostSource.EXPENSE, travel.id, finance,
                                 for_update=True)
    cost_ledger.allocate(session, line, {"borne_by": BorneBy.CUSTOMER, "supplier": None,
                                         "reason": "Wear parts outside 三包: the trip is charged with the pads"},
                         actor=finance, now=now)


def _picture(kind: str) -> bytes:
    """A PNG: a scribbled customer signature, or a photo-like picture of parts on a workbench."""
    if kind == "signature":
        image = Image.new("RGB", (360, 120), "white")
        ImageDraw.Draw(image).line([(20, 80), (60, 30), (90, 90), (130, 40), (160, 85), (200, 35), (240, 80),
                                    (300, 50), (340, 70)], fill="navy", width=4, joint="curve")
    else:
        image = Image.new("RGB", (640, 480), (120, 118, 110))
        draw = ImageDraw.Draw(image)
        draw.rounded_rectangle((80, 160, 290, 320), radius=24, fill=(60, 58, 55))
        draw.rounded_rectangle((350, 160, 560, 320), radius=24, fill=(170, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _station(session: Session, summary: DemoSummary, code: str, name: str, address: str, lat: float, lon: float
             ) -> Station:
    station = session.scalar(select(Station).where(Station.code == code))
    summary.count("stations", station is None)
    if station is None:
        station = Station(code=code, name=name, address=address, latitude=lat, longitude=lon, active=True,
                          may_receive_work=True)
        session.add(station)
        session.flush()
    return station


def _user(session: Session, summary: DemoSummary, username: str, password: str, roles: list[str], full_name: str,
          min_password_length: int, station_ids: list[int] | None = None) -> None:
    existing = find_user(session, username)
    summary.count("users", existing is None)
    if existing is None:
        user = create_user(session, username=username, password=password, roles=list(roles), full_name=full_name,
                           min_password_length=min_password_length)
        user.station_ids = station_ids or []
        summary.credentials.append((username, password, [str(r) for r in roles]))
    else:
        summary.credentials.append((username, "(unchanged)", existing.roles))


def _technician(session: Session, summary: DemoSummary, number: int, station: Station, min_password_length: int
                ) -> None:
    username = f"tech{number:02d}"
    user = find_user(session, username)
    if user is None:
        full_name = f"{SURNAMES[number % len(SURNAMES)]} {GIVEN[(number * 7) % len(GIVEN)]}"
        user = create_user(session, username=username, password=TECHNICIAN_PASSWORD, roles=[Role.TECHNICIAN],
                           min_password_length=min_password_length,
                           full_name=full_name, station_id=station.id)
    technician = session.scalar(select(Technician).where(Technician.user_id == user.id))
    summary.count("technicians", technician is None)
    if technician is None:
        technician = Technician(user_id=user.id, home_station_id=station.id, active=True, on_shift=number % 5 != 0)
        technician.skills = [SKILLS[number % len(SKILLS)], SKILLS[(number * 3) % len(SKILLS)]]
        if technician.on_shift:
            # Last seen out and about near the station; every seventh hours ago, so the map has stale positions.
            fix = geodesic(kilometers=5 + number * 13 % 40).destination((station.latitude, station.longitude),
                                                                         number * 47 % 360)
            technician.last_latitude, technician.last_longitude = fix.latitude, fix.longitude
            technician.last_position_at = clock_of(session).now() - timedelta(
                minutes=300 if number % 7 == 0 else number * 3)
        session.add(technician)
        session.flush()
    if number == 1:
        summary.credentials.append((f"tech01..tech{TECHNICIAN_COUNT:02d}", TECHNICIAN_PASSWORD, [Role.TECHNICIAN]))


def _customer(session: Session, summary: DemoSummary, name: str, contact: str, phone: str, address: str) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.name == name))
    summary.count("customers", customer is None)
    if customer is None:
        customer = Customer(name=name, contact_person=contact, phones=[phone], address=address)
        session.add(customer)
        session.flush()
    return customer


def _unit(session: Session, summary: DemoSummary, customer: Customer, number: int, k: int) -> None:
    serial = f"LOC{2023 + k}{number:03d}{k:02d}"
    unit = session.scalar(select(Unit).where(Unit.serial_number == serial))
    summary.count("units", unit is None)
    if unit is None:
        delivered = date(2023 + k, 1 + (number % 12), 10)
        session.add(Unit(customer_id=customer.id, model=MODELS[(number + k) % len(MODELS)], serial_number=serial,
                         delivery_date=delivered, warranty_end_date=delivered.replace(year=delivered.year + 2),
                         warranty_mileage_limit_km=200_000, warranty_hours_limit=None))


def _part(session: Session, summary: DemoSummary, part_number: str, name: str, price: str, serial_tracked: bool,
          supplier: str) -> None:
    part = session.scalar(select(Part).where(Part.part_number == part_number))
    summary.count("parts", part is None)
    if part is None:
        session.add(Part(part_number=part_number, name=name, unit_price=Decimal(price), serial_tracked=serial_tracked,
                         active=True, supplier=supplier))


def _opening_stock(session: Session, summary: DemoSummary) -> None:
    """One receiving note into the central store: ten of each counted part, three numbered units of each
    serial-tracked one. Recognised on a second run by its reference."""
    recorded = session.scalar(select(Receipt.id).where(Receipt.supplier_reference == OPENING_STOCK_REFERENCE))
    summary.count("receiving notes", recorded is None)
    if recorded is not None:
        return
    parts = session.scalars(select(Part).where(Part.part_number.in_([row[0] for row in PARTS]))
                            .order_by(Part.id)).all()
    lines = [{"part_id": part.id, "quantity": 3, "serials": [f"{part.part_number}-{n:04d}" for n in (1, 2, 3)]}
             if part.serial_tracked else {"part_id": part.id, "quantity": 10} for part in parts]
    receive_goods(session, {"supplier": "Opening balance", "supplier_reference": OPENING_STOCK_REFERENCE,
                            "lines": lines}, actor_id=None, now=clock_of(session).now())
