"""Contact verification by one-time code (issue 19, sos1379.verification): the receipt goes (with a
code), nothing else reaches an unconfirmed phone or address until the SME types the code on the
tracking page; what waited is sent then. The real notify handler on moto, the API through
Chalice's test client; clocks injected."""
from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from chalice.test import Client

from sos1379 import verification
from sos1379.korea import SEOUL, business_number_check_digit
from sos1379.lifecycle import EventType
from sos1379.notify import limits, runtime
from sos1379.settings import get_settings
from sos1379.store import CaseStore
from tests.integration.notify_support import SENDER, Context, load_handler, sent_messages, sqs_event

JSON = {"Content-Type": "application/json"}
PHONE, EMAIL = "+821012345678", "minsu.kim@example.com"
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SEOUL).astimezone(timezone.utc)  # 10:00 KST: not quiet hours
CODE = re.compile(r"(?:인증번호|Contact code|Code): ?([0-9]{6})")


@pytest.fixture
def world(aws, monkeypatch):
    monkeypatch.setenv("NOTIFY_SENDER_EMAIL", SENDER)
    monkeypatch.setenv("NOTIFY_VERIFY_CONTACTS", "on")
    monkeypatch.setenv("COORDINATOR_DEV_JWT_SECRET", "verify-secret-" + "x" * 40)
    from sos1379.settings import get_settings

    get_settings.cache_clear()
    runtime.reset()
    boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
    clock = {"now": NOW}
    monkeypatch.setattr(verification, "_clock", lambda: clock["now"])
    handler = load_handler()
    runtime.get_notifier().clock = lambda: clock["now"]
    from app import app

    with Client(app) as client:
        yield World(aws, handler, client, clock)
    runtime.reset()
    get_settings.cache_clear()


class World:
    def __init__(self, aws, handler, client, clock):
        self.store = CaseStore(aws.tables["CasesTable"])
        self.handler, self.client, self.clock = handler, client, clock
        self.seen_sms = self.seen_mail = 0

    def submit(self, body: dict) -> dict:
        resp = self.client.http.post("/cases", headers=JSON, body=json.dumps(body, ensure_ascii=False))
        assert resp.status_code == 201, resp.body
        return resp.json_body

    def deliver(self, case_id: str, *types: str) -> None:
        """Hand the case's events of ``types`` to the notify handler, as the outbox relay would."""
        events = [e for e in self.store.history(case_id) if e["type"] in types]
        assert events, types
        bodies = [{"version": 1, "event_id": e["event_id"], "case_id": case_id, "type": e["type"], "at": e["at"],
                   "actor": e["actor"], "data": e.get("data") or {}} for e in events]
        out = self.handler.lambda_handler(sqs_event(*bodies), Context(5000))
        assert out == {"batchItemFailures": []}

    def record(self, case_id: str, event_type: str, data: dict) -> None:
        from sos1379.events import Actor, CaseEvent, iso

        self.store.append_event(CaseEvent(case_id=case_id, type=event_type, at=iso(self.clock["now"]),
                                          actor=Actor(kind="system", id="test"), data=data))

    def new_sms(self) -> list[str]:
        sms = [text for phone, text in sent_messages().sms if phone == PHONE]
        fresh, self.seen_sms = sms[self.seen_sms:], len(sms)
        return fresh

    def new_mail(self) -> list[dict]:
        mail = [m for m in sent_messages().emails if EMAIL in m["to"]]
        fresh, self.seen_mail = mail[self.seen_mail:], len(mail)
        return fresh

    def verify(self, receipt: dict, code: str):
        return self.client.http.post(f"/cases/{receipt['case_id']}/verify-contact",
                                     headers={**JSON, "X-Tracking-Token": receipt["tracking_token"]},
                                     body=json.dumps({"code": code}))

    def view(self, receipt: dict) -> dict:
        resp = self.client.http.get(f"/cases/{receipt['case_id']}", headers={"X-Tracking-Token": receipt["tracking_token"]})
        assert resp.status_code == 200
        return resp.json_body


def _code_in(text: str) -> str:
    found = CODE.search(text)
    assert found, text
    return found.group(1)


def test_receipt_carries_a_code_per_channel_and_only_salted_hashes_are_stored(world, sample_case, caplog):
    caplog.set_level(logging.INFO)  # our logs (botocore DEBUG prints request bodies by design)
    receipt = world.submit(sample_case)
    world.deliver(receipt["case_id"], EventType.SUBMITTED)
    [sms], [mail] = world.new_sms(), world.new_mail()
    sms_code, mail_code = _code_in(sms), _code_in(mail["body"])
    assert "261126-" in sms or receipt["case_number"] in sms  # the receipt's news is there too
    assert sms_code != mail_code
    stored = json.dumps(world.store.table.scan()["Items"], default=str)
    assert sms_code not in stored and mail_code not in stored
    codes = world.store.contact_codes(receipt["case_id"])
    assert set(codes) == {"sms", "email"} and all(len(c["codes"][0]["hash"]) == 64 for c in codes.values())
    assert sms_code not in caplog.text and mail_code not in caplog.text and PHONE not in caplog.text
    history = [e for e in world.store.history(receipt["case_id"]) if e["type"] == EventType.NOTIFICATION]
    assert {e["data"]["alimtalk_code"] for e in history if e["data"].get("alimtalk_code")} == {"SOS1379_RECEIPT_KO_02"}


