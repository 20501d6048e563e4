"""The public pages in a real headless Chromium: submit a case in Korean, follow it, answer a
question, rate the support; errors land next to their fields; the English switch; 360/1280 px."""
from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.browser

VALID = {
    "description": "SUS304 배관을 TIG 용접한 뒤 며칠 지나면 용접부 주변에 미세한 크랙이 생깁니다. 열처리 조건이나 용접 방법 조언이 필요합니다.",
    "company_name": "한빛정밀",
    "business_number": "1168200276",
    "region": "daejeon",
    "industry": "식품기계 제조",
    "contact_name": "김민수",
    "phone": "010-1234-5678",
    "email": "minsu.kim@example.com",
}


def unique_title() -> str:
    """The stack is shared by the session: each test finds its own cases by a unique title."""
    return f"스테인리스 배관 용접부 균열 문제 {uuid.uuid4().hex[:8]}"


def fill_form(page, title: str, **overrides):
    v = {**VALID, **overrides}
    page.get_by_role("radio", name=re.compile("기술애로 해결|Technical problem solving")).check()
    page.locator("#f-title").fill(title)
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


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def track_url(site, receipt: dict, lang: str | None = None) -> str:
    url = f"{site.url}track?case={receipt['case_id']}&token={receipt['tracking_token']}"
    return url + (f"&lang={lang}" if lang else "")


def referred(view: dict) -> bool:
    return view["status"] == "referred" and bool(view["referrals"])


def accepted_case(site, sample_case) -> tuple[dict, str]:
    """A case the router referred and the institute accepted, as in production."""
    sample_case["title"] = unique_title()
    receipt = site.submit(sample_case)
    code = site.wait_for(receipt, referred)["referrals"][0]["institute"]
    site.as_institute(code, receipt["case_id"], "accept")
    return receipt, code


def test_case_submitted_in_korean_is_followed_as_it_is_routed_when_form_is_valid(site, page_for, screenshots):
    page = page_for(360)
    page.goto(site.url)
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.get_by_role("heading", level=1).inner_text() == "기술지원 신청"
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / "intake-ko-360.png"), full_page=True)
    title = unique_title()
    fill_form(page, title)
    page.get_by_role("button", name="신청하기").click()

    heading = page.locator("#success-title")
    heading.wait_for(state="visible")
    assert heading.inner_text() == "접수되었습니다"
    assert page.evaluate("document.activeElement.id") == "success-title"
    [case] = site.cases_titled(title)
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
    assert "신청이 접수되었습니다." in page.locator("#history").inner_text()
    first_status = page.locator("#v-status").inner_text()

    # The router refers the case while the page is open; a refresh shows it in plain words.
    token = parse_qs(urlparse(page.url).query)["token"][0]
    view = site.wait_for({"case_id": case["case_id"], "tracking_token": token}, referred)
    page.get_by_role("button", name="새로 고침").click()
    page.locator("#v-status").filter(has_text="전문기관 연결 중").wait_for()
    assert page.locator("#v-institute").inner_text() == view["referrals"][0]["name_ko"]
    assert page.locator("#steps li[aria-current=step]").inner_text().startswith("검토·기관 연결")
    assert "연구기관·전문기관에 연결했습니다." in page.locator("#history").inner_text()
    if first_status != "전문기관 연결 중":
        # announced only when the page saw the change: a warm router (later in a full run) can
        # refer the case before the tracking page has loaded at all
        assert "상태가 바뀌었습니다" in page.locator("#live").inner_text()
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / "track-referred-ko-360.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(screenshots / "track-referred-ko-1280.png"), full_page=True)


def test_wrong_business_number_shows_the_api_error_next_to_the_field_when_check_digit_fails(site, page_for):
    page = page_for(360)
    page.goto(site.url)
    title = unique_title()
    fill_form(page, title, business_number="116-82-00277")  # right shape, wrong check digit: only the API knows
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
    assert site.cases_titled(title) == []

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
    assert "제목: 필수 항목입니다." in page.locator("#error-summary-list").inner_text()
    page.locator("#error-summary-list").get_by_role("link", name="사업자등록번호: 필수 항목입니다.").click()
    assert page.evaluate("document.activeElement.id") == "f-company-business_number"


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
    title = unique_title()
    fill_form(page, title)
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
    assert len(site.cases_titled(title)) == 1
    assert page.locator("#success-case-number").inner_text() == first["case_number"]


