"""Abuse limits (issue 19, finding 8): per-client rate limits on intake and on every token, link,
API-key and JWT lookup (429 with Retry-After), and per-recipient daily message caps in the
notification delivery path. Clocks are injected; nothing depends on the wall clock."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone

import boto3
import pytest
from chalice.test import Client

from sos1379 import ratelimit
from sos1379.korea import SEOUL, business_number_check_digit
from sos1379.lifecycle import EventType
from sos1379.notify import limits, runtime
from sos1379.store import CaseStore
from tests.integration.notify_support import Context, notify_function, sent_messages, sqs_event

JSON = {"Content-Type": "application/json"}
T0 = 1_796_000_000.0  # a fixed instant (the clock is injected)
SUBMISSIONS = 500


@pytest.fixture
def limited(aws, monkeypatch):
    monkeypatch.setenv("RATE_LIMITS", "intake=10/60,lookup=30/60,institute=20/60,staff=20/60")
    monkeypatch.setenv("COORDINATOR_DEV_JWT_SECRET", "edge-secret-" + "x" * 40)
    from sos1379.settings import get_settings

    get_settings.cache_clear()
    now = {"t": T0 - T0 % 60}
    monkeypatch.setattr(ratelimit, "_clock", lambda: now["t"])
    from app import app

    with Client(app) as client:
        yield client, now
    get_settings.cache_clear()


def _post_case(client, body, ip=None):
    return client.http.post("/cases", headers=JSON, body=json.dumps(body, ensure_ascii=False))


def test_intake_answers_429_with_retry_after_once_a_client_used_its_window(limited, sample_case):
    client, now = limited
    statuses = Counter(_post_case(client, sample_case).status_code for _ in range(15))
    assert statuses == {201: 10, 429: 5}
    refused = _post_case(client, sample_case)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert refused.headers["Content-Type"] == "application/problem+json"
    body = refused.json_body
    assert body["title"] and body["title_ko"] and body["detail_ko"]
    now["t"] += 45
    assert _post_case(client, sample_case).headers["Retry-After"] == "15"
    now["t"] += 15  # the next window
    assert _post_case(client, sample_case).status_code == 201


def test_every_token_key_and_jwt_lookup_is_rate_limited_per_client(limited):
    client, _ = limited
    guesses = {
        "lookup": [lambda i: client.http.get(f"/cases/{i:032x}", headers={"X-Tracking-Token": f"guess{i}"}),
                   lambda i: client.http.get(f"/t/guess{i}")],
        "institute": [lambda i: client.http.get("/institute/referrals", headers={"X-Api-Key": f"guess{i}"})],
        "staff": [lambda i: client.http.get("/coordinator/queue", headers={"Authorization": f"Bearer guess{i}"})],
    }
    budgets = ratelimit.configured_limits()
    for name, probes in guesses.items():
        statuses = Counter()
        for i in range(budgets[name].requests + 5):
            statuses[probes[i % len(probes)](i).status_code] += 1
        assert statuses[429] == 5, (name, statuses)
        assert 500 not in statuses


def test_limits_are_counted_per_client(aws, monkeypatch):
    monkeypatch.setenv("RATE_LIMITS", "intake=2/60")
    store = CaseStore(aws.tables["CasesTable"])
    for client in ("203.0.113.1", "203.0.113.1", "198.51.100.7", "198.51.100.7"):
        ratelimit.hit(store, "intake", client, ratelimit.Limit(2, 60), T0)
    with pytest.raises(Exception) as refused:
        ratelimit.hit(store, "intake", "203.0.113.1", ratelimit.Limit(2, 60), T0)
    assert refused.value.retry_after >= 1
    stored = json.dumps(boto3.resource("dynamodb").Table(aws.tables["CasesTable"]).scan()["Items"], default=str)
    assert "203.0.113.1" not in stored  # clients are stored hashed


# --- per-recipient daily caps -------------------------------------------------------------------------

@pytest.fixture
def notify(aws, monkeypatch):
    with notify_function(monkeypatch, NOTIFY_RECIPIENT_DAILY_CAP="5") as handler:
        yield handler


@pytest.mark.timeout(900)  # ~1 min alone; the default 300 s is too tight on a loaded 2-core machine
def test_500_submissions_naming_one_phone_send_at_most_the_daily_cap(aws, notify, sample_case):
    """A flood from many clients (no per-client limit applies): 500 cases within a minute, all
    naming the victim's phone and address. The notifier sends at most the cap to each; the rest
    is recorded as suppressed, never handed to a provider."""
    from app import app
    from infra.localstack.motofast import moto_fixes

    with moto_fixes():  # moto's per-transaction table copies would make this quadratic
        _flood(aws, notify, sample_case, app)


def _flood(aws, notify, sample_case, app):
    when = datetime(2026, 11, 26, 10, 0, tzinfo=SEOUL).astimezone(timezone.utc)
    runtime.get_notifier().clock = lambda: when
    store = CaseStore(aws.tables["CasesTable"])
    case_ids = []
    with Client(app) as client:
        for i in range(SUBMISSIONS):
            # many companies (valid business numbers), one victim: the contact is what is abused
            first9 = f"{220816000 + i:09d}"
            number = f"{first9}{business_number_check_digit(first9)}"
            body = {**sample_case, "title": f"{sample_case['title']} {i}",
                    "company": {**sample_case["company"], "business_number": number}}
            resp = client.http.post("/cases", headers=JSON, body=json.dumps(body, ensure_ascii=False))
            assert resp.status_code == 201
            case_ids.append(resp.json_body["case_id"])
    messages = []
    for case_id in case_ids:
        [submitted] = [e for e in store.history(case_id) if e["type"] == EventType.SUBMITTED]
        messages.append({"version": 1, "event_id": submitted["event_id"], "case_id": case_id,
                         "type": submitted["type"], "at": submitted["at"], "actor": submitted["actor"],
                         "data": submitted["data"]})
    for start in range(0, len(messages), 10):
        out = notify.lambda_handler(sqs_event(*messages[start:start + 10]), Context(5000))
        assert out == {"batchItemFailures": []}
    sent = sent_messages()
    sms_to_victim = sum(1 for phone, _ in sent.sms if phone == "+821012345678")
    mail_to_victim = sum(1 for m in sent.emails if "minsu.kim@example.com" in m["to"])
    suppressed = sum(1 for case_id in case_ids for e in store.history(case_id)
                     if e["type"] == EventType.NOTIFICATION and e["data"].get("status") == limits.SUPPRESSED)
    print(f"abuse: 500 submissions naming one phone -> {sms_to_victim} SMS, {mail_to_victim} emails, "
          f"{suppressed} suppressed (cap {limits.daily_cap()} per channel per day)")
    assert sms_to_victim == 5 and mail_to_victim == 5
    assert suppressed == 2 * SUBMISSIONS - 10
    stored = json.dumps(boto3.resource("dynamodb").Table(aws.tables["CasesTable"]).scan(
        FilterExpression="kind = :k", ExpressionAttributeValues={":k": "recipient_counter"})["Items"], default=str)
    assert "+821012345678" not in stored and "minsu" not in stored


def test_the_cap_resets_on_the_next_seoul_day(aws):
    store = CaseStore(aws.tables["CasesTable"])
    day1 = datetime(2026, 11, 26, 23, 59, tzinfo=SEOUL)
    day2 = datetime(2026, 11, 27, 0, 1, tzinfo=SEOUL)
    assert [limits.count_message(store, "sms", "+821099998888", day1, 2) for _ in range(3)] == [True, True, False]
    assert limits.count_message(store, "sms", "+821099998888", day2, 2) is True
    assert limits.count_message(store, "email", "+821099998888", day1, 2) is True  # per channel
