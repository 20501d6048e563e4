"""Equipment in headless Chromium against the real local stack (issue 17): the intake page
suggests bookable instruments as the SME describes an equipment need, and the tracking page finds
an electron microscope, books one of its free slots, and shows the institute's confirmation with
a calendar file once the owning institute confirms it in its console."""
from __future__ import annotations

import pytest
import requests

from tests.browser.test_console import axe_violations, dev_login
from tests.e2e.test_equipment_stack import _synced

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def bookable(site):
    """The stack's ZEUS equipment and calendars synced (the scheduled functions, invoked once)."""
    return _synced(site.stack)


def test_intake_page_suggests_equipment_as_the_sme_types_when_the_service_is_equipment(site, page_for, bookable):
    page = page_for(360)
    page.goto(site.url)
    page.locator("input[name=service_type][value=equipment]").check()
    assert page.locator("#equipment-suggest").is_hidden()
    page.fill("#f-title", "파단면을 전자현미경으로 관찰하고 싶습니다")
    suggestions = page.locator("#equipment-suggestions li")
    suggestions.first.wait_for()
    assert "전자현미경" in page.locator("#equipment-suggestions").inner_text()
    assert "원" in suggestions.first.inner_text()  # the fee, as the source states it
    assert axe_violations(page) == []
    page.locator("input[name=service_type][value=tech_consult]").check()
    page.locator("#equipment-suggest").wait_for(state="hidden")


def test_sme_books_a_free_slot_from_the_tracking_page_and_sees_the_confirmation(site, page_for, sample_case,
                                                                             bookable):
    receipt = site.submit({**sample_case, "service_type": "equipment"})
    page = page_for(360)
    page.goto(site.url + f"track?case={receipt['case_id']}&token={receipt['tracking_token']}&lang=ko")
    box = page.locator("#equipment-box")
    box.wait_for()
    page.get_by_label("필요한 장비나 시험").fill("전자현미경")
    page.get_by_role("button", name="장비 찾기").click()
    first_slot = page.locator("#equipment-results button.slot").first
    first_slot.wait_for()
    first_slot.click()
    assert first_slot.get_attribute("aria-pressed") == "true"
    assert axe_violations(page) == []  # results, slot buttons and the booking form as the SME sees them
    page.get_by_label("이용 목적").fill("금속 파단면 SEM 관찰")
    page.get_by_role("button", name="예약 요청").click()
    page.locator("#booking-done").wait_for()
    booking = page.locator("#reservations-list li").first
    booking.wait_for()
    assert "기관 확정 대기" in booking.inner_text()

    [reservation] = site.view(receipt)["reservations"]
    assert reservation["status"] == "pending" and reservation["purpose"] == "금속 파단면 SEM 관찰"

    # the owning institute confirms in its console
    staff = page_for(1280)
    dev_login(staff, site, "institute", "park", reservation["institute"])
    row = staff.locator(f"#resv-list li[data-reservation='{reservation['reservation_id']}']")
    row.wait_for()
    assert "금속 파단면 SEM 관찰" in row.inner_text() and receipt["case_number"] in row.inner_text()
    assert axe_violations(staff) == []
    row.get_by_role("button", name="예약 확정").click()
    staff.locator("#resv-result").wait_for()
    assert site.view(receipt)["reservations"][0]["status"] == "confirmed"
    page.get_by_role("button", name="새로 고침").click()
    page.locator("#reservations-list li[data-status=confirmed]").wait_for()
    assert "예약 확정" in page.locator("#reservations-list").inner_text()
    href = page.get_by_role("link", name="캘린더 파일(.ics) 받기").get_attribute("href")
    ics = requests.get(site.url + href, timeout=15)
    assert ics.status_code == 200 and "STATUS:CONFIRMED" in ics.text
    assert "장비 예약이 확정되었습니다." in page.locator("#history").inner_text()