def test_tracking_page_takes_an_answer_when_the_institute_asks_for_information(site, page_for, sample_case,
                                                                               screenshots):
    receipt, code = accepted_case(site, sample_case)
    question = "용접 전류와 보호가스 유량을 알려 주세요."
    site.as_institute(code, receipt["case_id"], "request-info", {"question": question})
    page = page_for(360)
    page.goto(track_url(site, receipt))
    page.locator("#request-box").wait_for(state="visible")
    assert page.locator("#request-question").inner_text() == question
    assert page.locator("#v-status").inner_text() == "추가 정보 요청"
    page.screenshot(path=str(screenshots / "track-info-requested-ko-360.png"), full_page=True)

    page.get_by_label("답변").fill("전류 120A, 아르곤 12 L/min 입니다.")
    page.get_by_role("button", name="답변 보내기").click()
    page.locator("#reply-done").wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "reply-done"
    page.locator("#history").get_by_text("추가 정보를 보내셨습니다.").wait_for()
    view = site.view(receipt)
    assert view["status"] == "accepted" and not view["open_request"]


def test_tracking_page_shows_outcome_and_takes_a_rating_when_resolved(site, page_for, sample_case, screenshots):
    receipt, code = accepted_case(site, sample_case)
    summary = "예열 150도와 층간온도 관리로 균열이 해결되었습니다."
    site.as_institute(code, receipt["case_id"], "resolve", {"summary": summary})
    page = page_for(1280)
    page.goto(track_url(site, receipt, "en"))
    page.locator("#case-view").wait_for(state="visible")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#v-status").inner_text() == "Resolved"
    assert page.locator("#outcome-text").inner_text() == summary
    assert page.locator("#rating-form").is_visible()
    assert page.locator("#steps li.done").count() == 3
    page.screenshot(path=str(screenshots / "track-resolved-en-1280.png"), full_page=True)

    page.get_by_role("button", name="Send rating").click()  # no score chosen: a hint, no request
    assert page.locator("#e-score").inner_text() == "Choose one rating."
    assert page.evaluate("document.activeElement.name") == "score"

    page.get_by_role("radio", name="Satisfied", exact=True).check()
    page.get_by_label("Anything else").fill("빠른 답변 감사합니다.")
    with page.expect_response(lambda r: r.url.endswith("/rating")) as answer:
        page.get_by_role("button", name="Send rating").click()
    assert answer.value.status == 201
    done = page.locator("#rating-done")
    done.wait_for(state="visible")
    assert "Your rating: Satisfied" in done.inner_text()
    assert page.locator("#rating-form").is_hidden()
    assert site.view(receipt)["rating"]["score"] == 4


def test_tracking_page_never_shows_internal_or_unknown_event_data_when_history_has_them(site, page_for, sample_case):
    from sos1379.events import Actor, CaseEvent, iso, utcnow

    sample_case["title"] = unique_title()
    receipt = site.submit(sample_case)
    store = site.store()
    for kind, data in (("case.note_added", {"note": "INTERNAL-NOTE-TEXT"}),
                       ("case.assigned", {"coordinator": "COORDINATOR-NAME"}),
                       ("case.future_thing", {"summary": "UNKNOWN-EVENT-DATA"})):
        store.append_event(CaseEvent(case_id=receipt["case_id"], type=kind, at=iso(utcnow()),
                                     actor=Actor(kind="coordinator", id="c-7"), data=data))
    page = page_for(360)
    page.goto(track_url(site, receipt))
    page.locator("#case-view").wait_for(state="visible")
    text = page.locator("body").inner_text()
    for secret in ("INTERNAL-NOTE-TEXT", "COORDINATOR-NAME", "UNKNOWN-EVENT-DATA", "c-7"):
        assert secret not in text


def test_tracking_page_says_not_found_when_token_is_wrong(site, page_for, sample_case):
    sample_case["title"] = unique_title()
    receipt = site.submit(sample_case)
    page = page_for(360)
    page.goto(track_url(site, {**receipt, "tracking_token": "wrong-token"}))
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


# Every visible text run against the nearest opaque background, as WCAG 2.x computes it:
# 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold).
CONTRAST_JS = """() => {
  const lum = (c) => { const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                       return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const rgba = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const bg = (el) => { for (; el; el = el.parentElement) { const c = rgba(getComputedStyle(el).backgroundColor);
                         if (c.length === 3 || c[3] === 1) return c.slice(0, 3); } return [255, 255, 255]; };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el.checkVisibility() || el.closest('.visually-hidden, .skip')) continue;
    const s = getComputedStyle(el);
    const fg = rgba(s.color).slice(0, 3), back = bg(el);
    const [a, b] = [lum(fg), lum(back)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) bad.push(`${n.textContent.trim().slice(0, 30)}: ${ratio.toFixed(2)} < ${need}`);
  }
  return bad;
}"""


