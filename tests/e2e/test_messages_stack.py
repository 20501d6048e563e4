"""SME messages on the running local stack, read where the SME would read them (the domestic
provider stand-in and moto SES): the Korean receipt by AlimTalk or by its LMS fallback carries the
case number and the due date; an English contact gets English text and English pages."""
from __future__ import annotations

import requests

from tests.conftest import load_event
from tests.e2e.test_notify_stack import outbox, wait_for


def standin(stack) -> str:
    return stack.state["services"]["messaging"]


def phone_rows(stack, case_number: str) -> list[dict]:
    """The outbox rows of a case's phone messages, from the provider stand-in alone."""
    from infra.cli.outbox import collect, fetch_deliveries

    return [r for r in collect({}, fetch_deliveries(standin(stack))) if r["case_number"] == case_number]


def all_rows(stack, case_number: str) -> list[dict]:
    """Phone and email rows; moto's data.json answering 500 under concurrent writes counts as
    "not yet" (it is read again)."""
    try:
        return outbox(stack, case_number)
    except requests.HTTPError:
        return []


def test_korean_receipt_falls_back_to_lms_with_case_number_and_due_date_when_phone_is_not_on_kakaotalk(stack):
    case = load_event("cases/weld_crack_ko.json")
    case["contact"]["phone"] = "010-3141-5926"
    case["contact"]["preferred_channels"] = ["sms"]
    requests.post(f"{standin(stack)}/_standin/faults", json={"not_kakao_users": ["+821031415926"]},
                  timeout=10).raise_for_status()
    receipt = requests.post(f"{stack.api_url}/cases", json=case, timeout=30).json()
    # the receipt's rows only: the referral notice ("[1379] 전문기관 연결") may follow it at once
    rows = wait_for(lambda: [r for r in phone_rows(stack, receipt["case_number"])
                             if r["subject"] == "[1379] 접수 완료"])
    assert [r["channel"] for r in rows] == ["lms"]  # once, and by LMS
    assert {r["channel"] for r in phone_rows(stack, receipt["case_number"])} == {"lms"}  # nothing by AlimTalk
    lms = rows[0]
    assert lms["fallback"] == "not_kakao_user"
    assert receipt["case_number"] in lms["text"] and "첫 안내 기한" in lms["text"]
    assert f"{stack.api_url}/t/" in lms["text"] and case["title"] not in lms["text"]
    assert lms["recipient"] == "+82-10-****-5926"


def test_english_contact_gets_english_alimtalk_and_email_whose_links_open_english_pages_on_local_stack(stack):
    case = load_event("cases/sensor_drift_en.json")
    case["contact"]["preferred_channels"] = ["sms", "email"]
    receipt = requests.post(f"{stack.api_url}/cases", json=case, timeout=30).json()
    assert receipt["tracking_url"].endswith("&lang=en")
    def receipt_rows():  # the receipt's AlimTalk and email (a referral notice may follow them)
        rows = all_rows(stack, receipt["case_number"])
        talk = [r for r in rows if r.get("template_code") == "SOS1379_RECEIPT_EN_01"]
        email = [r for r in rows if r["channel"] == "email" and "We received your request" in r["subject"]]
        return (talk, email) if talk and email else None

    (talk,), (email,) = wait_for(receipt_rows)
    assert talk["channel"] == "alimtalk" and "First guidance by" in talk["text"]
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


def test_recover_answers_202_for_match_and_non_match_and_the_match_gets_a_new_link_on_local_stack(stack):
    case = load_event("cases/weld_crack_ko.json")
    case["contact"]["phone"] = "010-2718-2818"
    receipt = requests.post(f"{stack.api_url}/cases", json=case, timeout=30).json()
    match = requests.post(f"{stack.api_url}/cases/recover",
                          json={"case_number": receipt["case_number"], "phone": "010-2718-2818"}, timeout=30)
    miss = requests.post(f"{stack.api_url}/cases/recover",
                         json={"case_number": receipt["case_number"], "phone": "010-2718-0000"}, timeout=30)
    assert match.status_code == miss.status_code == 202 and match.json() == miss.json()

    def links():
        deliveries = requests.get(f"{standin(stack)}/_standin/deliveries", timeout=10).json()["deliveries"]
        return [d for d in deliveries if d["template_code"] == "SOS1379_LINK_KO_01"
                and receipt["case_number"] in d["content"]]

    (delivery,) = wait_for(links)
    assert delivery["recipient"] == "+821027182818"
    short = delivery["buttons"][0]["linkMo"].split("/t/")[1]
    target = requests.get(f"{stack.api_url}/t/{short}", allow_redirects=False, timeout=30).headers["Location"]
    token = target.split("token=")[1].split("&")[0]
    view = requests.get(f"{stack.api_url}/cases/{receipt['case_id']}", headers={"X-Tracking-Token": token}, timeout=30)
    assert view.status_code == 200 and view.json()["case_number"] == receipt["case_number"]