def test_updates_wait_for_an_unconfirmed_contact_and_go_once_its_code_is_entered(world, sample_case):
    receipt = world.submit(sample_case)
    case_id = receipt["case_id"]
    world.deliver(case_id, EventType.SUBMITTED)
    sms_code = _code_in(world.new_sms()[0])
    world.new_mail()
    world.record(case_id, EventType.REFERRED, {"institutes": ["KITECH"]})
    world.record(case_id, EventType.INFO_REQUESTED, {"question": "사진을 보내주세요"})
    world.deliver(case_id, EventType.REFERRED, EventType.INFO_REQUESTED)
    assert world.new_sms() == [] and world.new_mail() == []  # nothing beyond the receipt
    held = [e["data"] for e in world.store.history(case_id)
            if e["type"] == EventType.NOTIFICATION and e["data"]["status"] == "held"]
    assert len(held) == 4 and {h["reason"] for h in held} == {"contact_unverified"}
    view = world.view(receipt)
    assert view["contact_verification"] == {"verified": [], "pending": ["email", "sms"], "held_messages": 4}
    assert view["status"] and any(e["type"] == EventType.INFO_REQUESTED for e in view["history"])  # on the page

    answer = world.verify(receipt, sms_code[:3] + " " + sms_code[3:])  # as people type it
    assert answer.status_code == 200, answer.body
    assert answer.json_body == {"verified": ["sms"], "newly_verified": ["sms"]}
    world.deliver(case_id, EventType.CONTACT_VERIFIED)  # the outbox brings it to the notifier
    released = world.new_sms()
    assert len(released) == 2 and any("사진을 보내주세요" in t for t in released)
    assert world.new_mail() == []  # the address is still unconfirmed: its notices keep waiting
    assert world.view(receipt)["contact_verification"] == {"verified": ["sms"], "pending": ["email"],
                                                           "held_messages": 2}
    world.deliver(case_id, EventType.CONTACT_VERIFIED)  # a redelivered event sends nothing twice
    assert world.new_sms() == []
    world.record(case_id, EventType.RESOLVED, {})
    world.deliver(case_id, EventType.RESOLVED)
    assert len(world.new_sms()) == 1 and world.new_mail() == []


def test_wrong_malformed_and_expired_codes_are_422_in_korean_and_english(world, sample_case):
    receipt = world.submit(sample_case)
    world.deliver(receipt["case_id"], EventType.SUBMITTED)
    sms_code = _code_in(world.new_sms()[0])
    malformed = world.verify(receipt, "12ab")
    assert malformed.status_code == 422
    [error] = malformed.json_body["errors"]
    assert error["field"] == "code" and error["code"] == "verification_code_format"
    assert error["message_ko"] and error["message_en"] and malformed.headers["Content-Type"] == "application/problem+json"
    wrong = f"{(int(sms_code) + 1) % 10 ** 6:06d}"
    answer = world.verify(receipt, wrong)
    assert answer.status_code == 422 and answer.json_body["errors"][0]["code"] == "verification_code_invalid"
    assert "인증번호" in answer.json_body["errors"][0]["message_ko"]
    world.clock["now"] = NOW + verification.CODE_TTL + timedelta(seconds=1)
    expired = world.verify(receipt, sms_code)
    assert expired.status_code == 422 and expired.json_body["errors"][0]["code"] == "verification_code_expired"
    assert world.verify({**receipt, "tracking_token": "wrong"}, sms_code).status_code == 404


def test_a_code_dies_after_five_wrong_guesses_and_every_attempt_does_the_same_hashing(world, sample_case, monkeypatch):
    receipt = world.submit(sample_case)
    world.deliver(receipt["case_id"], EventType.SUBMITTED)
    sms_code = _code_in(world.new_sms()[0])
    hashes = []
    real = verification._hash
    monkeypatch.setattr(verification, "_hash", lambda code, salt: hashes.append(1) or real(code, salt))
    wrong = f"{(int(sms_code) + 7) % 10 ** 6:06d}"
    for _ in range(verification.MAX_TRIES_PER_CODE):
        before = len(hashes)
        assert world.verify(receipt, wrong).status_code == 422
        assert len(hashes) - before == verification.MAX_COMPARISONS  # 2 live codes or none: same work
    answer = world.verify(receipt, sms_code)
    assert answer.status_code == 422 and answer.json_body["errors"][0]["code"] == "verification_code_expired"
    before = len(hashes)
    world.verify(receipt, wrong)
    assert len(hashes) - before == verification.MAX_COMPARISONS  # no live code left: still the same work