def test_text_meets_wcag_aa_contrast_when_errors_and_the_tracking_page_are_shown(site, page_for, sample_case):
    page = page_for(360)
    page.goto(site.url)
    page.get_by_role("button", name="신청하기").click()  # every field error and the summary visible
    page.locator("#error-summary").wait_for(state="visible")
    assert page.evaluate(CONTRAST_JS) == []
    sample_case["title"] = unique_title()
    receipt = site.submit(sample_case)
    page.goto(track_url(site, receipt))
    page.locator("#case-view").wait_for(state="visible")
    assert page.evaluate(CONTRAST_JS) == []


def test_intake_asks_is_this_the_same_problem_and_requests_a_merge_when_company_sent_it_before(site, page_for,
                                                                                                sample_case):
    # a business number no other browser test uses: only this test's cases are that company's
    company = {**sample_case["company"], "business_number": "220-81-62517"}
    earlier = site.submit({**sample_case, "title": unique_title(), "company": company,
                           "description": VALID["description"]})
    page = page_for(360)
    page.goto(site.url)
    title = unique_title()
    fill_form(page, title, business_number="2208162517")
    page.get_by_role("button", name="신청하기").click()
    page.locator("#success-title").wait_for(state="visible")
    box = page.locator("#duplicates")
    box.wait_for(state="visible")
    assert box.get_by_role("heading").inner_text() == "같은 문제인가요?"
    assert earlier["case_number"] in page.locator("#dup-list").inner_text()
    page.get_by_role("button", name="이전 접수 건에 추가").click()
    page.locator("#dup-status").filter(has_text=earlier["case_number"]).wait_for()
    [case] = site.cases_titled(title)
    assert case["merge_request"]["into"] == earlier["case_number"]
    assert no_horizontal_scroll(page)


def test_tracking_page_shows_the_partners_pickup_when_the_partner_accepts_through_its_api(site, page_for,
                                                                                         sample_case):
    from sos1379.coordinators.auth import Staff
    from sos1379.coordinators.service import handoff
    from sos1379.institutes.keys import dev_key

    sample_case["title"] = unique_title()
    receipt = site.submit(sample_case)
    site.wait_for(receipt, lambda v: v["status"] != "received")  # the router has acted
    handoff(site.store(), Staff(sub="probe", role="coordinator"), receipt["case_id"], {"partner": "CCEI"})
    site.api("POST", f"partner/handoffs/{receipt['case_id']}/accept", {},
             headers={"X-Api-Key": dev_key("CCEI-DAEJEON")})
    page = page_for(360)
    page.goto(track_url(site, receipt))
    page.locator("#case-view").wait_for(state="visible")
    history = page.locator("#history")
    history.filter(has_text="협력기관이 요청을 확인하고 맡았습니다.").wait_for()
    assert "대전창조경제혁신센터" in history.inner_text()


def test_tracking_page_takes_the_follow_up_answer_and_opens_the_next_stage_when_checked_in(site, page_for,
                                                                                          sample_case):
    from sos1379 import followups, korea
    from sos1379.events import parse_iso

    receipt, code = accepted_case(site, sample_case)
    site.as_institute(code, receipt["case_id"], "resolve", {"summary": "후열처리 조건을 바꾸세요."})
    store = site.store()
    resolved = parse_iso(store.get_case(receipt["case_id"])["outcome"]["resolved_at"])
    assert followups.send_due(store, korea.add_business_days(resolved, 30)).sent  # simulated clock
    page = page_for(360)
    page.goto(track_url(site, receipt))
    box = page.locator("#follow-up-box")
    box.wait_for(state="visible")
    page.get_by_role("radio", name="해결되었습니다", exact=True).check()
    page.locator("#f-next").select_option("tech_transfer")
    page.locator("#follow-up-form button[type=submit]").click()
    done = page.locator("#follow-up-done")
    done.filter(has_text="다음 단계 지원을 새로 접수했습니다").wait_for()
    number = re.search(r"\d{6}-\d{4}", done.inner_text()).group(0)
    linked = store.get_case(store.find_case_id_by_number(number))
    assert linked["service_type"] == "tech_transfer" and linked["follows"]["case_id"] == receipt["case_id"]
