"""Field service reports: the draft, the customer's sign-off and its seal, corrections, review (issue 4;
RULES.md §5, JOB-3, WAR-1/2, REP-1..6)."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
import rfc8785
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from PIL import Image
from sqlalchemy import update

from backend.clock import ManualClock
from backend.reports.models import FieldReport, ReportPartLine
from tests import factories
from tests.test_dispatch_support import ZHENGZHOU, Desk, desk, etag, quick_passwords, settings  # noqa: F401
from tests.test_fieldwork_support import (Field, b64, complete_report, field, png, stock_van,  # noqa: F401
                                         supervisor)


def test_the_whole_path_from_dispatch_to_approval(field: Field, clock: ManualClock) -> None:
    """Dispatch (the fixture) → accept → depart → arrive → work done → report → sign-off → submit → approve."""
    field.to("work_done")
    written = field.write_report()
    assert written.status_code == 200, written.get_json()
    assert written.get_json()["part_lines"][0]["part_name"] == field.part["name"]
    signed = field.sign()
    assert signed.status_code == 200, signed.get_json()
    assert signed.get_json()["status"] == "signed"
    assert field.lead.post(f"{field.url}/report/submit").status_code == 200
    queue = field.supervisor.get("/api/v1/reports").get_json()
    assert [r["job_id"] for r in queue] == [field.job["id"]]
    report = field.report(field.supervisor)
    approved = field.supervisor.post(f"{field.url}/report/approve", headers=etag(report))
    assert approved.status_code == 200, approved.get_json()
    assert field.lead.get(field.url).get_json()["status"] == "approved"
    request = field.desk.agent.get(f"/api/v1/service-requests/{field.request['id']}").get_json()
    assert request["status"] == "resolved"  # INT-1
    assert field.lead.get(f"{field.url}/report/verify").get_json()["valid"] is True
    # REP-5: archived, read-only for everyone.
    assert field.write_report().status_code == 409
    assert field.lead.post(f"{field.url}/report/corrections").status_code == 409
    assert field.supervisor.get("/api/v1/reports").get_json() == []


def test_rep2_no_sign_off_before_the_work_is_done(field: Field) -> None:
    field.to("on_site")
    field.write_report()
    response = field.sign()
    assert response.status_code == 409
    assert response.get_json()["current_status"] == "on_site"
    assert field.report().get_json()["signed_at"] is None


def test_rep1_jobs3_the_customer_signs_only_a_complete_report(field: Field) -> None:
    field.to("work_done")
    field.write_report(root_cause=None)
    response = field.sign()
    assert response.status_code == 409
    assert response.get_json()["errors"][0]["field"] == "root_cause"
    field.write_report(within_warranty=False, warranty_reason=None,
                       part_lines=[])
    assert field.sign().get_json()["errors"][0]["field"] == "warranty_reason"


def test_the_report_needs_if_match_and_refuses_a_stale_write(field: Field) -> None:
    field.to("on_site")
    current = field.report()
    body = complete_report(field.part["id"])
    assert field.lead.put(f"{field.url}/report", json=body).status_code == 428
    assert field.lead.put(f"{field.url}/report", json=body, headers=etag(current)).status_code == 200
    stale = field.lead.put(f"{field.url}/report", json=body | {"mileage_km": 1}, headers=etag(current))
    assert stale.status_code == 412
    assert field.report().get_json()["mileage_km"] == 48000


def test_only_the_crews_lead_writes_the_report(desk: Desk, supervisor: object) -> None:
    request = desk.register(km=30)
    lead, mate = desk.technician(position=ZHENGZHOU), desk.technician(position=ZHENGZHOU)
    job = desk.dispatch(request["id"], technician_ids=[lead["id"], mate["id"]], lead_id=lead["id"]).get_json()
    url = f"/api/v1/jobs/{job['id']}"
    lead_api, mate_api = desk.as_technician(lead), desk.as_technician(mate)
    for action, body in (("accept", {}), ("arrive", {"position": {"latitude": 34.7, "longitude": 113.9}})):
        assert mate_api.post(f"{url}/{action}", json=body).status_code == 200
    current = mate_api.get(f"{url}/report")
    assert current.status_code == 200  # the crew reads it
    part = factories.part(desk.admin)
    response = mate_api.put(f"{url}/report", json=complete_report(part["id"]), headers=etag(current))
    assert response.status_code == 403
    assert lead_api.put(f"{url}/report", json=complete_report(part["id"]), headers=etag(current)).status_code == 200


def test_rep3_a_signed_report_cannot_change_and_a_correction_is_a_new_version_signed_again(field: Field) -> None:
    field.to("signed")
    assert field.write_report(work_done="Something else").status_code == 409
    correction = field.lead.post(f"{field.url}/report/corrections")
    assert correction.status_code == 201
    assert (correction.get_json()["version_no"], correction.get_json()["status"]) == (2, "draft")
    assert field.lead.get(field.url).get_json()["status"] == "work_done"
    assert field.write_report(work_done="Replaced the valve and the seal").status_code == 200
    assert field.sign(signer_name="Wang Li", satisfaction=4).status_code == 200
    versions = field.lead.get(f"{field.url}/report/versions").get_json()
    assert [(v["version_no"], v["status"], v["work_done"][:12]) for v in versions] == [
        (1, "superseded", "Replaced the"), (2, "signed", "Replaced the")]
    assert versions[0]["work_done"] != versions[1]["work_done"]
    # Both signatures still verify: the old one is kept exactly as the customer signed it.
    for version in (1, 2):
        verdict = field.lead.get(f"{field.url}/report/verify", query_string={"version": version}).get_json()
        assert verdict["valid"] is True, verdict


def test_rep3_a_tag_read_from_one_report_version_never_matches_another(field: Field) -> None:
    field.to("on_site")
    first_draft = field.report()  # version 1, untouched: its row is at version 1
    assert field.act("work-done").status_code == 200
    assert field.write_report().status_code == 200 and field.sign().status_code == 200
    correction = field.lead.post(f"{field.url}/report/corrections")  # version 2: a new row, also at row version 1
    assert correction.status_code == 201
    assert correction.headers["ETag"] != first_draft.headers["ETag"]
    stale = field.lead.put(f"{field.url}/report", headers=etag(first_draft), json=complete_report(field.part["id"])
                           | {"work_done": "Written over a version never read"})
    assert stale.status_code == 412
    assert field.report().get_json()["work_done"] != "Written over a version never read"


def test_rep3_verify_detects_a_row_altered_directly_in_the_database(field: Field) -> None:
    field.to("signed")
    assert field.lead.get(f"{field.url}/report/verify").get_json()["valid"] is True
    session = field.desk.session
    session.execute(update(ReportPartLine).values(quantity=3))
    session.commit()
    verdict = field.lead.get(f"{field.url}/report/verify").get_json()
    assert verdict["valid"] is False
    assert "no longer matches" in verdict["reason"]


def test_rep3_a_forged_digest_does_not_verify_either(field: Field) -> None:
    """Someone who can write the database rewrites the comments and recomputes the digest to match: without the
    server's private key the signature gives them away."""
    field.to("signed")
    forged = field.lead.get(f"{field.url}/report/verify").get_json()["content"]
    forged["sign_off"]["customer_comments"] = "Terrible service"
    session = field.desk.session
    session.execute(update(FieldReport).values(
        customer_comments="Terrible service", seal_digest=hashlib.sha256(rfc8785.dumps(forged)).hexdigest()))
    session.commit()
    verdict = field.lead.get(f"{field.url}/report/verify").get_json()
    assert verdict["valid"] is False
    assert "signature does not match" in verdict["reason"]


