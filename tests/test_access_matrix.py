"""The role matrix: which roles may call which endpoint (issue 2 §5, RULES.md §0).

The table below is the access policy in one place. Every API endpoint must appear in it, and each row is
checked against the running app: a caller without a token gets 401, a role outside the row gets 403, and a
role inside it gets past the access check (any status but 401/403; bodies are empty, so usually 404/422/428).
"""

import pytest

from backend.accounts.models import ROLE_VALUES

ALL = frozenset(ROLE_VALUES)
OFFICE = frozenset({"dispatcher", "supervisor", "manager", "admin"})
CUSTOMER_READERS = frozenset({"agent", "dispatcher", "supervisor", "manager", "admin", "warehouse"})
# Quality investigates the requests (INV-2) and finance books their costs (CST-2): both read the register.
REQUEST_READERS = frozenset({"agent", "dispatcher", "supervisor", "manager", "admin", "quality", "finance"})
# Not the quality and finance roles: they read the register and the costs, not the stores' books.
STOCK_READERS = frozenset({"technician", "dispatcher", "supervisor", "warehouse", "manager", "admin"})
FLOW_READERS = STOCK_READERS
BOOK_READERS = frozenset({"warehouse", "supervisor", "manager", "admin"})
PUBLIC = "public"

MATRIX = {
    "GET /api/v1/health": PUBLIC,
    "GET /api/v1/health/ready": PUBLIC,
    "POST /api/v1/auth/token": PUBLIC,
    "POST /api/v1/auth/refresh": PUBLIC,
    "POST /api/v1/auth/logout": PUBLIC,
    "GET /api/v1/me": ALL,
    "GET /api/v1/users": {"admin"},
    "POST /api/v1/users": {"admin"},
    "GET /api/v1/users/<id:user_id>": {"admin"},
    "PATCH /api/v1/users/<id:user_id>": {"admin"},
    "DELETE /api/v1/users/<id:user_id>/sessions": {"admin"},
    "GET /api/v1/stations": ALL,
    "POST /api/v1/stations": {"admin"},
    "GET /api/v1/stations/<id:station_id>": ALL,
    "PATCH /api/v1/stations/<id:station_id>": {"admin"},
    "DELETE /api/v1/stations/<id:station_id>": {"admin"},
    "GET /api/v1/technicians": OFFICE,
    "POST /api/v1/technicians": {"admin", "supervisor"},
    "GET /api/v1/technicians/<id:technician_id>": OFFICE,
    "PATCH /api/v1/technicians/<id:technician_id>": {"admin", "supervisor"},
    "DELETE /api/v1/technicians/<id:technician_id>": {"admin", "supervisor"},
    "PUT /api/v1/technicians/<id:technician_id>/position": {"technician"},
    "GET /api/v1/customers": CUSTOMER_READERS,
    "POST /api/v1/customers": {"agent", "admin"},
    "GET /api/v1/customers/<id:customer_id>": CUSTOMER_READERS,
    "PATCH /api/v1/customers/<id:customer_id>": {"agent", "admin"},
    "DELETE /api/v1/customers/<id:customer_id>": {"agent", "admin"},
    "GET /api/v1/units": CUSTOMER_READERS,
    "POST /api/v1/units": {"agent", "admin", "manager"},
    "GET /api/v1/units/<id:unit_id>": CUSTOMER_READERS,
    "PATCH /api/v1/units/<id:unit_id>": {"agent", "admin", "manager"},
    "DELETE /api/v1/units/<id:unit_id>": {"agent", "admin", "manager"},
    "GET /api/v1/parts": ALL,
    "POST /api/v1/parts": {"warehouse", "admin"},
    "GET /api/v1/parts/<id:part_id>": ALL,
    "PATCH /api/v1/parts/<id:part_id>": {"warehouse", "admin"},
    "DELETE /api/v1/parts/<id:part_id>": {"warehouse", "admin"},
    "GET /api/v1/audit": {"admin", "manager"},
    # Service requests, SLA clocks and dispatch (issue 3)
    "POST /api/v1/service-requests": {"agent", "dispatcher"},
    "GET /api/v1/service-requests": REQUEST_READERS,
    "GET /api/v1/service-requests/<id:service_request_id>": REQUEST_READERS,
    "POST /api/v1/service-requests/<id:service_request_id>/decision": {"manager"},
    "POST /api/v1/service-requests/<id:service_request_id>/replies": {"dispatcher"},
    "POST /api/v1/service-requests/<id:service_request_id>/written-contacts": {"dispatcher", "supervisor"},
    "POST /api/v1/service-requests/<id:service_request_id>/communications": {"agent", "dispatcher", "supervisor",
                                                                            "manager"},
    "GET /api/v1/service-requests/<id:service_request_id>/communications": REQUEST_READERS,
    "POST /api/v1/service-requests/<id:service_request_id>/deadline-waivers": {"manager"},
    "GET /api/v1/service-requests/<id:service_request_id>/candidates": {"dispatcher", "supervisor", "manager"},
    "POST /api/v1/service-requests/<id:service_request_id>/dispatch": {"dispatcher"},
    "GET /api/v1/jobs": OFFICE | {"technician"},
    "GET /api/v1/jobs/<id:job_id>": OFFICE | {"technician"},
    "GET /api/v1/jobs/<id:job_id>/dispatch-decision": OFFICE,
    # The technician's app and field reports (issue 4): the crew acts, the office reads, supervisors review
    "POST /api/v1/jobs/<id:job_id>/accept": {"technician"},
    "POST /api/v1/jobs/<id:job_id>/decline": {"technician"},
    "POST /api/v1/jobs/<id:job_id>/depart": {"technician"},
    "POST /api/v1/jobs/<id:job_id>/arrive": {"technician"},
    "POST /api/v1/jobs/<id:job_id>/work-done": {"technician"},
    "POST /api/v1/jobs/<id:job_id>/escalate": {"technician"},
    "POST /api/v1/jobs/<id:job_id>/cancel": {"dispatcher"},
    "GET /api/v1/jobs/<id:job_id>/events": OFFICE | {"technician"},
    "GET /api/v1/me/jobs": {"technician"},
    # A technician's day as ordered stops (issue 14, PLN-2): their own in the app, the office's for its technicians
    "GET /api/v1/me/route": {"technician"},
    "GET /api/v1/technicians/<id:technician_id>/route": OFFICE,
    # Dispatch plans (issue 14, PLN-1): the dispatcher plans and commits; the planners of the candidates list read
    "GET /api/v1/dispatch-plans": {"dispatcher", "supervisor", "manager"},
    "POST /api/v1/dispatch-plans": {"dispatcher"},
    "GET /api/v1/dispatch-plans/<id:plan_id>": {"dispatcher", "supervisor", "manager"},
    "POST /api/v1/dispatch-plans/<id:plan_id>/commit": {"dispatcher"},
    "GET /api/v1/jobs/<id:job_id>/report": OFFICE | {"technician"},
    "PUT /api/v1/jobs/<id:job_id>/report": {"technician"},
    "GET /api/v1/jobs/<id:job_id>/report/versions": OFFICE | {"technician"},
    "POST /api/v1/jobs/<id:job_id>/report/sign-off": {"technician"},
    "POST /api/v1/jobs/<id:job_id>/report/corrections": {"technician"},
    "GET /api/v1/jobs/<id:job_id>/report/verify": OFFICE | {"technician"},
    "GET /api/v1/jobs/<id:job_id>/report.html": OFFICE | {"technician"},
    "GET /api/v1/jobs/<id:job_id>/report.pdf": OFFICE | {"technician"},
    "POST /api/v1/jobs/<id:job_id>/report/submit": {"technician"},
    "POST /api/v1/jobs/<id:job_id>/report/approve": {"supervisor"},
    "POST /api/v1/jobs/<id:job_id>/report/reject": {"supervisor"},
    "GET /api/v1/reports": {"supervisor", "manager", "admin"},
    "GET /api/v1/signing-key": PUBLIC,
    "POST /api/v1/jobs/<id:job_id>/paid-service-approval": {"supervisor"},
    "GET /api/v1/jobs/<id:job_id>/paid-service-approval": OFFICE | {"technician"},
    "POST /api/v1/jobs/<id:job_id>/photos": {"technician"},
    "GET /api/v1/jobs/<id:job_id>/photos": OFFICE | {"technician"},
    "GET /api/v1/jobs/<id:job_id>/photos/<id:photo_id>/content": OFFICE | {"technician"},
    "GET /api/v1/me/notifications": ALL,
    "POST /api/v1/me/notifications/<id:notification_id>/read": ALL,
    "GET /api/v1/webhooks": {"admin"},
    "POST /api/v1/webhooks": {"admin"},
    "GET /api/v1/webhooks/<id:webhook_id>": {"admin"},
    "PATCH /api/v1/webhooks/<id:webhook_id>": {"admin"},
    "DELETE /api/v1/webhooks/<id:webhook_id>": {"admin"},
    "GET /api/v1/webhooks/<id:webhook_id>/deliveries": {"admin"},
    # Stock (issue 5, PRT-1/PRT-2); a technician moves stock only from and into their own van
    "GET /api/v1/stock-locations": STOCK_READERS,
    "GET /api/v1/stock-locations/<id:location_id>": STOCK_READERS,
    "GET /api/v1/stock": STOCK_READERS,
    "GET /api/v1/stock/ledger": STOCK_READERS,
    "POST /api/v1/stock/receipts": {"warehouse"},
    "GET /api/v1/stock/receipts": STOCK_READERS,
    "GET /api/v1/stock/receipts/<id:receipt_id>": STOCK_READERS,
    "POST /api/v1/stock/transfers": {"warehouse", "technician"},
    "GET /api/v1/stock/transfers": STOCK_READERS,
    "GET /api/v1/stock/transfers/<id:transfer_id>": STOCK_READERS,
    "POST /api/v1/stock/transfers/<id:transfer_id>/receive": {"warehouse", "technician"},
    "POST /api/v1/stock/transfers/<id:transfer_id>/cancel": {"warehouse", "technician"},
    "GET /api/v1/serials/<serial>": STOCK_READERS,
    # Parts flow on jobs (issue 5, PRT-3..PRT-8); technicians see only their own requisitions, old parts, freight
    "POST /api/v1/requisitions": {"technician"},
    "GET /api/v1/requisitions": FLOW_READERS,
    "GET /api/v1/requisitions/<id:requisition_id>": FLOW_READERS,
    "POST /api/v1/requisitions/<id:requisition_id>/approve": {"supervisor"},
    "POST /api/v1/requisitions/<id:requisition_id>/reject": {"supervisor"},
    "POST /api/v1/requisitions/<id:requisition_id>/issue": {"warehouse"},
    "POST /api/v1/requisitions/<id:requisition_id>/return-unused": {"warehouse", "technician"},
    "GET /api/v1/old-parts": FLOW_READERS,
    "GET /api/v1/old-parts/<id:old_part_id>": FLOW_READERS,
    "POST /api/v1/old-parts/<id:old_part_id>/receive": {"warehouse"},
    "POST /api/v1/old-parts/<id:old_part_id>/excuse": {"supervisor"},
    "POST /api/v1/old-parts/<id:old_part_id>/dispose": {"warehouse"},
    "GET /api/v1/write-offs": BOOK_READERS,
    "POST /api/v1/supplier-claims": {"warehouse"},
    "GET /api/v1/supplier-claims": BOOK_READERS,
    "GET /api/v1/supplier-claims/<id:claim_id>": BOOK_READERS,
    "POST /api/v1/supplier-claims/<id:claim_id>/send": {"warehouse"},
    "POST /api/v1/supplier-claims/<id:claim_id>/settle": {"warehouse"},
    "POST /api/v1/freight": {"technician", "warehouse"},
    "GET /api/v1/freight": BOOK_READERS | {"technician"},
    "GET /api/v1/freight/<id:freight_id>": BOOK_READERS | {"technician"},
    "POST /api/v1/freight/<id:freight_id>/approve": {"supervisor"},
    "POST /api/v1/freight/<id:freight_id>/reject": {"supervisor"},
    # Callbacks and KPIs (issue 6, CB-1..3, RULES.md §9): agents make the callbacks, their leaders read them
    "PUT /api/v1/service-requests/<id:service_request_id>/follow-up": {"agent", "dispatcher", "supervisor",
                                                                      "manager"},
    "GET /api/v1/callbacks": {"agent", "supervisor", "manager"},
    "GET /api/v1/callbacks/<id:callback_id>": {"agent", "supervisor", "manager"},
    "POST /api/v1/callbacks/<id:callback_id>/result": {"agent"},
    "GET /api/v1/kpis": {"manager", "supervisor"},
    # Service costs and failure analysis (issue 15, CST-1..3): technicians raise expenses, supervisors off the crew
    # decide them, finance allocates; quality, finance and managers read the costs and failures
    "POST /api/v1/expenses": {"technician"},
    "GET /api/v1/expenses": {"technician", "supervisor", "manager", "finance", "admin"},
    "GET /api/v1/expenses/<id:expense_id>": {"technician", "supervisor", "manager", "finance", "admin"},
    "POST /api/v1/expenses/<id:expense_id>/approve": {"supervisor"},
    "POST /api/v1/expenses/<id:expense_id>/reject": {"supervisor"},
    "GET /api/v1/service-requests/<id:service_request_id>/costs": {"manager", "finance", "quality"},
    "GET /api/v1/service-requests/<id:service_request_id>/costs/<source>/<id:source_id>": {"manager", "finance",
                                                                                            "quality"},
    "PUT /api/v1/service-requests/<id:service_request_id>/costs/<source>/<id:source_id>/allocation": {"finance"},
    "GET /api/v1/costs": {"manager", "finance", "quality"},
    "GET /api/v1/failure-analysis": {"manager", "finance", "quality"},
    # The register to its end and the investigation (issue 15, INV-1, INV-2): agents tell the customer the outcome,
    # agents and managers close; quality inspection and the supervisors record the investigation
    "POST /api/v1/service-requests/<id:service_request_id>/feedback": {"agent"},
    "POST /api/v1/service-requests/<id:service_request_id>/closure": {"agent", "manager"},
    "GET /api/v1/service-requests/<id:service_request_id>/investigation": REQUEST_READERS,
    "PUT /api/v1/service-requests/<id:service_request_id>/investigation": {"quality", "supervisor"},
    "GET /api/v1/root-causes": REQUEST_READERS,
    "GET /api/v1/service-requests.csv": REQUEST_READERS,
}


