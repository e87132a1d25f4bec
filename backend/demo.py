"""Demo data: realistic stations, technicians, customers, units, parts, opening stock in the central store, and a
few service requests with jobs at each step of the technician's flow. Safe to run again: rows are matched on their
natural keys (station code, username, serial number, part number, receiving note reference) and never duplicated;
the requests are made only into an empty register."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from geopy.distance import geodesic

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.accounts.models import Role
from backend.accounts.service import create_user, find_user
from backend.config import Settings
from backend.customers.models import Customer, Unit
from backend.db import clock_of
from backend.dispatch.candidates import DEFAULT_LIMIT
from backend.dispatch.models import ServiceRequest
from backend.dispatch.service import DispatchOrder, dispatch, register_request
from backend.fieldwork.service import Fix, Report, act
from backend.parts.models import Part, Receipt
from backend.parts.stock import receive_goods
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
]
TECHNICIAN_PASSWORD = "technician-demo-pass"

# A board with something on it: (customer row, station row, km and bearing from it, fault, category, how far the
# job has got). Hours ago it was reported, so the clocks show a spread of urgency.
DEMO_REQUESTS = [
    (0, 0, 70, 90, "Rear door will not close", "body", "registered", 2),
    (1, 0, 120, 270, "Engine warning lamp, power loss on hills", "chassis_engine", "registered", 9),
    (10, 1, 25, 45, "Air conditioning blows warm air", "other", "assigned", 3),
    (3, 2, 80, 300, "Driver's window regulator broken", "body", "accepted", 6),
    (11, 5, 12, 180, "Brakes squeal at low speed", "chassis_engine", "on_site", 14),
    (6, 6, 30, 300, "Headlamp loose after a pothole", "body", "work_done", 20),
]
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


def load_demo_data(session: Session, settings: Settings,
                   progress: Callable[[str], None] = lambda _m: None) -> DemoSummary:
    summary = DemoSummary()
    progress("stations")
    stations = [_station(session, summary, *row) for row in STATIONS]
    progress("office users")
    for username, password, roles, full_name in DEMO_USERS:
        _user(session, summary, username, password, roles, full_name)
    progress(f"{TECHNICIAN_COUNT} technicians")
    for number in range(1, TECHNICIAN_COUNT + 1):
        _technician(session, summary, number, stations[(number - 1) % len(stations)])
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
    _field_work(session, summary, settings)
    return summary


def _field_work(session: Session, summary: DemoSummary, settings: Settings) -> None:
    existing = session.scalar(select(func.count()).select_from(ServiceRequest)) or 0
    if existing:
        summary.present["service requests"] = existing
        return
    now = clock_of(session).now()
    dispatcher = find_user(session, "dispatcher")
    agent = find_user(session, "agent")
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
        job = dispatch(session, request.id, DispatchOrder(None, None, None), actor_id=dispatcher.id, now=now,
                       travel_speed_kmh=settings.travel_speed_kmh, candidate_limit=DEFAULT_LIMIT)
        technician = session.get(Technician, job.lead_technician_id)
        for action in STEPS[stage]:
            at_site = Fix(site.latitude, site.longitude, 10.0) if action == "arrive" else None
            act(session, job, action, technician.user, Report(position=at_site), now=now,
                arrival_skew=timedelta(seconds=settings.arrival_clock_skew_seconds))
        summary.count("jobs", True)


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


def _user(session: Session, summary: DemoSummary, username: str, password: str, roles: list[str], full_name: str
          ) -> None:
    existing = find_user(session, username)
    summary.count("users", existing is None)
    if existing is None:
        create_user(session, username=username, password=password, roles=list(roles), full_name=full_name)
        summary.credentials.append((username, password, [str(r) for r in roles]))
    else:
        summary.credentials.append((username, "(unchanged)", existing.roles))


def _technician(session: Session, summary: DemoSummary, number: int, station: Station) -> None:
    username = f"tech{number:02d}"
    user = find_user(session, username)
    if user is None:
        full_name = f"{SURNAMES[number % len(SURNAMES)]} {GIVEN[(number * 7) % len(GIVEN)]}"
        user = create_user(session, username=username, password=TECHNICIAN_PASSWORD, roles=[Role.TECHNICIAN],
                           full_name=full_name, station_id=station.id)
    technician = session.scalar(select(Technician).where(Technician.user_id == user.id))
    summary.count("technicians", technician is None)
    if technician is None:
        technician = Technician(user_id=user.id, home_station_id=station.id, active=True, on_shift=number % 5 != 0)
        technician.skills = [SKILLS[number % len(SKILLS)], SKILLS[(number * 3) % len(SKILLS)]]
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
