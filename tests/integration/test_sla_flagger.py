"""The SLA pass against moto DynamoDB (tables from template.yaml), with a controllable clock."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import boto3
import pytest

from sos1379 import intake, korea
from sos1379.events import Actor, CaseEvent, iso
from sos1379.lifecycle import EventType
from sos1379.sla import FAR_FUTURE, MemoryAlertSink, flag_due_cases
from sos1379.sla.flagger import run_scheduled

KST = korea.SEOUL
RECEIVED = datetime(2026, 11, 2, 14, 0, tzinfo=KST)   # Monday; guidance due Thursday 14:00
AFTER_DUE = datetime(2026, 11, 5, 14, 30, tzinfo=KST)


def submit(store, sample_case, at=RECEIVED) -> dict:
    receipt, _ = intake.submit_case(store, sample_case, now=at)
    return store.get_case(receipt["case_id"])


def record(store, case, changes, kind, at, actor=Actor(kind="coordinator", id="alice"), data=None) -> dict:
    event = CaseEvent(case_id=case["case_id"], type=kind, at=iso(at), actor=actor, data=data or {})
    return store.update_case(case, {**changes, "updated_at": iso(at)}, events=[event])


def flags(store, case_id) -> list[dict]:
    return [e for e in store.history(case_id) if e["type"] in (EventType.SLA_AT_RISK, EventType.SLA_BREACHED)]


def test_unanswered_case_is_breached_once_and_coordinator_alerted_once_when_run_twice(store, sample_case):
    case = submit(store, sample_case)
    record(store, case, {"assigned_to": "alice"}, EventType.ASSIGNED, RECEIVED + timedelta(hours=1))
    alerts = MemoryAlertSink()

    first = flag_due_cases(store, AFTER_DUE, alerts)
    second = flag_due_cases(store, AFTER_DUE + timedelta(minutes=15), alerts)

    breaches = [e for e in flags(store, case["case_id"]) if e["type"] == EventType.SLA_BREACHED]
    assert len(breaches) == 1 and breaches[0]["data"]["clock"] == "first_guidance"
    assert breaches[0]["at"] == case["guidance_due_at"]
    assert first.breached == 1 and second.breached == 0 and second.alerts == 0
    assert [(a["audience"], a["recipient"]) for a in alerts.sent] == [("coordinator", "alice"), ("lead", "lead")]
    assert "phone" not in json.dumps(alerts.sent) and sample_case["contact"]["phone"] not in json.dumps(alerts.sent)


def test_breach_event_goes_to_the_notification_queue_when_recorded(store, sample_case):
    case = submit(store, sample_case)
    flag_due_cases(store, AFTER_DUE, MemoryAlertSink())
    item = store.table.query(KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
                             ExpressionAttributeValues={":pk": f"CASE#{case['case_id']}", ":sk": "EVENT#"})["Items"]
    breach = [i for i in item if i["type"] == EventType.SLA_BREACHED][0]
    assert breach["publish_to"] == ["notify"] and breach["data"]["public_apology"] is True


def test_case_is_flagged_at_risk_then_breached_when_time_passes(store, sample_case):
    case = submit(store, sample_case)
    alerts = MemoryAlertSink()
    run = flag_due_cases(store, datetime(2026, 11, 4, 15, 0, tzinfo=KST), alerts)
    assert run.at_risk == 1 and run.breached == 0
    assert [a["recipient"] for a in alerts.sent] == ["unassigned"]  # no lead escalation for a risk
    flag_due_cases(store, AFTER_DUE, alerts)
    assert [e["type"] for e in flags(store, case["case_id"])] == [EventType.SLA_AT_RISK, EventType.SLA_BREACHED]


def test_paused_case_is_not_flagged_when_waiting_on_the_sme(store, sample_case):
    case = submit(store, sample_case)
    record(store, case, {"status": "info_requested", "resume_status": "received"}, EventType.INFO_REQUESTED,
           RECEIVED + timedelta(days=1), data={"question": "사진을 보내 주세요"})
    run = flag_due_cases(store, AFTER_DUE + timedelta(days=3), MemoryAlertSink())
    assert run.examined == 0 and flags(store, case["case_id"]) == []


def test_resumed_case_gets_its_due_time_moved_by_the_pause_when_next_pass_runs(store, sample_case):
    case = submit(store, sample_case)
    case = record(store, case, {"status": "info_requested", "resume_status": "received"}, EventType.INFO_REQUESTED,
                  datetime(2026, 11, 3, 14, 0, tzinfo=KST))
    record(store, case, {"status": "received"}, EventType.INFO_PROVIDED, datetime(2026, 11, 5, 14, 0, tzinfo=KST),
           actor=Actor(kind="sme", id="public"))
    alerts = MemoryAlertSink()
    run = flag_due_cases(store, AFTER_DUE, alerts)  # the stale key brings it into the window early
    assert run.examined == 1 and run.breached == 0 and run.reindexed == 1
    fixed = store.get_case(case["case_id"])
    assert fixed["guidance_due_at"] == iso(datetime(2026, 11, 9, 14, 0, tzinfo=KST))
    assert flag_due_cases(store, AFTER_DUE, alerts).examined == 0  # out of the window now


def test_answered_case_leaves_the_window_when_guidance_was_given(store, sample_case):
    case = submit(store, sample_case)
    record(store, case, {"status": "triaged"}, EventType.GUIDANCE_GIVEN, RECEIVED + timedelta(days=1),
           actor=Actor(kind="counselor", id="bob"))
    first = flag_due_cases(store, AFTER_DUE, MemoryAlertSink())
    assert first.examined == 1 and first.breached == 0 and first.reindexed == 1
    moved = store.get_case(case["case_id"])
    assert moved["sla_due_at"] > iso(AFTER_DUE + timedelta(days=20))  # now keyed on the resolution clock
    assert flag_due_cases(store, AFTER_DUE, MemoryAlertSink()).examined == 0


def test_case_without_live_clock_is_keyed_far_away_when_reindexed(store, sample_case):
    case = submit(store, sample_case)
    case = record(store, case, {"status": "triaged"}, EventType.RESOLVED, RECEIVED + timedelta(days=1))
    record(store, case, {"status": "triaged"}, EventType.TRIAGED, RECEIVED + timedelta(days=2))  # reopened by hand
    flag_due_cases(store, AFTER_DUE, MemoryAlertSink())
    assert store.get_case(case["case_id"])["sla_due_at"] == FAR_FUTURE


def test_case_not_yet_due_is_not_read_when_pass_runs_early(store, sample_case):
    submit(store, sample_case)
    run = flag_due_cases(store, RECEIVED + timedelta(hours=2), MemoryAlertSink())
    assert run.examined == 0


def test_alert_is_resent_once_when_the_flagging_run_crashed_before_alerting(store, sample_case):
    case = submit(store, sample_case)

    class Crash(Exception):
        pass

    class CrashingSink:
        def send(self, alert):
            raise Crash()

    with pytest.raises(Crash):
        flag_due_cases(store, AFTER_DUE, CrashingSink())
    alerts = MemoryAlertSink()
    flag_due_cases(store, AFTER_DUE + timedelta(minutes=1), alerts)
    assert alerts.sent == []  # too soon: the writer may still be sending
    flag_due_cases(store, AFTER_DUE + timedelta(minutes=15), alerts)
    flag_due_cases(store, AFTER_DUE + timedelta(minutes=30), alerts)
    assert len(alerts.sent) == 2  # coordinator pool + lead, once
    assert len(flags(store, case["case_id"])) == 1


def test_alerts_reach_the_sns_topic_with_filterable_attributes_when_run_scheduled(store, sample_case, monkeypatch):
    sns = boto3.client("sns", region_name="ap-northeast-2")
    sqs = boto3.client("sqs", region_name="ap-northeast-2")
    topic = sns.create_topic(Name="coordinator-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts-probe")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"FilterPolicy": json.dumps({"audience": ["lead"]}), "RawMessageDelivery": "true"})
    monkeypatch.setenv("COORDINATOR_ALERTS_TOPIC_ARN", topic)
    from sos1379.settings import get_settings

    get_settings.cache_clear()
    submit(store, sample_case)
    run = run_scheduled(AFTER_DUE, store=store)
    assert run.breached == 1
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["audience"] for m in messages] == ["lead"]
    get_settings.cache_clear()
