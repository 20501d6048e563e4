"""The public pages in a real headless Chromium: submit a case in Korean, follow it, answer a
question, rate the support; errors land next to their fields; the English switch; 360/1280 px."""
from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

VALID = {
    "title": "스테인리스 배관 용접부 균열 문제",
    "description": "SUS304 배관을 TIG 용접한 뒤 며칠 지나면 용접부 주변에 미세한 크랙이 생깁니다. 열처리 조건 조언이 필요합니다.",
    "company_name": "한빛정밀",
    "business_number": "1168200276",
    "region": "daejeon",
    "industry": "식품기계 제조",
    "contact_name": "김민수",
    "phone": "010-1234-5678",
    "email": "minsu.kim@example.com",
}


def fill_form(page, **overrides):
    v = {**VALID, **overrides}
    page.get_by_role("radio", name=re.compile("기술애로 해결|Technical problem solving")).check()
    page.locator("#f-title").fill(v["title"])
    page.locator("#f-description").fill(v["description"])
    page.locator("#f-company-name").fill(v["company_name"])
    page.locator("#f-company-business_number").fill(v["business_number"])
    page.locator("#f-company-region").select_option(v["region"])
    page.locator("input[name='company.size'][value=small]").check()
    page.locator("#f-company-industry").fill(v["industry"])
    page.locator("#f-contact-name").fill(v["contact_name"])
    page.locator("#f-contact-phone").fill(v["phone"])
    page.locator("#f-contact-email").fill(v["email"])
    page.locator("#f-consent-personal_info").check()
    page.locator("#f-consent-share_with_institutes").check()


def cases_in(site) -> list[dict]:
    table = site.store().table
    return [i for i in table.scan()["Items"] if i.get("kind") == "case"]


def api_view(site, case_id: str, token: str) -> dict:
    import urllib.request

    req = urllib.request.Request(f"{site.url}cases/{case_id}", headers={"X-Tracking-Token": token})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_case_submitted_in_korean_is_tracked_when_form_is_valid(site, page_for, screenshots):
    page = page_for(360)
    page.goto(site.url)
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.get_by_role("heading", level=1).inner_text() == "기술지원 신청"
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / "intake-ko-360.png"), full_page=True)
    fill_form(page)
    page.get_by_role("button", name="신청하기").click()

    heading = page.locator("#success-title")
    heading.wait_for(state="visible")
    assert heading.inner_text() == "접수되었습니다"
    assert page.evaluate("document.activeElement.id") == "success-title"
    [case] = cases_in(site)
    assert page.locator("#success-case-number").inner_text() == case["case_number"]
    assert case["company"]["business_number"] == "116-82-00276" and case["channel"] in ("web", "mobile")
    assert case["consent"] == {"personal_info": True, "share_with_institutes": True}
    assert "한국 시간" in page.locator("#success-due").inner_text()
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / "success-ko-360.png"), full_page=True)

    href = page.locator("#success-track").get_attribute("href")
    assert href.startswith("track?case=" + case["case_id"] + "&token=")
    page.locator("#success-track").click()
    page.wait_for_url(re.compile(r"/track\?case="))
    page.locator("#case-view").wait_for(state="visible")
    assert page.locator("#v-case-number").inner_text() == case["case_number"]
    assert page.locator("#v-status").inner_text() == "접수됨"
    assert page.locator("#steps li[aria-current=step]").inner_text().startswith("접수")
    assert "신청이 접수되었습니다." in page.locator("#history").inner_text()
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / "track-ko-360.png"), full_page=True)


def test_wrong_business_number_shows_the_api_error_next_to_the_field_when_check_digit_fails(site, page_for):
    page = page_for(360)
    page.goto(site.url)
    fill_form(page, business_number="116-82-00277")  # right shape, wrong check digit: only the API knows
    with page.expect_response(lambda r: r.url.endswith("/cases") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="신청하기").click()
    assert answer.value.status == 422
    error = page.locator("#e-company-business_number")
    error.wait_for(state="visible")
    assert "사업자등록번호가 올바르지 않습니다" in error.inner_text()
    field = page.locator("#f-company-business_number")
    assert field.get_attribute("aria-invalid") == "true"
    assert "e-company-business_number" in field.get_attribute("aria-describedby").split()
    assert page.evaluate("document.activeElement.id") == "f-company-business_number"
    assert page.locator("#error-summary").is_visible()
    assert cases_in(site) == []

    page.get_by_role("link", name="English").click()  # the server's message follows the language
    assert "Invalid business registration number" in error.inner_text()


