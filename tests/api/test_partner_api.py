"""Two-way hand-offs: the partner queue and API (pickup, return), the SME's page showing the
pickup, and the SLA pass sending unclaimed hand-offs to the coordinators."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from sos1379 import intake
from sos1379.institutes import keys as institute_keys
from sos1379.institutes import partners
from sos1379.referrals import fanout as referrals
from sos1379.events import utcnow
from sos1379.sla.flagger import MemoryAlertSink, run_scheduled
from tests.api.test_coordinator_api import ALICE, APP_ENV  # noqa: F401 - APP_ENV: tests/api/conftest.py
from tests.api.test_institute_api import _NullSender
from tests.integration.test_referrals import FixedRouter, intake_message

_ = APP_ENV  # read by the app fixture (tests/api/conftest.py)
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def keys(store) -> dict[str, str]:
    return {code: institute_keys.create_key(store, code)[0] for code in ("CCEI-DAEJEON", "BIZINFO1357", "KITECH")}


def handed_off(client, store, sample_case, partner: str = "CCEI") -> dict:
    receipt, _ = intake.submit_case(store, sample_case)
    resp = client.http.post(f"/coordinator/cases/{receipt['case_id']}/handoff", headers=ALICE,
                            body=json.dumps({"partner": partner}))
    assert resp.status_code == 200, resp.body
    return receipt


def as_partner(client, key: str | None, method: str, path: str, body: dict | None = None):
    headers = {**JSON, **({"X-Api-Key": key} if key is not None else {})}
    if method == "GET":
        return client.http.get(path, headers=headers)
    return client.http.post(path, headers=headers, body=json.dumps(body or {}, ensure_ascii=False))


def test_partner_directory_lists_1357_and_one_ccei_per_region_with_public_contacts(client):
    listed = client.http.get("/partners").json_body["partners"]
    codes = [p["code"] for p in listed]
    assert codes[0] == "BIZINFO1357" and len([c for c in codes if c.startswith("CCEI-")]) == 17
    daejeon = next(p for p in listed if p["code"] == "CCEI-DAEJEON")
    assert daejeon["url"] == "https://ccei.creativekorea.or.kr/daejeon/" and daejeon["name_ko"] == "대전창조경제혁신센터"
    assert listed[0]["phone"] == "1357"


def test_handoff_reaches_only_the_regional_partners_queue_when_a_coordinator_hands_off(client, store, keys,
                                                                                       sample_case):
    receipt = handed_off(client, store, sample_case)
    case_id = receipt["case_id"]
    mine = as_partner(client, keys["CCEI-DAEJEON"], "GET", "/partner/handoffs").json_body
    assert mine["partner"] == "CCEI-DAEJEON" and [h["case_id"] for h in mine["handoffs"]] == [case_id]
    assert mine["handoffs"][0]["status"] == "pending"
    detail = as_partner(client, keys["CCEI-DAEJEON"], "GET", f"/partner/handoffs/{case_id}")
    assert detail.status_code == 200 and detail.json_body["case"]["title"] == sample_case["title"]
    text = detail.body.decode()
    assert "minsu" not in text and "5678" not in text  # no contact details for partners
    assert as_partner(client, keys["BIZINFO1357"], "GET", "/partner/handoffs").json_body["handoffs"] == []
    assert as_partner(client, keys["BIZINFO1357"], "GET", f"/partner/handoffs/{case_id}").status_code == 404
    assert as_partner(client, keys["KITECH"], "GET", "/partner/handoffs").status_code == 401  # institute key
    assert as_partner(client, None, "GET", "/partner/handoffs").status_code == 401


def test_partner_pickup_shows_on_the_smes_page_once_when_accepted_twice(client, store, keys, sample_case):
    receipt = handed_off(client, store, sample_case)
    case_id = receipt["case_id"]
    ok = as_partner(client, keys["CCEI-DAEJEON"], "POST", f"/partner/handoffs/{case_id}/accept")
    assert ok.status_code == 200 and ok.json_body == {"case_id": case_id, "handoff_status": "accepted",
                                                      "changed": True}
    again = as_partner(client, keys["CCEI-DAEJEON"], "POST", f"/partner/handoffs/{case_id}/accept")
    assert again.status_code == 200 and again.json_body["changed"] is False
    view = client.http.get(f"/cases/{case_id}", headers={"X-Tracking-Token": receipt["tracking_token"]}).json_body
    pickups = [e for e in view["history"] if e["type"] == "case.partner_accepted"]
    assert len(pickups) == 1 and pickups[0]["data"]["partner"]["name_ko"] == "대전창조경제혁신센터"
    assert view["status"] == "handed_off"


def test_partner_return_puts_the_case_in_the_triage_queue_with_the_reason(client, store, keys, sample_case):
    receipt = handed_off(client, store, sample_case, partner="BIZINFO1357")
    case_id = receipt["case_id"]
    bad = as_partner(client, keys["BIZINFO1357"], "POST", f"/partner/handoffs/{case_id}/return", {"reason": ""})
    assert bad.status_code == 422
    back = as_partner(client, keys["BIZINFO1357"], "POST", f"/partner/handoffs/{case_id}/return",
                      {"reason": "기술 문제라 1379에서 다뤄야 합니다"})
    assert back.status_code == 200 and back.json_body["status"] == "triaged"
    case = store.get_case(case_id)
    assert case["status"] == "triaged" and case["routing"]["reason"] == "partner_returned"
    [event] = [e for e in store.history(case_id) if e["type"] == "case.triaged"]
    assert event["data"]["note"] == "기술 문제라 1379에서 다뤄야 합니다"
    queue = client.http.get("/coordinator/queue", headers=ALICE).json_body
    assert case_id in [c["case_id"] for section in ("low_confidence", "declined_by_all") for c in queue[section]]
    assert as_partner(client, keys["BIZINFO1357"], "POST", f"/partner/handoffs/{case_id}/accept").status_code == 409


def test_unclaimed_handoff_goes_to_triage_after_two_business_days_once_when_sla_pass_reruns(client, store, keys,
                                                                                          sample_case):
    unclaimed = handed_off(client, store, sample_case)["case_id"]
    picked = handed_off(client, store, sample_case)["case_id"]
    assert as_partner(client, keys["CCEI-DAEJEON"], "POST", f"/partner/handoffs/{picked}/accept").status_code == 200
    assert partners.lapse_unclaimed(store, utcnow()).lapsed == []  # not yet due
    later = utcnow() + timedelta(days=10)  # at least 2 business days whatever the holidays
    run = run_scheduled(later, store=store, alerts=MemoryAlertSink())
    assert run.handoffs_lapsed == [unclaimed]
    assert store.get_case(unclaimed)["status"] == "triaged"
    assert store.get_case(unclaimed)["routing"]["reason"] == "partner_no_pickup"
    assert store.get_case(picked)["status"] == "handed_off"
    assert partners.lapse_unclaimed(store, later + timedelta(days=1)).lapsed == []  # exactly once
    assert store.get_handoff(unclaimed, "CCEI-DAEJEON")["status"] == "lapsed"


def test_router_handoff_writes_the_regional_partners_queue_item_when_routed(store, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)
    referrals.route_case_event(store, intake_message(store, receipt["case_id"]),
                               router=FixedRouter(["CCEI"], decision="handoff"), sender=_NullSender(),
                               evidence=lambda text, n: [])
    assert store.get_case(receipt["case_id"])["status"] == "handed_off"
    [item] = store.partner_handoffs("CCEI-DAEJEON", "pending")
    assert item["case_id"] == receipt["case_id"]


def _relay_history(store, case_id: str) -> None:
    """What the outbox relay does with the case's stream: every event record, as INSERTs."""
    from boto3.dynamodb.types import TypeSerializer

    from sos1379 import outbox
    from sos1379.store import to_dynamo

    serializer = TypeSerializer()
    for event in store.history(case_id):
        item = to_dynamo({**event, "kind": "event"})
        outbox.relay_record({"eventName": "INSERT",
                             "dynamodb": {"NewImage": {k: serializer.serialize(v) for k, v in item.items()}}})


def test_handoff_message_reaches_only_the_partners_own_sqs_queue_when_relayed(client, store, keys, sample_case, aws):
    import jsonschema

    from tests.conftest import ROOT

    receipt = handed_off(client, store, sample_case)
    _relay_history(store, receipt["case_id"])
    [message] = aws.drain("HandoffQueueCCEIDAEJEON")
    schema = json.loads((ROOT / "events" / "schemas" / "handoff.v1.json").read_text(encoding="utf-8"))
    jsonschema.validate(message, schema)
    assert message["partner"] == "CCEI-DAEJEON" and message["case_id"] == receipt["case_id"]
    assert "minsu" not in json.dumps(message, ensure_ascii=False)  # no contact details, no notes
    assert aws.drain("HandoffQueueBIZINFO1357") == []
