"""Contact verification on the tracking page (sos1379.verification), in headless Chromium against
the real local stack: a code goes out through the outbox, the notifier and the AlimTalk stand-in
(its own approved template), the page asks for it, a wrong code is refused next to the field in
Korean, "인증번호 다시 받기" sends another, the right one confirms the phone."""
from __future__ import annotations

import re

import pytest
import requests

from tests.browser.test_recover_form import fresh_phone, wait_until

pytestmark = pytest.mark.browser


def code_deliveries(site, e164: str) -> list[dict]:
    url = site.stack.state["services"]["messaging"]
    deliveries = requests.get(f"{url}/_standin/deliveries", timeout=10).json()["deliveries"]
    return [d for d in deliveries if d["recipient"] == e164 and d["template_code"].startswith("SOS1379_VERIFY")]


def code_of(delivery: dict) -> str:
    return re.search(r"인증번호: ([0-9]{6})", delivery["content"]).group(1)


def test_sme_confirms_the_phone_with_the_code_on_the_tracking_page(site, page_for, sample_case, screenshots):
    local, e164 = fresh_phone()
    sample_case["contact"]["phone"] = local
    sample_case["contact"]["preferred_channels"] = ["sms"]
    receipt = site.submit(sample_case)
    token = {"X-Tracking-Token": receipt["tracking_token"]}
    assert site.api("POST", f"cases/{receipt['case_id']}/verify-contact/resend", {"channel": "sms"},
                    headers=token, expect=202) == {"status": "sent", "channels": ["sms"]}
    (first,) = wait_until(lambda: code_deliveries(site, e164))
    assert first["route"] == "alimtalk" and receipt["case_number"] in first["content"]

    page = page_for(360)
    page.goto(site.url + f"track?case={receipt['case_id']}&token={receipt['tracking_token']}&lang=ko")
    box = page.locator("#verify-box")
    box.wait_for(state="visible")
    assert "휴대전화" in page.locator("#verify-intro").inner_text()

    wrong = f"{(int(code_of(first)) + 1) % 10 ** 6:06d}"
    page.locator("#f-code").fill(wrong)
    page.locator("#verify-form button[type=submit]").click()
    error = page.locator("#e-code")
    error.wait_for(state="visible")
    assert "인증번호가 맞지 않습니다" in error.inner_text()
    assert page.locator("#f-code").get_attribute("aria-invalid") == "true"

    page.locator("#verify-resend").click()
    page.locator("#verify-resent").wait_for(state="visible")
    second = wait_until(lambda: code_deliveries(site, e164)[1:])[0]
    page.screenshot(path=str(screenshots / "track-verify-contact-ko-360.png"), full_page=True)

    page.locator("#f-code").fill(code_of(second)[:3] + " " + code_of(second)[3:])
    page.locator("#verify-form button[type=submit]").click()
    page.locator("#verify-done").wait_for(state="visible")
    box.wait_for(state="hidden")  # the page reloads the case after the answer
    view = site.view(receipt)
    assert view["contact_verification"]["verified"] == ["sms"] and view["contact_verification"]["pending"] == []


def test_counselor_records_the_phone_as_confirmed_in_the_console_intake(site, page_for):
    import json
    import uuid

    from tests.browser.test_console import dev_login

    page = page_for(1280, 900)
    dev_login(page, site, "counselor", "carol")
    page.locator("[data-view=intake]").click()
    page.locator("#intake-form").wait_for()
    title = f"전화 상담: 도금 박리 {uuid.uuid4().hex[:6]}"
    local, e164 = fresh_phone()
    for field, value in (("#in-title", title), ("#in-description", "아연 도금층이 한 달 만에 벗겨집니다. 전처리 조건 조언이 필요합니다."),
                         ("#in-company", "한빛정밀"), ("#in-brn", "116-82-00276"), ("#in-contact", "김민수"),
                         ("#in-phone", local), ("#in-email", "minsu.kim@example.com")):
        page.locator(field).fill(value)
    page.locator("#in-region").select_option("daejeon")
    page.locator("#in-verified-sms").check()  # read the number back on the phone; the address was not
    page.locator("#in-consent").check()
    page.locator("#intake-form button[type=submit]").click()
    result = page.locator("#action-result")
    result.wait_for()
    number = re.search(r"\d{6}-\d{4}", result.inner_text()).group(0)
    case = site.store().get_case(site.store().find_case_id_by_number(number))
    assert case["title"] == title and case["contact"]["phone"] == e164
    assert set(case["contact_verified"]) == {"sms"} and case["contact_verified"]["sms"]["by"] == "counselor"
    assert "carol" not in json.dumps(case["contact_verified"])  # the role only; who is in the history
