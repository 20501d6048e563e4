"""What the SME sees of notifications on the public side: links in the case's language and the
hand-off partner with its phone, web site and next steps."""
from __future__ import annotations

import boto3

from sos1379 import intake
from sos1379.store import CaseStore
from tests.conftest import load_event


def store_of(aws) -> CaseStore:
    return CaseStore(aws.tables["CasesTable"], boto3.resource("dynamodb", region_name="ap-northeast-2"))


def test_receipt_tracking_url_opens_page_in_case_language_when_contact_is_english(aws):
    receipt, _ = intake.submit_case(store_of(aws), load_event("cases/sensor_drift_en.json"))
    assert receipt["tracking_url"].endswith("&lang=en")
    korean, _ = intake.submit_case(store_of(aws), load_event("cases/weld_crack_ko.json"))
    assert korean["tracking_url"].endswith("&lang=ko")


def test_public_view_names_partner_phone_and_url_when_case_was_handed_off(aws, sample_case):
    store = store_of(aws)
    receipt, _ = intake.submit_case(store, sample_case)
    store.table.update_item(Key={"PK": f"CASE#{receipt['case_id']}", "SK": "META"},
                            UpdateExpression="SET handed_off_to = :p",
                            ExpressionAttributeValues={":p": {"code": "BIZINFO1357", "name_ko": "기업마당 1357",
                                                              "name_en": "Bizinfo 1357"}})
    handoff = intake.public_view(store, store.get_case(receipt["case_id"]))["handoff"]
    assert handoff["name_ko"] == "기업마당 1357" and handoff["phone"] == "1357"
    assert handoff["url"].startswith("https://www.bizinfo.go.kr")
    assert handoff["phone_text"]["ko"].startswith("1357") and handoff["accepted"] is False


def test_public_view_points_to_1379_when_the_regional_center_has_no_confirmed_number(aws, sample_case):
    store = store_of(aws)
    receipt, _ = intake.submit_case(store, sample_case)
    store.table.update_item(Key={"PK": f"CASE#{receipt['case_id']}", "SK": "META"},
                            UpdateExpression="SET handed_off_to = :p",
                            ExpressionAttributeValues={":p": {"code": "CCEI", "region": "daejeon",
                                                              "name_ko": "대전창조경제혁신센터", "name_en": "Daejeon CCEI"}})
    handoff = intake.public_view(store, store.get_case(receipt["case_id"]))["handoff"]
    assert handoff["code"] == "CCEI-DAEJEON" and handoff["url"].startswith("https://ccei.creativekorea.or.kr/")
    assert handoff["phone_text"]["en"].startswith("1379")


def test_public_view_has_no_handoff_when_case_was_not_handed_off(aws, sample_case):
    store = store_of(aws)
    receipt, _ = intake.submit_case(store, sample_case)
    assert intake.public_view(store, store.get_case(receipt["case_id"]))["handoff"] is None
