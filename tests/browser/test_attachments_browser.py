"""Attachments in a real headless Chromium against the real local stack: the SME picks a photo on
the intake form, the page POSTs it straight to (moto) S3 through the presigned POST, the stand-in
scans it, and the referred institute's user opens it from the staff console: the photo arrives
without its EXIF (camera, GPS)."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser.test_console import dev_login
from tests.browser.test_pages import fill_form, referred, unique_title
from tests.integration.attachment_support import exif_of, photo_with_gps

pytestmark = pytest.mark.browser


def _wait_available(site, receipt, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        items = site.api("GET", f"cases/{receipt['case_id']}/attachments",
                         headers={"X-Tracking-Token": receipt["tracking_token"]})["attachments"]
        if items and items[0]["status"] in ("available", "rejected", "blocked"):
            return items[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"attachment stayed {items}: {site.stack.log_tail()}")
        time.sleep(0.3)


def test_photo_uploaded_at_intake_is_opened_by_the_institute_without_exif_or_gps(site, page_for, screenshots):
    photo = photo_with_gps((640, 480))
    assert exif_of(photo)["gps"]
    page = page_for(360)
    page.goto(site.url)
    title = unique_title()
    fill_form(page, title)
    page.locator("#f-attachments").set_input_files(
        files=[{"name": "균열 사진.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    page.get_by_role("button", name="신청하기").click()
    page.locator("#success-title").wait_for(state="visible")
    page.locator("#attach-progress li[data-state=uploaded]").wait_for()
    assert "균열 사진.jpg" in page.locator("#attach-progress").inner_text()
    page.screenshot(path=str(screenshots / "success-attachment-ko-360.png"), full_page=True)

    query = parse_qs(urlparse(page.locator("#success-track").get_attribute("href")).query)
    receipt = {"case_id": query["case"][0], "tracking_token": query["token"][0]}
    item = _wait_available(site, receipt)
    assert item["status"] == "available" and item["filename"] == "균열 사진.jpg"
    code = site.wait_for(receipt, referred)["referrals"][0]["institute"]

    # the SME sees its file delivered on the tracking page (and cannot open it: it is for the institute)
    page.locator("#success-track").click()
    page.locator("#attachments-list li", has_text="균열 사진.jpg").wait_for()
    assert "전달됨" in page.locator("#attachments-list").inner_text()
    assert page.locator("#attachments-list button").count() == 0

    console = page_for(1280, 900)
    dev_login(console, site, "institute", "lee", code)
    console.locator("#inbox button.item", has_text=title).click()
    console.locator("#detail-title", has_text=title).wait_for()
    entry = console.locator("#attachment-list li", has_text="균열 사진.jpg")
    entry.wait_for()
    with console.context.expect_page() as popup_info, \
            console.context.expect_event("response", lambda r: "/files/" in r.url) as response_info:
        entry.get_by_role("button", name="열기").click()
    response = response_info.value
    assert response.status == 200 and response.headers["content-type"] == "image/jpeg"
    opened = exif_of(response.body())
    assert opened["gps"] == {} and opened["exif"] == {}
    assert opened["size"] == (480, 640)  # upright: the orientation was applied before the EXIF went
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.evaluate("document.images.length") == 1  # Chromium shows it as an image
    console.screenshot(path=str(screenshots / "console-attachment-1280.png"))

    # another institute's user does not even see the case
    other = page_for(1280, 900)
    dev_login(other, site, "institute", "park", "KIMS" if code != "KIMS" else "KBSI")
    assert other.locator("#inbox button.item", has_text=title).count() == 0