def test_client_hints_name_every_missing_required_field_when_form_is_empty(site, page_for):
    page = page_for(1280)
    page.goto(site.url)
    page.get_by_role("button", name="신청하기").click()
    shown = page.locator(".field-error:visible")
    ids = {e.get_attribute("id") for e in shown.all()}
    assert {"e-service_type", "e-title", "e-description", "e-company-name", "e-company-business_number",
            "e-company-region", "e-company-size", "e-contact-name", "e-contact-phone", "e-contact-email",
            "e-consent-personal_info"} == ids
    assert page.evaluate("document.activeElement.name") == "service_type"  # first error in page order
    assert page.locator("#error-summary-list li").count() == len(ids)


def test_english_switch_translates_the_page_when_clicked(site, page_for, screenshots):
    page = page_for(1280)
    page.goto(site.url)
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Request technology support"
    assert page.get_by_label("Company name").is_visible()
    assert "Daejeon (대전광역시)" in page.locator("#f-company-region").inner_text()
    assert page.locator("#f-contact-language").input_value() == "en"
    assert "lang=en" in page.url
    assert page.title().startswith("Request technology support")
    page.screenshot(path=str(screenshots / "intake-en-1280.png"), full_page=True)
    page.screenshot(path=str(screenshots / "intake-en-1280-top.png"))

    page.reload()  # the choice survives a reload through the URL
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="한국어").click()
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.get_by_role("heading", level=1).inner_text() == "기술지원 신청"


def test_retry_after_a_lost_response_makes_one_case_when_submitted_twice(site, page_for):
    page = page_for(360)
    page.goto(site.url)
    fill_form(page)
    seen = []

    def lose_first_answer(route):
        response = route.fetch()  # the server creates the case...
        seen.append((route.request.headers.get("idempotency-key"), response.json()))
        if len(seen) == 1:
            route.abort("connectionreset")  # ...but the browser never hears back
        else:
            route.fulfill(response=response)

    page.route("**/cases", lose_first_answer)
    page.get_by_role("button", name="신청하기").click()
    page.locator("#form-error").wait_for(state="visible")
    assert "한 번만 접수됩니다" in page.locator("#form-error").inner_text()
    page.get_by_role("button", name="신청하기").click()
    page.locator("#success-title").wait_for(state="visible")

    (key1, first), (key2, second) = seen
    assert key1 and key1 == key2
    assert first["case_id"] == second["case_id"]
    assert len(cases_in(site)) == 1
    assert page.locator("#success-case-number").inner_text() == first["case_number"]


