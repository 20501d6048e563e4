"""SME messages on the running local stack, read where the SME would read them (the domestic
provider stand-in and moto SES): the Korean receipt by AlimTalk or by its LMS fallback carries the
case number and the due date; an English contact gets English text and English pages."""
from __future__ import annotations

import requests

from tests.conftest import load_event
from tests.e2e.test_notify_stack import outbox, wait_for


def standin(stack) -> str:
    return stack.state["services"]["messaging"]


def test_korean_receipt_falls_back_to_lms_with_case_number_and_due_date_when_phone_is_not_on_kakaotalk(stack):
    case = load_event("cases/weld_crack_ko.json")
    case["contact"]["phone"] = "010-3141-5926"
    case["contact"]["preferred_channels"] = ["sms"]
    requests.post(f"{standin(stack)}/_standin/faults", json={"not_kakao_users": ["+821031415926"]},
                  timeout=10).raise_for_status()
    receipt = requests.post(f"{stack.api_url}/cases", json=case, timeout=30).json()
    rows = wait_for(lambda: outbox(stack, receipt["case_number"]))
    assert [r["channel"] for r in rows] == ["lms"]
    lms = rows[0]
    assert lms["fallback"] == "not_kakao_user" and lms["subject"] == "[1379] 접수 완료"
    assert receipt["case_number"] in lms["text"] and "첫 안내 기한" in lms["text"]
    assert f"{stack.api_url}/t/" in lms["text"] and case["title"] not in lms["text"]
    assert lms["recipient"] == "+82-10-****-5926"


def test_english_contact_gets_english_alimtalk_and_email_whose_links_open_english_pages_on_local_stack(stack):
    case = load_event("cases/sensor_drift_en.json")
    case["contact"]["preferred_channels"] = ["sms", "email"]
    receipt = requests.post(f"{stack.api_url}/cases", json=case, timeout=30).json()
    assert receipt["tracking_url"].endswith("&lang=en")
    rows = wait_for(lambda: (r := outbox(stack, receipt["case_number"])) and len(r) >= 2 and r)
    talk = next(r for r in rows if r["channel"] == "alimtalk")
    email = next(r for r in rows if r["channel"] == "email")
    assert talk["template_code"] == "SOS1379_RECEIPT_EN_01" and "First guidance by" in talk["text"]
    assert "We received your request" in email["subject"]
    link = email["text"].split(f"{stack.api_url}/")[1].split()[0]
    assert link.startswith("track?") and link.endswith("&lang=en")
    page = requests.get(f"{stack.api_url}/{link}", timeout=30)
    assert page.status_code == 200 and '<html lang="en">' in page.text
    # the "Track my case" button's short link keeps the case's language
    delivery = next(d for d in requests.get(f"{standin(stack)}/_standin/deliveries", timeout=10).json()["deliveries"]
                    if d["route"] == "alimtalk" and receipt["case_number"] in d["content"])
    short = delivery["buttons"][0]["linkMo"].split("/t/")[1]
    redirect = requests.get(f"{stack.api_url}/t/{short}", allow_redirects=False, timeout=30)
    assert redirect.status_code == 302 and redirect.headers["Location"].endswith("&lang=en")
