"""Attachments end to end on in-process moto: upload slot (presigned POST conditions), the S3
notification and GuardDuty stand-in, EXIF/GPS stripping, the scan gate, who may open what, and
retention."""
from __future__ import annotations

from datetime import timedelta

import pytest

from sos1379 import attachments
from sos1379.institutes import service as institute_service
from sos1379.errors import CaseNotFound, NotFound, ValidationFailed
from sos1379.events import parse_iso
from tests.api.test_institute_api import referred_case
from tests.integration.attachment_support import (bucket, exif_of, photo_with_gps, policy_of,  # noqa: F401
                                                  scanner)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def upload(store, bucket, receipt, data: bytes, content_type="image/jpeg", filename="weld.jpg", **extra) -> dict:
    """What the browser does: ask for a slot, then POST the bytes to S3 (here: put the exact key)."""
    slot = attachments.create_sme_upload(store, receipt["case_id"], receipt["tracking_token"],
                                         {"filename": filename, "content_type": content_type, "size": len(data),
                                          **extra}, where=bucket)
    bucket.s3.put_object(Bucket=bucket.name, Key=slot["upload"]["fields"]["key"], Body=data, ContentType=content_type)
    return slot


def test_photo_is_reencoded_without_exif_or_gps_and_opens_for_the_institute_only_after_a_clean_scan(
        store, bucket, scanner, sample_case):
    receipt = referred_case(store, sample_case)
    original = photo_with_gps((64, 48), orientation=6)
    assert exif_of(original)["gps"]  # the test photo really carries a position
    slot = upload(store, bucket, receipt, original)
    aid = slot["attachment_id"]

    scanner.standin.step()  # S3 notifies: the function strips and publishes, GuardDuty has not scanned yet
    outcomes = [attachments.handle_event(store, bucket, e) for e in scanner.events()]
    assert [o.result for o in outcomes] == ["scanning"]
    with pytest.raises(NotFound):  # not scanned yet: nobody opens it
        attachments.open_for_institute(store, "KITECH", receipt["case_id"], aid, where=bucket)

    assert [o.result for o in scanner.run()] == ["available"]
    opened = attachments.open_for_institute(store, "KITECH", receipt["case_id"], aid, where=bucket)
    assert f"files/{receipt['case_id']}/{aid}" in opened["url"] and "X-Amz-Expires=300" in opened["url"]
    published = bucket.s3.get_object(Bucket=bucket.name, Key=attachments.file_key(receipt["case_id"], aid))
    stripped = exif_of(published["Body"].read())
    assert stripped["exif"] == {} and stripped["gps"] == {}
    assert stripped["size"] == (48, 64)  # orientation 6 applied before the EXIF went
    listed = bucket.s3.list_objects_v2(Bucket=bucket.name).get("Contents", [])
    assert [o["Key"] for o in listed] == [attachments.file_key(receipt["case_id"], aid)]  # original deleted
    tags = bucket.s3.get_object_tagging(Bucket=bucket.name, Key=attachments.file_key(receipt["case_id"], aid))
    assert {"Key": "GuardDutyMalwareScanStatus", "Value": "NO_THREATS_FOUND"} in tags["TagSet"]
    assert attachments.open_for_staff(store, receipt["case_id"], aid, where=bucket)["filename"] == "weld.jpg"


def test_presigned_post_policy_carries_the_conditions_s3_enforces(store, bucket, sample_case):
    receipt = referred_case(store, sample_case)
    slot = attachments.create_sme_upload(store, receipt["case_id"], receipt["tracking_token"],
                                         {"filename": "도면.pdf", "content_type": "application/pdf", "size": 1000},
                                         where=bucket)
    conditions = policy_of(slot["upload"])["conditions"]
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", 1, 20 * 1024 * 1024] in conditions
    assert ["starts-with", "$key", f"incoming/{receipt['case_id']}/"] in conditions
    assert {"key": f"incoming/{receipt['case_id']}/{slot['attachment_id']}"} in conditions
    assert slot["upload"]["fields"]["Content-Type"] == "application/pdf"