def submit_via_api(site, sample_case) -> dict:
    import urllib.request

    req = urllib.request.Request(f"{site.url}cases", data=json.dumps(sample_case).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def move_case(site, case_id: str, status: str, event_type: str, data: dict, **changes) -> None:
    """What an institute or coordinator does, through the domain's own transition path."""
    from sos1379.events import Actor, CaseEvent, iso, utcnow
    from sos1379.lifecycle import check_transition

    store = site.store()
    case = store.get_case(case_id)
    check_transition(case["status"], status)
    at = iso(utcnow())
    event = CaseEvent(case_id=case_id, type=event_type, at=at, actor=Actor(kind="institute", id="KITECH"),
                      data=data)
    store.update_case(case, {"status": status, "updated_at": at, **changes}, events=[event])


def test_tracking_page_takes_an_answer_when_information_is_requested(site, page_for, sample_case, screenshots):
    receipt = submit_via_api(site, sample_case)
    question = "용접 전류와 보호가스 유량을 알려 주세요."
    move_case(site, receipt["case_id"], "info_requested", "case.info_requested",
              {"question": question, "institute": {"code": "KITECH", "name_ko": "한국생산기술연구원",
                                                   "name_en": "KITECH"}},
              resume_status="received",
              open_request={"question": question, "institute": "KITECH", "asked_at": receipt["created_at"]})
    page = page_for(360)
    page.goto(f"{site.url}track?case={receipt['case_id']}&token={receipt['tracking_token']}")
    box = page.locator("#request-box")
    box.wait_for(state="visible")
    assert page.locator("#request-question").inner_text() == question
    assert page.locator("#v-status").inner_text() == "추가 정보 요청"
    page.screenshot(path=str(screenshots / "track-info-requested-ko-360.png"), full_page=True)

    page.get_by_label("답변").fill("전류 120A, 아르곤 12 L/min 입니다.")
    page.get_by_role("button", name="답변 보내기").click()
    page.locator("#reply-done").wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "reply-done"
    page.locator("#history").get_by_text("추가 정보를 보내셨습니다.").wait_for()
    case = site.store().get_case(receipt["case_id"])
    assert case["status"] == "received" and not case.get("open_request")


def test_tracking_page_shows_outcome_and_survey_when_resolved(site, page_for, sample_case, screenshots):
    receipt = submit_via_api(site, sample_case)
    summary = "예열 150도와 층간온도 관리로 균열이 해결되었습니다."
    move_case(site, receipt["case_id"], "resolved", "case.resolved",
              {"summary": summary, "institute": {"code": "KITECH", "name_ko": "한국생산기술연구원", "name_en": "KITECH"}},
              outcome={"summary": summary, "institute": "KITECH", "result": "solved"})
    page = page_for(1280)
    page.goto(f"{site.url}track?case={receipt['case_id']}&token={receipt['tracking_token']}&lang=en")
    page.locator("#case-view").wait_for(state="visible")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#v-status").inner_text() == "Resolved"
    assert page.locator("#outcome-text").inner_text() == summary
    assert page.locator("#rating-form").is_visible()
    assert page.locator("#steps li.done").count() == 3
    page.screenshot(path=str(screenshots / "track-resolved-en-1280.png"), full_page=True)

    page.get_by_role("button", name="Send rating").click()  # no score chosen: a hint, no request
    assert page.locator("#e-score").inner_text() == "Choose one rating."


def test_tracking_page_never_shows_internal_or_unknown_event_data_when_history_has_them(site, page_for, sample_case):
    from sos1379.events import Actor, CaseEvent, iso, utcnow

    receipt = submit_via_api(site, sample_case)
    store = site.store()
    for kind, data in (("case.note_added", {"note": "INTERNAL-NOTE-TEXT"}),
                       ("case.assigned", {"coordinator": "COORDINATOR-NAME"}),
                       ("case.future_thing", {"summary": "UNKNOWN-EVENT-DATA"})):
        store.append_event(CaseEvent(case_id=receipt["case_id"], type=kind, at=iso(utcnow()),
                                     actor=Actor(kind="coordinator", id="c-7"), data=data))
    page = page_for(360)
    page.goto(f"{site.url}track?case={receipt['case_id']}&token={receipt['tracking_token']}")
    page.locator("#case-view").wait_for(state="visible")
    text = page.locator("body").inner_text()
    for secret in ("INTERNAL-NOTE-TEXT", "COORDINATOR-NAME", "UNKNOWN-EVENT-DATA", "c-7"):
        assert secret not in text


def test_tracking_page_says_not_found_when_token_is_wrong(site, page_for, sample_case):
    receipt = submit_via_api(site, sample_case)
    page = page_for(360)
    page.goto(f"{site.url}track?case={receipt['case_id']}&token=wrong-token")
    error = page.locator("#track-error")
    error.wait_for(state="visible")
    assert "찾을 수 없습니다" in error.inner_text()
    assert page.locator("#case-view").is_hidden()
    assert sample_case["title"] not in page.locator("body").inner_text()


def test_keyboard_user_reaches_the_form_with_a_visible_focus_when_tabbing(site, page_for):
    page = page_for(1280)
    page.goto(site.url)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.locator(".skip").bounding_box()["x"] >= 0  # revealed on focus
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => { const e = document.activeElement; const s = getComputedStyle(e);
        return {name: e.name, outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }""")
    assert focused["name"] == "service_type"
    assert focused["outline"] != "none" and focused["width"] >= 2