def test_rep3_a_customer_can_verify_the_copy_offline_with_the_published_key(field: Field, anonymous) -> None:
    field.to("signed")
    key = anonymous.get("/api/v1/signing-key").get_json()
    verdict = field.lead.get(f"{field.url}/report/verify").get_json()
    assert key["key_id"] == verdict["key_id"]
    digest = hashlib.sha256(rfc8785.dumps(verdict["content"])).digest()
    assert digest.hex() == verdict["digest"]
    # Raises InvalidSignature if the seal were not the server's.
    load_pem_public_key(key["public_key_pem"].encode()).verify(base64.b64decode(verdict["signature"]), digest)


def test_rep4_the_sign_off_records_signer_image_time_comments_and_rating(field: Field, clock: ManualClock) -> None:
    field.to("work_done")
    field.write_report()
    image = png(colour="blue")
    signed = field.sign(image=image, signature_kind="stamp", satisfaction=3,
                        customer_comments="Came late but fixed it").get_json()
    assert signed["signer_name"] == "Wang Li"
    assert signed["signature_kind"] == "stamp"
    assert signed["signature_sha256"] == hashlib.sha256(image).hexdigest()
    assert signed["signed_at"] == clock.now().isoformat()
    assert (signed["satisfaction"], signed["customer_comments"]) == (3, "Came late but fixed it")