def test_a_new_code_on_request_is_rate_limited_per_case_and_the_old_one_stays_valid(world, sample_case):
    receipt = world.submit(sample_case)
    world.deliver(receipt["case_id"], EventType.SUBMITTED)
    first = _code_in(world.new_sms()[0])
    world.new_mail()
    headers = {**JSON, "X-Tracking-Token": receipt["tracking_token"]}
    path = f"/cases/{receipt['case_id']}/verify-contact/resend"
    statuses = [world.client.http.post(path, headers=headers, body=json.dumps({"channel": "sms"})).status_code
                for _ in range(verification.RESEND_PER_HOUR + 1)]
    assert statuses == [202] * verification.RESEND_PER_HOUR + [429]
    world.deliver(receipt["case_id"], EventType.CODE_REQUESTED)
    resent = world.new_sms()
    assert len(resent) == verification.RESEND_PER_HOUR and world.new_mail() == []  # only the channel asked for
    assert all(_code_in(t) != first for t in resent)
    assert world.verify(receipt, first).status_code == 422  # only the newest MAX_LIVE_CODES live
    assert world.verify(receipt, _code_in(resent[-1])).json_body["newly_verified"] == ["sms"]
    assert world.client.http.post(path, headers=headers, body=json.dumps({"channel": "fax"})).status_code == 422


def test_counselor_confirmed_contacts_need_no_code_and_web_cases_cannot_be_confirmed_by_staff(world, sample_case):
    from sos1379.coordinators.auth import mint_dev_token

    token = mint_dev_token("verify-secret-" + "x" * 40, "counselor-kim", "counselor")
    staff = {**JSON, "Authorization": f"Bearer {token}"}
    body = {**sample_case, "channel": "call_center", "verified_channels": ["sms"]}
    resp = world.client.http.post("/coordinator/cases", headers=staff, body=json.dumps(body, ensure_ascii=False))
    assert resp.status_code == 201, resp.body
    phoned = resp.json_body["case_id"]
    world.deliver(phoned, EventType.SUBMITTED)
    [sms] = world.new_sms()
    assert not CODE.search(sms)  # the plain receipt: the counselor confirmed the number
    assert CODE.search(world.new_mail()[0]["body"])  # the address was not confirmed: it gets a code
    world.record(phoned, EventType.ACCEPTED, {"institute": "KITECH"})
    world.deliver(phoned, EventType.ACCEPTED)
    assert len(world.new_sms()) == 1 and world.new_mail() == []
    later = world.client.http.post(f"/coordinator/cases/{phoned}/verify-contact", headers=staff,
                                   body=json.dumps({"channels": ["email"]}))
    assert later.status_code == 200 and later.json_body["verified"] == ["email", "sms"]
    world.deliver(phoned, EventType.CONTACT_VERIFIED)
    assert len(world.new_mail()) == 1  # the held acceptance notice
    web = world.submit(sample_case)
    refused = world.client.http.post(f"/coordinator/cases/{web['case_id']}/verify-contact", headers=staff,
                                     body=json.dumps({"channels": ["sms"]}))
    assert refused.status_code == 409


def test_a_flood_naming_one_phone_gets_receipts_within_the_cap_and_no_updates(world, sample_case, monkeypatch):
    """30 cases from the public form naming the victim, then a status update on each: the victim
    receives at most the daily cap of receipts per channel and none of the 30 updates."""
    monkeypatch.setenv("NOTIFY_RECIPIENT_DAILY_CAP", "5")
    get_settings.cache_clear()  # settings are read once per process
    case_ids = []
    for i in range(30):
        first9 = f"{220816000 + i:09d}"
        body = {**sample_case, "title": f"{sample_case['title']} {i}",
                "company": {**sample_case["company"], "business_number": first9 + str(business_number_check_digit(first9))}}
        case_ids.append(world.submit(body)["case_id"])
    for case_id in case_ids:
        world.deliver(case_id, EventType.SUBMITTED)
        world.record(case_id, EventType.REFERRED, {"institutes": ["KITECH"]})
        world.deliver(case_id, EventType.REFERRED)
    sms, mail = world.new_sms(), world.new_mail()
    held = sum(1 for c in case_ids for e in world.store.history(c)
               if e["type"] == EventType.NOTIFICATION and e["data"]["status"] == "held")
    suppressed = sum(1 for c in case_ids for e in world.store.history(c)
                     if e["type"] == EventType.NOTIFICATION and e["data"]["status"] == limits.SUPPRESSED)
    print(f"verification flood: 30 cases + 30 updates naming one phone -> {len(sms)} SMS, {len(mail)} emails, "
          f"{held} held, {suppressed} suppressed")
    assert len(sms) == 5 and len(mail) == 5
    assert all(CODE.search(t) for t in sms)  # receipts only
    assert held == 60 and suppressed == 50
