"""The "링크를 잃어버리셨나요? / Lost your link?" form on the tracking page, in headless Chromium
against the real local stack: the same answer for a match and a non-match, the match gets a
fresh link on its phone (at the stand-in provider), errors land next to their fields."""
from __future__ import annotations

import time
import uuid

import pytest
import requests

pytestmark = pytest.mark.browser


def fresh_phone() -> tuple[str, str]:
    """A mobile number no other test uses (the stack is shared by the session)."""
    digits = f"{uuid.uuid4().int % 10_000_000:07d}"
    local = f"010-3{digits[:3]}-{digits[3:]}"
    return local, "+82" + local[1:].replace("-", "")


def link_deliveries(site, e164: str) -> list[dict]:
    url = site.stack.state["services"]["messaging"]
    deliveries = requests.get(f"{url}/_standin/deliveries", timeout=10).json()["deliveries"]
    return [d for d in deliveries if d["recipient"] == e164 and d["template_code"].startswith("SOS1379_LINK")]


def wait_until(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    return predicate()


def ask_for_link(page, site, case_number: str, contact: str, lang: str = "ko") -> None:
    page.goto(site.url + f"track?lang={lang}")
    box = page.locator("#recover-box")
    box.wait_for(state="visible")
    page.locator("#f-recover-case_number").fill(case_number)
    page.locator("#f-recover-contact").fill(contact)
    page.locator("#recover-form button[type=submit]").click()


def test_lost_link_form_sends_a_fresh_link_to_the_phone_on_file_when_details_match(site, page_for, sample_case):
    local, e164 = fresh_phone()
    sample_case["contact"]["phone"] = local
    receipt = site.submit(sample_case)
    page = page_for(360)
    ask_for_link(page, site, receipt["case_number"], local)
    done = page.locator("#recover-done")
    done.wait_for(state="visible")
    assert "요청을 받았습니다" in done.inner_text()
    assert page.locator("#recover-form").is_hidden()
    (delivery,) = wait_until(lambda: link_deliveries(site, e164))
    assert receipt["case_number"] in delivery["content"]
    assert delivery["route"] == "alimtalk" and delivery["buttons"][0]["name"] == "진행 조회"
    # the fresh link (the button's short link) opens the case on the tracking page
    page.goto(delivery["buttons"][0]["linkMo"])
    page.locator("#case-view").wait_for(state="visible")
    assert page.locator("#v-case-number").inner_text() == receipt["case_number"]


def test_lost_link_form_answers_the_same_and_sends_nothing_when_details_do_not_match(site, page_for, sample_case):
    local, e164 = fresh_phone()
    other, other_e164 = fresh_phone()
    sample_case["contact"]["phone"] = local
    receipt = site.submit(sample_case)
    page = page_for(360)
    ask_for_link(page, site, receipt["case_number"], other)
    done = page.locator("#recover-done")
    done.wait_for(state="visible")
    assert "요청을 받았습니다" in done.inner_text()
    # the receipt itself reaches the phone on file; a link message never does, to either number
    assert wait_until(lambda: [d for d in requests.get(
        site.stack.state["services"]["messaging"] + "/_standin/deliveries", timeout=10).json()["deliveries"]
        if d["recipient"] == e164])
    assert link_deliveries(site, e164) == [] and link_deliveries(site, other_e164) == []


def test_lost_link_form_shows_errors_next_to_fields_in_english_when_input_is_wrong(site, page_for):
    page = page_for(1280, locale="en-GB")
    ask_for_link(page, site, "12345", "", lang="en")
    assert page.locator("#recover-title").inner_text() == "Lost your link?"
    case_error = page.locator("#e-recover-case_number")
    case_error.wait_for(state="visible")
    assert "Invalid case number" in case_error.inner_text()
    assert "Enter your mobile number or email" in page.locator("#e-recover-contact").inner_text()
    assert page.locator("#f-recover-case_number").get_attribute("aria-invalid") == "true"
    # a contact the server refuses comes back next to the contact field
    page.locator("#f-recover-case_number").fill("261126-0001")
    page.locator("#f-recover-contact").fill("02-123-4567")
    page.locator("#recover-form button[type=submit]").click()
    contact_error = page.locator("#e-recover-contact")
    contact_error.wait_for(state="visible")
    assert "Korean mobile" in contact_error.inner_text()
    assert page.locator("#recover-done").is_hidden()