@pytest.mark.parametrize(("image", "status"), [
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 415),  # a real image, but not an accepted type
    (b"%PDF-1.4 not an image at all", 415),
    (png()[:40], 422),  # a PNG cut short
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 415),
])
def test_rep4_a_bad_signature_image_is_refused_and_nothing_is_signed(field: Field, image: bytes,
                                                                       status: int) -> None:
    field.to("work_done")
    field.write_report()
    response = field.sign(image=image)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["errors"][0]["field"] == "signature_image"
    assert field.lead.get(field.url).get_json()["status"] == "work_done"
    assert field.report().get_json()["status"] == "draft"


def test_rep4_an_image_over_the_size_limit_is_refused(field: Field) -> None:
    field.to("work_done")
    field.write_report()
    noisy = bytes(range(256)) * 6_000  # 1.5 MB of pixels, stored uncompressed
    buffer = io.BytesIO()
    Image.frombytes("L", (1_000, len(noisy) // 1_000), noisy).save(buffer, format="PNG", compress_level=0)
    assert len(buffer.getvalue()) > 1_500_000
    response = field.sign(image=buffer.getvalue())
    assert (response.status_code, response.get_json()["errors"][0]["field"]) == (413, "signature_image")
    assert field.report().get_json()["status"] == "draft"


def test_a_signature_that_is_not_base64_names_the_field(field: Field) -> None:
    field.to("work_done")
    field.write_report()
    response = field.sign(image=None, signature_image="not base64!")
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "signature_image"


def test_war1_the_finding_cannot_contradict_itself_or_the_units_terms(field: Field, desk: Desk) -> None:
    field.to("on_site")
    response = field.write_report(disassembled_before=True)
    assert (response.status_code, response.get_json()["errors"][0]["field"]) == (422, "within_warranty")
    response = field.write_report(responsibility="customer")
    assert response.get_json()["errors"][0]["field"] == "within_warranty"
    response = field.write_report(within_warranty=False, warranty_reason="Misuse")
    assert response.get_json()["errors"][0]["field"] == "part_lines.0.covered_by_warranty"
    unit = desk.admin.get(f"/api/v1/units/{desk.unit['id']}")
    desk.admin.patch(f"/api/v1/units/{desk.unit['id']}", json={"warranty_mileage_limit_km": 40000},
                     headers=etag(unit))
    response = field.write_report()  # 48,000 km on the clock
    assert response.get_json()["errors"][0]["field"] == "within_warranty"
    assert "mileage" in response.get_json()["errors"][0]["detail"]


def test_rep6_chargeable_work_and_cash_need_a_prior_paid_service_approval(field: Field) -> None:
    field.to("on_site")
    chargeable = complete_report(field.part["id"])
    chargeable |= {"within_warranty": False, "warranty_reason": "Out of warranty since May",
                   "part_lines": [chargeable["part_lines"][0] | {"covered_by_warranty": False}]}
    response = field.write_report(**chargeable)
    assert (response.status_code, response.get_json()["errors"][0]["field"]) == (
        409, "part_lines.0.covered_by_warranty")
    assert field.lead.post(f"{field.url}/paid-service-approval", json={"scope": "x"}).status_code == 403
    approval = field.supervisor.post(f"{field.url}/paid-service-approval",
                                     json={"scope": "Replace the valve at list price", "estimated_amount": "80.00"})
    assert approval.status_code == 201
    assert field.supervisor.post(f"{field.url}/paid-service-approval", json={"scope": "again"}).status_code == 409
    assert field.write_report(**chargeable, cash_collected="80.00").get_json()["errors"][0]["field"] == \
        "cash_receipt_number"
    response = field.write_report(**chargeable, cash_collected="80.00", cash_receipt_number="R-2026-0042")
    assert response.status_code == 200
    assert (response.get_json()["cash_collected"], response.get_json()["cash_receipt_number"]) == (
        "80.00", "R-2026-0042")


def test_rep5_a_rejected_report_goes_back_to_the_lead_with_the_reason_and_is_signed_again(field: Field,
                                                                                          clock: ManualClock) -> None:
    field.to("submitted")
    assert field.supervisor.post(f"{field.url}/report/reject", json={}).status_code == 422
    assert field.lead.post(f"{field.url}/report/reject", json={"reason": "x"}).status_code == 403
    rejected = field.supervisor.post(f"{field.url}/report/reject", json={"reason": "Old serial missing a digit"})
    assert rejected.get_json()["review_outcome"] == "rejected"
    assert field.lead.get(field.url).get_json()["status"] == "work_done"
    [notice] = field.lead.get("/api/v1/me/notifications").get_json()
    assert (notice["kind"], notice["payload"]["reason"]) == ("report.rejected", "Old serial missing a digit")
    assert field.lead.post(f"{field.url}/report/corrections").status_code == 201
    correct = complete_report(field.part["id"])
    correct["part_lines"][0]["old_serial"] = "OLD-10"
    field.write_report(**correct)
    field.sign()
    clock.advance(hours=1)
    assert field.lead.post(f"{field.url}/report/submit").get_json()["version_no"] == 2
    report = field.report(field.supervisor)
    assert field.supervisor.post(f"{field.url}/report/approve").status_code == 428
    assert field.supervisor.post(f"{field.url}/report/approve", headers=etag(report)).status_code == 200


def test_rep5_the_supervisors_queue_is_oldest_submission_first(desk: Desk, supervisor: object,
                                                               clock: ManualClock) -> None:
    fields = []
    part = factories.part(desk.admin)
    for _ in range(3):
        request = desk.register(km=30)
        tech = desk.technician(position=ZHENGZHOU)
        job = desk.dispatch(request["id"], technician_ids=[tech["id"]]).get_json()
        stock_van(desk, tech["id"], part["id"])
        fields.append(Field(desk=desk, supervisor=supervisor, request=request, job=job,  # type: ignore[arg-type]
                            lead=desk.as_technician(tech), lead_technician=tech, part=part))
    for f in (fields[2], fields[0], fields[1]):
        clock.advance(minutes=10)
        f.to("submitted")
    queue = supervisor.get("/api/v1/reports", query_string={"status": "submitted"}).get_json()  # type: ignore
    assert [r["job_id"] for r in queue] == [fields[2].job["id"], fields[0].job["id"], fields[1].job["id"]]


def test_the_customer_copy_is_a_rendered_page_with_the_signature_and_seal(field: Field) -> None:
    field.to("signed")
    page = field.lead.get(f"{field.url}/report.html")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "Wang Li" in html and field.part["name"] in html and "OLD-1" in html
    assert 'src="data:image/png;base64,' in html
    assert field.report().get_json()["seal_digest"] in html
    assert "valid" in html and "NOT VALID" not in html
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_the_customer_copy_escapes_what_people_typed(field: Field) -> None:
    field.to("on_site")
    field.write_report(work_done="<script>alert('x')</script>")
    html = field.lead.get(f"{field.url}/report.html").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_photos_are_stored_by_content_hash_and_served_back(field: Field) -> None:
    field.to("on_site")
    image = png(colour="red")
    response = field.lead.post(f"{field.url}/photos", data={"file": (io.BytesIO(image), "a.png"),
                                                             "caption": "Worn valve"},
                               content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    photo = response.get_json()
    assert (photo["media_sha256"], photo["media_type"], photo["size"]) == (
        hashlib.sha256(image).hexdigest(), "image/png", len(image))
    content = field.supervisor.get(response.headers["Location"])
    assert (content.status_code, content.mimetype, content.data) == (200, "image/png", image)
    assert [p["caption"] for p in field.lead.get(f"{field.url}/photos").get_json()] == ["Worn valve"]
    fake = field.lead.post(f"{field.url}/photos", data={"file": (io.BytesIO(b"MZ\x90\x00exe"),
                                                                 "a.png", "image/png")},
                           content_type="multipart/form-data")
    assert (fake.status_code, fake.get_json()["errors"][0]["field"]) == (415, "file")


def test_sign_off_replayed_from_the_offline_queue_signs_once(field: Field) -> None:
    field.to("work_done")
    field.write_report()
    current = field.report()
    body = {"signer_name": "Wang Li", "signature_image": b64(png()), "satisfaction": 5}
    headers = etag(current) | {"Idempotency-Key": "sign-1"}
    first = field.lead.post(f"{field.url}/report/sign-off", json=body, headers=headers)
    again = field.lead.post(f"{field.url}/report/sign-off", json=body, headers=headers)
    assert (first.status_code, again.status_code, again.get_json()) == (200, 200, first.get_json())
    assert field.lead.post(f"{field.url}/report/sign-off", json=body | {"satisfaction": 1},
                           headers=headers).status_code == 422
    assert [v["version_no"] for v in field.lead.get(f"{field.url}/report/versions").get_json()] == [1]


def test_submit_and_correction_replayed_from_the_offline_queue_act_once(field: Field) -> None:
    field.to("signed")
    key = {"Idempotency-Key": "correct-1"}
    first = field.lead.post(f"{field.url}/report/corrections", headers=key)
    again = field.lead.post(f"{field.url}/report/corrections", headers=key)
    assert (first.status_code, again.status_code, again.get_json()) == (201, 201, first.get_json())
    assert [v["version_no"] for v in field.lead.get(f"{field.url}/report/versions").get_json()] == [1, 2]
    field.sign()
    key = {"Idempotency-Key": "submit-1"}
    first = field.lead.post(f"{field.url}/report/submit", headers=key)
    again = field.lead.post(f"{field.url}/report/submit", headers=key)
    assert (first.status_code, again.status_code, again.headers["Idempotent-Replayed"]) == (200, 200, "true")
    assert field.lead.post(f"{field.url}/report/submit").status_code == 409  # a real second submit


def test_a_photo_upload_replayed_byte_for_byte_is_stored_once(field: Field) -> None:
    field.to("on_site")
    boundary = "offline-queue-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nBefore\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + png() + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Idempotency-Key": "photo-1"}
    for _ in range(2):
        response = field.lead.post(f"{field.url}/photos", data=body, headers=headers,
                                   content_type=f"multipart/form-data; boundary={boundary}")
        assert response.status_code == 201, response.get_json()
    assert len(field.lead.get(f"{field.url}/photos").get_json()) == 1


def test_a_supervisor_on_the_crew_does_not_approve_their_own_report(desk: Desk, supervisor: Api) -> None:
    """Four eyes: one person may hold both roles (RULES.md §0), but not review their own work."""
    request = desk.register(km=30)
    both = desk.technician(position=ZHENGZHOU)
    desk.admin.patch(f"/api/v1/users/{both['user'].id}", json={"roles": ["technician", "supervisor"]},
                     headers=etag(desk.admin.get(f"/api/v1/users/{both['user'].id}")))
    job = desk.dispatch(request["id"], technician_ids=[both["id"]]).get_json()
    part = factories.part(desk.admin)
    stock_van(desk, both["id"], part["id"])
    field = Field(desk=desk, supervisor=supervisor, request=request, job=job, lead=desk.as_technician(both),
                  lead_technician=both, part=part)
    field.to("submitted")
    assert field.lead.post(f"{field.url}/report/approve", headers=etag(field.report())).status_code == 403
    assert field.lead.post(f"{field.url}/paid-service-approval", json={"scope": "x"}).status_code == 403
    assert supervisor.post(f"{field.url}/report/approve", headers=etag(field.report())).status_code == 200


def test_a_photo_whose_file_is_gone_is_a_404_not_a_crash(field: Field, settings) -> None:
    field.to("on_site")
    response = field.lead.post(f"{field.url}/photos", data={"file": (io.BytesIO(png(colour="green")), "a.png")},
                               content_type="multipart/form-data")
    sha = response.get_json()["media_sha256"]
    (settings.instance_path / "media" / sha[:2] / sha[2:4] / sha).unlink()
    assert field.lead.get(response.headers["Location"]).status_code == 404
