"""1,000 phone notifications through the real notify_sme handler (moto + the HTTP stand-in
provider) while 20 % of AlimTalk sends fail (not a KakaoTalk user, template mismatch, provider
5xx) and 10 % of queue messages are delivered twice: exactly one delivery per (case, event,
channel), each fallback recorded with its route and reason, in the case history and at the
provider alike."""
from __future__ import annotations

import random
from collections import Counter

import boto3
import pytest

from infra.localstack.motofast import moto_fixes
from infra.standins.messaging import APP_KEY, SECRET_KEY, SENDER_KEY, start_messaging_standin
from sos1379 import intake
from sos1379.events import CaseEvent
from sos1379.lifecycle import EventType
from sos1379.notify import runtime
from sos1379.store import CaseStore
from tests.conftest import load_event
from tests.integration.notify_support import SENDER, Context, load_handler, sqs_event
from tests.integration.test_notify_delivery import at_kst

CASES = int(__import__("os").environ.get("FALLBACK_RUN_CASES", "250"))
EVENTS = (("case.submitted", {}), ("case.referred", {"institutes": ["KITECH"]}),
          ("case.accepted", {"institute": "KITECH"}), ("case.resolved", {}))
# exactly 20 % of the AlimTalk sends fail: 10 % not a KakaoTalk user, 5 % template mismatch, 5 % 5xx
FAILURES = {"not_kakao": 0.10, "template_mismatch": 0.05, "alimtalk_5xx": 0.05}


@pytest.fixture
def provider():
    with start_messaging_standin() as standin:
        yield standin


@pytest.fixture
def handler(aws, provider, monkeypatch):
    for key, value in {"NOTIFY_SENDER_EMAIL": SENDER, "PUBLIC_BASE_URL": "https://sos1379.example.kr",
                       "NOTIFY_TEXT_PROVIDER": "kr_http", "NOTIFY_PROVIDER_URL": provider.url,
                       "NOTIFY_PROVIDER_APP_KEY": APP_KEY, "NOTIFY_PROVIDER_SECRET_KEY": SECRET_KEY,
                       "NOTIFY_PROVIDER_SENDER_KEY": SENDER_KEY}.items():
        monkeypatch.setenv(key, value)
    runtime.reset()
    boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
    yield load_handler()
    runtime.reset()


@pytest.mark.slow
@pytest.mark.timeout(3600)  # ~9 moto calls per notification: 13-27 min on the shared 2-core machine
def test_thousand_notifications_with_20_percent_alimtalk_failures_give_one_delivery_per_case_event_channel(
        aws, provider, handler):
    rng = random.Random(1379)
    with moto_fixes():
        store = CaseStore(aws.tables["CasesTable"])
        runtime.get_notifier().clock = lambda: at_kst(10, 5)
        bodies = []
        for i in range(CASES):
            case = load_event("cases/weld_crack_ko.json")
            case["contact"].update(phone=f"010-2{i:03d}-5678", preferred_channels=["sms"],
                                   language="en" if i % 5 == 0 else "ko")
            receipt, _ = intake.submit_case(store, case, now=at_kst(10))
            for kind, data in EVENTS:
                if kind == "case.submitted":
                    event = next(e for e in store.history(receipt["case_id"]) if e["type"] == EventType.SUBMITTED)
                    bodies.append({"version": 1, "event_id": event["event_id"], "case_id": receipt["case_id"],
                                   "type": kind, "at": event["at"], "actor": event["actor"], "data": event["data"]})
                else:
                    bodies.append(CaseEvent(case_id=receipt["case_id"], type=kind, data=data,
                                            at="2026-11-26T01:00:00.000Z").message().wire())
        assert len(bodies) == 4 * CASES
        keys = [f"{b['case_id']}:{b['event_id']}" for b in rng.sample(bodies, k=len(bodies))]
        plan, start = {}, 0
        for kind, share in FAILURES.items():
            count = round(share * len(bodies))
            plan.update({key: kind for key in keys[start:start + count]})
            start += count
        provider.set_faults(plan=plan)
        # at-least-once delivery: 10 % of the messages arrive a second time, at random positions
        queue = bodies + rng.sample(bodies, k=len(bodies) // 10)
        rng.shuffle(queue)
        batches = redelivered = 0
        while queue:
            batch, queue = queue[:10], queue[10:]
            out = handler.lambda_handler(sqs_event(*batch), Context(5000))
            batches += 1
            failed = {f["itemIdentifier"] for f in out["batchItemFailures"]}
            redelivered += len(failed)
            assert not failed, "no delivery may need a retry: every AlimTalk failure falls back at once"

    # ground truth at the provider: what reached the phones, by (case, event)
    deliveries = provider.deliveries()
    per_key = Counter(d["grouping_key"] for d in deliveries)
    expected = {f"{b['case_id']}:{b['event_id']}" for b in bodies}
    assert set(per_key) == expected
    assert max(per_key.values()) == 1, "a (case, event, channel) got two deliveries"
    routes = Counter(d["route"] for d in deliveries)
    reasons = Counter(d["fallback_reason"] for d in deliveries if d["route"] != "alimtalk")
    refused = Counter(a["outcome"] for a in provider.attempts())

    # the case history tells the same story: one sent attempt per (case, event, sms), route and reason
    history_routes, history_reasons, sent_per_key = Counter(), Counter(), Counter()
    for case_id in {b["case_id"] for b in bodies}:
        for e in store.history(case_id):
            data = e.get("data") or {}
            if e["type"] == EventType.NOTIFICATION and data.get("status") == "sent":
                sent_per_key[(case_id, data["event_id"], data["channel"])] += 1
                history_routes[data["route"]] += 1
                if data.get("fallback"):
                    history_reasons[data["fallback_reason"]] += 1
    assert len(sent_per_key) == len(bodies) and set(sent_per_key.values()) == {1}
    assert history_routes == routes and history_reasons == reasons
    assert sum(refused.values()) == routes["lms"] + routes["sms"]
    failure_share = sum(refused.values()) / len(bodies)
    print(f"\n{len(bodies):,} notifications, {batches} batches, {len(bodies) // 10} duplicate queue deliveries: "
          f"deliveries {len(deliveries)} (alimtalk {routes['alimtalk']}, lms {routes['lms']}, sms {routes['sms']}); "
          f"AlimTalk refused {sum(refused.values())} ({failure_share:.1%}): {dict(refused)}; "
          f"fallback reasons recorded {dict(history_reasons)}; duplicates sent 0; records retried {redelivered}")
    assert failure_share == 0.20 and dict(refused) == {"provider_5xx": len(bodies) // 20,
                                                         "not_kakao_user": len(bodies) // 10,
                                                         "template_mismatch": len(bodies) // 20}
