"""Attachment routes through chalice.test.Client: the slot, bilingual 422s, tenancy (404, never
403), staff access, and the OpenAPI document."""
from __future__ import annotations

from sos1379.institutes import service as institute_service
from tests.api.test_institute_api import call, keys, referred_case  # noqa: F401 - fixtures
from tests.integration.attachment_support import bucket, photo_with_gps, scanner  # noqa: F401 - fixtures

PDF = b"%PDF-1.4\n%%EOF\n"


def slot(client, receipt, body=None, token=None):
    return call(client, "POST", f"/cases/{receipt['case_id']}/attachments",
                body=body or {"filename": "crack.jpg", "content_type": "image/jpeg", "size": 2048},
                headers={"X-Tracking-Token": token or receipt["tracking_token"]})


def test_sme_gets_an_upload_slot_and_a_422_problem_per_bad_field(client, store, bucket, sample_case):
    receipt = referred_case(store, sample_case)
    ok = slot(client, receipt)
    assert ok.status_code == 201, ok.body
    upload = ok.json_body["upload"]
    assert upload["method"] == "POST" and upload["fields"]["key"].startswith(f"incoming/{receipt['case_id']}/")
    assert ok.headers["Cache-Control"] == "no-store"
    bad = slot(client, receipt, {"filename": "x.exe", "content_type": "application/x-msdownload", "size": 10})
    assert bad.status_code == 422 and bad.headers["Content-Type"] == "application/problem+json"
    error = bad.json_body["errors"][0]
    assert error["field"] == "content_type" and error["code"] == "unsupported_type"
    assert error["message_ko"] and error["message_en"]
    assert slot(client, receipt, token="wrong").status_code == 404


def test_files_open_for_the_referred_institute_and_staff_only(client, store, keys, bucket, scanner, sample_case,
                                                              monkeypatch):
    from sos1379.coordinators import auth
    from sos1379.settings import get_settings

    secret = "attachments-test-secret-of-at-least-32-bytes"
    monkeypatch.setenv("COORDINATOR_DEV_JWT_SECRET", secret)
    get_settings.cache_clear()

    receipt = referred_case(store, sample_case)
    case_id = receipt["case_id"]
    up = slot(client, receipt, {"filename": "crack.jpg", "content_type": "image/jpeg", "size": 4096}).json_body
    bucket.s3.put_object(Bucket=bucket.name, Key=up["upload"]["fields"]["key"], Body=photo_with_gps())
    path = f"/institute/referrals/{case_id}/attachments"
    assert call(client, "GET", f"{path}/{up['attachment_id']}", keys["KITECH"]).status_code == 404  # not scanned
    scanner.run()
    listed = call(client, "GET", path, keys["KITECH"])
    assert listed.status_code == 200 and listed.json_body["attachments"][0]["status"] == "available"
    opened = call(client, "GET", f"{path}/{up['attachment_id']}", keys["KITECH"])
    assert opened.status_code == 200 and "X-Amz-Signature" in opened.json_body["url"]
    assert call(client, "GET", f"{path}/{up['attachment_id']}", keys["KIMS"]).status_code == 404
    assert call(client, "GET", path, keys["KIMS"]).status_code == 404
    assert call(client, "GET", f"{path}/{up['attachment_id']}").status_code == 401
    assert call(client, "GET", f"/cases/{case_id}/attachments/{up['attachment_id']}",
                headers={"X-Tracking-Token": receipt["tracking_token"]}).status_code == 404
    staff = {"Authorization": f"Bearer {auth.mint_dev_token(secret, 'alice', 'counselor')}"}
    staff_path = f"/coordinator/cases/{case_id}/attachments"
    assert call(client, "GET", staff_path, headers=staff).json_body["attachments"][0]["filename"] == "crack.jpg"
    assert call(client, "GET", f"{staff_path}/{up['attachment_id']}", headers=staff).status_code == 200
    assert call(client, "GET", staff_path).status_code == 401


def test_institute_attaches_to_its_answer_only_after_accepting(client, store, keys, bucket, sample_case):
    receipt = referred_case(store, sample_case)
    path = f"/institute/referrals/{receipt['case_id']}/attachments"
    body = {"filename": "report.pdf", "content_type": "application/pdf", "size": len(PDF)}
    assert call(client, "POST", path, keys["KITECH"], body).status_code == 409
    institute_service.accept(store, "KITECH", receipt["case_id"])
    made = call(client, "POST", path, keys["KITECH"], body)
    assert made.status_code == 201 and made.json_body["message"] == "answer:KITECH"
    assert call(client, "POST", path, keys["KIMS"], body).status_code == 404


def test_openapi_document_has_the_attachment_routes(client):
    doc = call(client, "GET", "/openapi.json").json_body
    for path in ("/cases/{case_id}/attachments", "/cases/{case_id}/attachments/{attachment_id}",
                 "/institute/referrals/{case_id}/attachments",
                 "/institute/referrals/{case_id}/attachments/{attachment_id}",
                 "/coordinator/cases/{case_id}/attachments/{attachment_id}"):
        assert path in doc["paths"], path
    assert "AttachmentUpload" in doc["components"]["schemas"]
