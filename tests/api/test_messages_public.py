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


def test_public_view_names_partner_phone_url_and_next_steps_when_case_was_handed_off(aws, sample_case):
    store = store_of(aws)
    receipt, _ = intake.submit_case(store, sample_case)
    store.table.update_item(Key={"PK": f"CASE#{receipt['case_id']}", "SK": "META"},
                            UpdateExpression="SET handed_off_to = :p",
                            ExpressionAttributeValues={":p": {"code": "BIZINFO1357", "name_ko": "기업마당 1357",
                                                              "name_en": "Bizinfo 1357"}})
    view = intake.public_view(store, store.get_case(receipt["case_id"]))
    handoff = view["handoff"]
    assert handoff["name_ko"] == "기업마당 1357" and handoff["phone"] == "1357"
    assert handoff["url"] == "https://www.bizinfo.go.kr"
    assert len(handoff["next"]["ko"]) >= 2 and len(handoff["next"]["en"]) == len(handoff["next"]["ko"])


def test_public_view_has_no_handoff_when_case_was_not_handed_off(aws, sample_case):
    store = store_of(aws)
    receipt, _ = intake.submit_case(store, sample_case)
    assert intake.public_view(store, store.get_case(receipt["case_id"]))["handoff"] is None
