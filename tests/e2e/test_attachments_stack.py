"""Attachments on the running local stack: the SME's browser-style presigned POST to (moto) S3,
the stand-in's S3 notification and malware scan, AttachmentsFunction run by the dispatcher, and
the institute opening the stripped photo through a presigned GET."""
from __future__ import annotations


import pytest
import requests

from tests.integration.attachment_support import exif_of, photo_with_gps

pytestmark = pytest.mark.e2e


def test_photo_posted_to_s3_is_stripped_scanned_and_opened_by_the_referred_institute(stack):
    from sos1379.institutes.keys import dev_key

    api = stack.api_url.rstrip("/")
    stack.seed_institute_keys()
    case_id, headers = stack.submit("cases/weld_crack_ko.json")
    photo = photo_with_gps()
    slot = requests.post(f"{api}/cases/{case_id}/attachments", headers=headers, timeout=15,
                         json={"filename": "균열.jpg", "content_type": "image/jpeg", "size": len(photo)})
    assert slot.status_code == 201, slot.text
    upload = slot.json()["upload"]
    posted = requests.post(upload["url"], data=upload["fields"], files={"file": ("균열.jpg", photo, "image/jpeg")},
                           timeout=15)
    assert posted.status_code in (200, 201, 204), posted.text

    def status():
        items = requests.get(f"{api}/cases/{case_id}/attachments", headers=headers, timeout=15).json()["attachments"]
        return items[0]["status"] if items and items[0]["status"] in ("available", "rejected", "blocked") else None

    assert stack.wait_until(status) == "available"
    view = stack.wait_until(lambda: (v := requests.get(f"{api}/cases/{case_id}", headers=headers, timeout=15).json())
                 ["referrals"] and v)
    code = view["referrals"][0]["institute"]
    key = {"X-Api-Key": dev_key(code)}
    listed = requests.get(f"{api}/institute/referrals/{case_id}/attachments", headers=key, timeout=15).json()
    aid = listed["attachments"][0]["attachment_id"]
    opened = requests.get(f"{api}/institute/referrals/{case_id}/attachments/{aid}", headers=key, timeout=15)
    assert opened.status_code == 200, opened.text
    image = requests.get(opened.json()["url"], timeout=15)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
    assert exif_of(image.content)["gps"] == {} and exif_of(image.content)["exif"] == {}
    other = next(c for c in ("KIMS", "KBSI", "KITECH") if c != code)
    assert requests.get(f"{api}/institute/referrals/{case_id}/attachments/{aid}",
                        headers={"X-Api-Key": dev_key(other)}, timeout=15).status_code == 404