def _endpoints(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield f"{method} {rule.rule}", app.view_functions[rule.endpoint]


def _url(rule):
    path = rule.split(" ", 1)[1]
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        path = path[:start] + "1" + path[end + 1:]
    return path


def test_every_endpoint_is_in_the_matrix_and_declares_its_roles(app):
    declared = {}
    for key, view in _endpoints(app):
        roles = getattr(view, "access_roles", None)
        assert roles is not None, f"{key} declares no access (use blp.access(...) or blp.public)"
        declared[key] = roles
    assert set(declared) == set(MATRIX), (
        f"missing from MATRIX: {sorted(set(declared) - set(MATRIX))}; "
        f"stale in MATRIX: {sorted(set(MATRIX) - set(declared))}")


@pytest.mark.parametrize("endpoint", sorted(k for k, v in MATRIX.items() if v != PUBLIC))
def test_anonymous_callers_get_401(anonymous, endpoint):
    method = endpoint.split(" ", 1)[0]
    response = anonymous.request(method, _url(endpoint), json={})
    assert response.status_code == 401, response.get_json()
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("role", sorted(ROLE_VALUES))
def test_each_role_gets_exactly_the_access_in_the_matrix(as_role, make_user, role):
    make_user("agent")  # id 1 in the URLs is this bystander, so ending user 1's sessions does not end the caller's
    api = as_role(role)
    wrong = []
    for endpoint, allowed in sorted(MATRIX.items()):
        if allowed == PUBLIC:
            continue
        method = endpoint.split(" ", 1)[0]
        status = api.request(method, _url(endpoint), json={}).status_code
        expected_allowed = role in allowed
        if expected_allowed and status in (401, 403) or not expected_allowed and status != 403:
            wrong.append(f"{endpoint}: {status} (allowed={expected_allowed})")
    assert not wrong, "\n".join(wrong)