def test_file_holding_a_threat_is_blocked_and_deleted_when_scanned(store, bucket, scanner, sample_case):
    receipt = referred_case(store, sample_case)
    slot = upload(store, bucket, receipt, PDF + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE", "application/pdf", "report.pdf")
    assert [o.result for o in scanner.run()] == ["scanning", "blocked"]
    item = store.get_attachment(receipt["case_id"], slot["attachment_id"])
    assert item["status"] == "blocked" and item["reason"] == "threats_found"
    assert bucket.s3.list_objects_v2(Bucket=bucket.name).get("KeyCount") == 0
    with pytest.raises(NotFound):
        attachments.open_for_institute(store, "KITECH", receipt["case_id"], slot["attachment_id"], where=bucket)


@pytest.mark.parametrize("data,declared,reason", [
    (b"just text, not a PDF", "application/pdf", "type_mismatch"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image/jpeg", "type_mismatch"),
    (b"\xff\xd8\xff\xe0 broken jpeg", "image/jpeg", "unreadable_image"),
])
def test_upload_is_rejected_and_deleted_when_bytes_do_not_match_the_declared_type(
        store, bucket, scanner, sample_case, data, declared, reason):
    receipt = referred_case(store, sample_case)
    slot = upload(store, bucket, receipt, data, declared, "x")
    assert [(o.result, o.reason) for o in scanner.run()] == [("rejected", reason)]
    assert bucket.s3.list_objects_v2(Bucket=bucket.name).get("KeyCount") == 0
    assert store.get_attachment(receipt["case_id"], slot["attachment_id"])["status"] == "rejected"


def test_redelivered_events_change_nothing_when_already_handled(store, bucket, scanner, sample_case):
    receipt = referred_case(store, sample_case)
    upload(store, bucket, receipt, PDF, "application/pdf", "a.pdf")
    scanner.standin.step()
    created = scanner.events()
    attachments.handle_event(store, bucket, created[0])
    assert attachments.handle_event(store, bucket, created[0]).result == "ignored"
    scanner.standin.step()
    scanned = scanner.events()
    assert attachments.handle_event(store, bucket, scanned[0]).result == "available"
    assert attachments.handle_event(store, bucket, scanned[0]).result == "ignored"


def test_other_institute_and_the_public_cannot_open_or_list_the_files(store, bucket, scanner, sample_case):
    receipt = referred_case(store, sample_case)
    slot = upload(store, bucket, receipt, PDF, "application/pdf", "a.pdf")
    scanner.run()
    with pytest.raises(CaseNotFound):
        attachments.open_for_institute(store, "KIMS", receipt["case_id"], slot["attachment_id"], where=bucket)
    with pytest.raises(CaseNotFound):
        attachments.list_for_institute(store, "KIMS", receipt["case_id"])
    with pytest.raises(CaseNotFound):
        attachments.open_for_sme(store, receipt["case_id"], "wrong", slot["attachment_id"], where=bucket)
    with pytest.raises(NotFound):  # the SME's own upload is for the institute and staff
        attachments.open_for_sme(store, receipt["case_id"], receipt["tracking_token"], slot["attachment_id"],
                                 where=bucket)


def test_institute_answer_file_opens_for_the_sme_and_reply_files_go_with_the_open_request(
        store, bucket, scanner, sample_case):
    receipt = referred_case(store, sample_case)
    case_id, token = receipt["case_id"], receipt["tracking_token"]
    with pytest.raises(Exception) as not_accepted:
        attachments.create_institute_upload(store, "KITECH", case_id, {"filename": "a.pdf",
                                            "content_type": "application/pdf", "size": 10}, where=bucket)
    assert type(not_accepted.value).__name__ == "UploadClosed"
    institute_service.accept(store, "KITECH", case_id)
    answer = attachments.create_institute_upload(store, "KITECH", case_id, {
        "filename": "열처리 조건.pdf", "content_type": "application/pdf", "size": len(PDF)}, where=bucket)
    bucket.s3.put_object(Bucket=bucket.name, Key=answer["upload"]["fields"]["key"], Body=PDF)
    institute_service.request_info(store, "KITECH", case_id, {"question": "균열 부위 사진을 보내 주세요."})
    reply = upload(store, bucket, receipt, photo_with_gps(), filename="crack.jpg")
    assert reply["message"].startswith("reply:")
    scanner.run()
    opened = attachments.open_for_sme(store, case_id, token, answer["attachment_id"], where=bucket)
    assert opened["filename"] == "열처리 조건.pdf"
    listed = {a["attachment_id"]: a for a in attachments.list_for_sme(store, case_id, token)["attachments"]}
    assert listed[answer["attachment_id"]]["can_open"] is True
    assert listed[reply["attachment_id"]]["can_open"] is False
    assert {a["attachment_id"] for a in attachments.list_for_institute(store, "KITECH", case_id)["attachments"]} == {
        answer["attachment_id"], reply["attachment_id"]}


def test_slot_is_refused_with_field_errors_when_type_size_or_count_is_wrong(store, bucket, sample_case):
    receipt = referred_case(store, sample_case)

    def ask(**body):
        base = {"filename": "a.jpg", "content_type": "image/jpeg", "size": 100}
        return attachments.create_sme_upload(store, receipt["case_id"], receipt["tracking_token"], {**base, **body},
                                             where=bucket)

    for body, field, code in [({"content_type": "application/x-msdownload"}, "content_type", "unsupported_type"),
                              ({"size": 10 * 1024 * 1024 + 1}, "size", "too_large"),
                              ({"size": 0}, "size", "greater_than_equal"),
                              ({"filename": "\u202e"}, "filename", "value_error"),
                              ({"purpose": "reply"}, "purpose", "no_open_request")]:
        with pytest.raises(ValidationFailed) as err:
            ask(**body)
        assert [(e.field, e.code) for e in err.value.errors] == [(field, code)], body
    for _ in range(attachments.MAX_PER_MESSAGE):
        ask()
    with pytest.raises(ValidationFailed) as err:
        ask()
    assert err.value.errors[0].code == "too_many"


def test_retention_deletes_files_three_years_after_support_ended_and_only_then(store, bucket, scanner, sample_case):
    from sos1379 import withdrawal

    ended = referred_case(store, sample_case)
    still_open = referred_case(store, sample_case)
    for receipt in (ended, still_open):
        upload(store, bucket, receipt, PDF, "application/pdf", "a.pdf")
    scanner.run()
    withdrawal.withdraw(store, ended["case_id"], ended["tracking_token"], {})
    withdrawn_at = parse_iso(store.get_case(ended["case_id"])["withdrawn_at"])

    early = attachments.purge_expired(store, bucket, withdrawn_at + timedelta(days=3 * 365 - 1))
    assert (early.examined_cases, early.purged_cases) == (2, 0)
    due = attachments.purge_expired(store, bucket, withdrawn_at + timedelta(days=attachments.RETENTION_DAYS))
    assert (due.purged_cases, due.deleted_files) == (1, 1)
    assert store.case_attachments(ended["case_id"]) == []
    keys = [o["Key"] for o in bucket.s3.list_objects_v2(Bucket=bucket.name).get("Contents", [])]
    assert keys and all(k.startswith(f"files/{still_open['case_id']}/") for k in keys)
    again = attachments.purge_expired(store, bucket, withdrawn_at + timedelta(days=attachments.RETENTION_DAYS))
    assert (again.purged_cases, again.deleted_files) == (0, 0)
