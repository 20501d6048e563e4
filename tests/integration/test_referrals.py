"""Referral fan-out on moto: a routed case becomes exactly one message on the right institute's
queue, whatever is redelivered or crashes in between; consent decides whether contact travels."""
from __future__ import annotations

import copy
import importlib.util
import json

import jsonschema
import pytest

from sos1379 import intake
from sos1379.institutes import service as institute_service
from sos1379.referrals import fanout as referrals
from sos1379.routing import InstituteScore, RoutingResult
from sos1379.store import CaseStore
from tests.conftest import ROOT, load_event

SCHEMA = json.loads((ROOT / "events/schemas/referral.v1.json").read_text(encoding="utf-8"))


class _Context:
    function_name = "RouteCaseFunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:RouteCaseFunction"
    aws_request_id = "test-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30000


class FixedRouter:
    """A router with a fixed ranking (best first): refers the best not-excluded institute, or says
    ``coordinator`` when none is left. Lets the decline tests run every branch deterministically."""

    def __init__(self, ranking: list[str], decision: str = "refer") -> None:
        self.ranking = ranking
        self.decision = decision

    def route(self, inp, *, exclude=frozenset()):
        left = [c for c in self.ranking if c not in set(exclude)]
        scores = [InstituteScore(code=c, score=round(1.0 - 0.1 * i, 2), reasons=[f"fixed rank {i + 1}"])
                  for i, c in enumerate(left)]
        if not left or self.decision == "coordinator":
            return RoutingResult(decision="coordinator", institutes=scores, targets=[], confidence=0.1)
        targets = left[:1] if self.decision == "refer" else [left[0]]
        return RoutingResult(decision=self.decision, institutes=scores, targets=targets, confidence=0.8)


def intake_message(store: CaseStore, case_id: str, event_type: str = "case.submitted", nth: int = -1) -> dict:
    events = [e for e in store.history(case_id) if e["type"] == event_type]
    e = events[nth]
    return {"version": 1, "event_id": e["event_id"], "case_id": case_id, "type": e["type"], "at": e["at"],
            "actor": e["actor"], "data": e.get("data", {})}


def sqs_event(messages: list[dict]) -> dict:
    return {"Records": [{"messageId": f"m-{i}", "receiptHandle": f"r-{i}", "body": json.dumps(m),
                         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                         "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:ap-northeast-2:123456789012:test-IntakeQueue",
                         "awsRegion": "ap-northeast-2"} for i, m in enumerate(messages)]}


def load_handler():
    spec = importlib.util.spec_from_file_location("route_case_handler", ROOT / "functions/route_case/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def submit(store: CaseStore, case: dict) -> str:
    receipt, _ = intake.submit_case(store, case)
    return receipt["case_id"]


def test_submitted_case_becomes_one_valid_message_on_the_right_queue_when_handled(aws, store, sample_case):
    case_id = submit(store, sample_case)
    out = load_handler().lambda_handler(sqs_event([intake_message(store, case_id)]), _Context())
    assert out == {"batchItemFailures": []}

    messages = aws.drain("ReferralQueueKITECH")
    assert len(messages) == 1
    jsonschema.validate(messages[0], SCHEMA, cls=jsonschema.Draft202012Validator)
    msg = messages[0]
    assert msg["case_id"] == case_id and msg["institute"] == "KITECH"
    assert msg["routing"]["rank"] == 1 and msg["routing"]["reasons"]
    assert msg["contact"]["phone"] == "+821012345678" and msg["contact_withheld"] is False

    case = store.get_case(case_id)
    assert case["status"] == "referred"
    assert case["routing"]["decision"] == "refer" and case["routing"]["institutes"][0]["code"] == "KITECH"
    assert len(case["routing"]["institutes"]) == referrals.RANKING_RECORDED
    [referral] = store.referrals(case_id)
    assert referral["referral_id"] == msg["referral_id"] and referral["message_sent"] is True
    types = [e["type"] for e in store.history(case_id)]
    assert types == ["case.submitted", "case.routed", "case.referred"]
    assert [r["case_id"] for r in store.institute_referrals("KITECH", "referred")] == [case_id]


def test_redelivered_intake_event_makes_no_second_referral_or_message_when_replayed(aws, store, sample_case):
    case_id = submit(store, sample_case)
    message = intake_message(store, case_id)
    handler = load_handler()
    handler.lambda_handler(sqs_event([message, message]), _Context())  # duplicate within one batch
    outcome = referrals.route_case_event(store, message)  # and a later redelivery
    assert outcome.replay is True and outcome.sent == 0
    assert len(aws.drain("ReferralQueueKITECH")) == 1
    assert len(store.referrals(case_id)) == 1
    assert [e["type"] for e in store.history(case_id)].count("case.referred") == 1


def test_crash_between_commit_and_send_is_finished_by_redelivery_when_send_failed(aws, store, sample_case):
    case_id = submit(store, sample_case)
    message = intake_message(store, case_id)

    class DownSender(referrals.ReferralSender):
        def send(self, message):
            raise ConnectionError("SQS unreachable")

    with pytest.raises(ConnectionError):
        referrals.route_case_event(store, message, sender=DownSender())
    # the decision is durable, the message is not out yet
    assert store.get_case(case_id)["status"] == "referred"
    [referral] = store.referrals(case_id)
    assert referral["message_sent"] is False
    assert aws.drain("ReferralQueueKITECH") == []

    again = referrals.route_case_event(store, message)  # SQS redelivers the intake event
    assert again.replay is True and again.sent == 1
    [delivered] = aws.drain("ReferralQueueKITECH")
    assert delivered["referral_id"] == referral["referral_id"]
    assert referrals.route_case_event(store, message).sent == 0
    assert aws.drain("ReferralQueueKITECH") == []


def test_unknown_send_outcome_resends_same_referral_id_when_flag_write_failed(aws, store, sample_case, monkeypatch):
    case_id = submit(store, sample_case)
    message = intake_message(store, case_id)
    real = referrals.mark_sent

    def lost(*args, **kwargs):
        raise ConnectionError("timeout after the send")

    monkeypatch.setattr(referrals, "mark_sent", lost)
    with pytest.raises(ConnectionError):
        referrals.route_case_event(store, message)
    monkeypatch.setattr(referrals, "mark_sent", real)
    referrals.route_case_event(store, message)
    copies = aws.drain("ReferralQueueKITECH")
    # at-least-once with a stable id: the institute's dedupe on referral_id makes it exactly once
    assert len(copies) == 2 and copies[0]["referral_id"] == copies[1]["referral_id"]
    assert len({json.dumps(c, sort_keys=True) for c in copies}) == 1


def test_repair_command_resends_unsent_referrals_when_intake_retries_are_exhausted(aws, store, sample_case):
    from datetime import timedelta

    from sos1379.events import utcnow

    case_id = submit(store, sample_case)

    class DownSender(referrals.ReferralSender):
        def send(self, message):
            raise ConnectionError("SQS unreachable")

    with pytest.raises(ConnectionError):
        referrals.route_case_event(store, intake_message(store, case_id), sender=DownSender())
    assert referrals.resend_unsent(store, ["KITECH"], older_than_seconds=300) == 0  # too fresh to touch
    later = utcnow() + timedelta(minutes=10)
    assert referrals.resend_unsent(store, ["KITECH", "KIMS"], older_than_seconds=300, now=later) == 1
    assert len(aws.drain("ReferralQueueKITECH")) == 1
    assert referrals.resend_unsent(store, ["KITECH"], older_than_seconds=300, now=later) == 0


def test_message_withholds_contact_when_sme_did_not_consent(aws, store, sample_case):
    case = copy.deepcopy(sample_case)
    case["consent"]["share_with_institutes"] = False
    case_id = submit(store, case)
    referrals.route_case_event(store, intake_message(store, case_id))
    [msg] = aws.drain("ReferralQueueKITECH")
    jsonschema.validate(msg, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert msg["contact"] is None and msg["contact_withheld"] is True
    text = json.dumps(msg, ensure_ascii=False)
    for personal in ("김민수", "1234", "minsu.kim", "116-82-00276", "1168200276"):
        assert personal not in text


def test_english_case_routes_to_a_measurement_institute_queue_when_submitted(aws, store):
    case_id = submit(store, load_event("cases/sensor_drift_en.json"))
    outcome = referrals.route_case_event(store, intake_message(store, case_id))
    assert outcome.decision in ("refer", "coordinator")
    if outcome.decision == "refer":
        for code in outcome.targets:
            [msg] = aws.drain(f"ReferralQueue{code}")
            assert msg["language"] == "en" and msg["contact_withheld"] is True


def test_non_technology_case_is_handed_off_without_referral_when_routed(aws, store):
    case_id = submit(store, load_event("cases/export_loan_ko.json"))
    outcome = referrals.route_case_event(store, intake_message(store, case_id),
                                         router=FixedRouter(["CCEI", "KITECH"], decision="handoff"))
    assert outcome.decision == "handoff"
    case = store.get_case(case_id)
    assert case["status"] == "handed_off"
    assert store.referrals(case_id) == []
    handed = [e for e in store.history(case_id) if e["type"] == "case.handed_off"]
    assert handed[0]["data"]["partner"]["code"] == "CCEI"
    assert handed[0]["data"]["partner"]["name_ko"] == "전북창조경제혁신센터"  # the company is in 전라북도


def test_ccei_partner_is_named_by_region_when_handing_off():
    partner = referrals.partner_for("CCEI", {"company": {"region": "daejeon"}})
    assert partner["name_ko"] == "대전창조경제혁신센터" and partner["region"] == "daejeon"
    assert referrals.partner_for("CCEI", {"company": {"region": "jeonbuk"}})["name_ko"] == "전북창조경제혁신센터"
    assert referrals.partner_for("BIZINFO1357", {})["name_ko"].startswith("중소기업 통합콜센터")


def test_low_confidence_case_goes_to_a_coordinator_when_router_is_unsure(aws, store, sample_case):
    case_id = submit(store, sample_case)
    outcome = referrals.route_case_event(store, intake_message(store, case_id),
                                         router=FixedRouter(["KITECH", "KIMS"], decision="coordinator"))
    assert outcome.decision == "coordinator"
    assert store.get_case(case_id)["status"] == "triaged"
    triaged = [e for e in store.history(case_id) if e["type"] == "case.triaged"]
    assert triaged[0]["data"]["reason"] == "low_confidence"
    assert aws.drain("ReferralQueueKITECH") == []


def test_stale_submitted_event_is_skipped_when_the_case_moved_on(aws, store, sample_case):
    case_id = submit(store, sample_case)
    case = store.get_case(case_id)
    store.update_case(case, {"status": "withdrawn"})
    outcome = referrals.route_case_event(store, intake_message(store, case_id))
    assert outcome.decision == "skipped"
    assert store.referrals(case_id) == []


def test_coordinator_override_refers_forced_targets_when_route_requested(aws, store, sample_case):
    from sos1379.events import Actor, CaseEvent

    case_id = submit(store, sample_case)
    router = FixedRouter(["KITECH", "KIMS", "KBSI"])
    referrals.route_case_event(store, intake_message(store, case_id), router=router)
    aws.drain("ReferralQueueKITECH")
    case = store.get_case(case_id)
    override = CaseEvent(case_id=case_id, type="case.route_requested", actor=Actor(kind="coordinator", id="c1"),
                         data={"targets": ["KBSI"], "reason": "coordinator_override"})
    store.update_case(case, {}, events=[override])
    outcome = referrals.route_case_event(store, override.message(), router=router)
    assert outcome.targets == ["KBSI"]
    [msg] = aws.drain("ReferralQueueKBSI")
    assert msg["routing"]["forced"] is True and msg["routing"]["rank"] == 3
    by_code = {r["institute"]: r["status"] for r in store.referrals(case_id)}
    assert by_code == {"KITECH": "superseded", "KBSI": "referred"}


def test_decline_reroutes_through_the_outbox_to_next_institute_when_no_offer_is_left(aws, store, sample_case):
    from tests.integration.test_outbox import stream_records
    from sos1379.outbox import relay_record

    case_id = submit(store, sample_case)
    router = FixedRouter(["KITECH", "KIMS", "KBSI"])
    referrals.route_case_event(store, intake_message(store, case_id), router=router)
    aws.drain("IntakeQueue")
    result = institute_service.decline(store, "KITECH", case_id, {"reason": "용접은 저희 전문 분야가 아닙니다"})
    assert result["rerouted"] is True
    for record in stream_records(aws.tables["CasesTable"]):  # the relay publishes the outbox
        relay_record(record)
    intake_msgs = [m for m in aws.drain("IntakeQueue") if m["type"] == "case.route_requested"]
    assert len(intake_msgs) == 1
    outcome = referrals.route_case_event(store, intake_msgs[0], router=router)
    assert outcome.targets == ["KIMS"]
    assert [m["institute"] for m in aws.drain("ReferralQueueKIMS")] == ["KIMS"]
    case = store.get_case(case_id)
    assert case["status"] == "referred" and case["declined_by"] == ["KITECH"]
    assert {r["institute"]: r["status"] for r in store.referrals(case_id)} == {"KITECH": "declined", "KIMS": "referred"}


def test_all_declined_sends_case_to_coordinator_when_no_institute_is_left(aws, store, sample_case):
    case_id = submit(store, sample_case)
    router = FixedRouter(["KITECH", "KIMS"])
    referrals.route_case_event(store, intake_message(store, case_id), router=router)
    for code in ("KITECH", "KIMS"):
        institute_service.decline(store, code, case_id, {"reason": "not our field"})
        outcome = referrals.route_case_event(store, intake_message(store, case_id, "case.route_requested"),
                                             router=router)
    assert outcome.decision == "coordinator" and outcome.reason == "no_institute_left"
    case = store.get_case(case_id)
    assert case["status"] == "triaged"
    assert case["declined_by"] == ["KITECH", "KIMS"]


def test_decline_limit_hands_case_to_coordinator_when_institutes_keep_declining(aws, store, sample_case):
    case_id = submit(store, sample_case)
    router = FixedRouter(["KITECH", "KIMS", "KBSI", "KRISS", "KIST"])
    referrals.route_case_event(store, intake_message(store, case_id), router=router)
    chain = []
    for _ in range(referrals.MAX_AUTOMATIC_REROUTES):
        current = store.get_case(case_id)["referred_to"][0]
        chain.append(current)
        institute_service.decline(store, current, case_id, {"reason": "not our field"})
        outcome = referrals.route_case_event(store, intake_message(store, case_id, "case.route_requested"),
                                             router=router)
    assert chain == ["KITECH", "KIMS", "KBSI"]
    assert outcome.decision == "coordinator" and outcome.reason == "decline_limit"


def test_handler_reports_only_poison_records_when_batch_is_mixed(aws, store, sample_case):
    case_id = submit(store, sample_case)
    good = intake_message(store, case_id)
    unknown_case = {**good, "event_id": "e-unknown", "case_id": "no-such-case"}
    event = sqs_event([good, unknown_case])
    event["Records"].append({**event["Records"][0], "messageId": "m-bad-json", "body": "{not json"})
    out = load_handler().lambda_handler(event, _Context())
    assert {f["itemIdentifier"] for f in out["batchItemFailures"]} == {"m-1", "m-bad-json"}
    assert len(aws.drain("ReferralQueueKITECH")) == 1
