"""The reference consumer (``sos1379 institute poll``) on moto: validates, accepts through the API
(chalice.test.Client standing in for HTTP), deletes, dedupes on referral_id, leaves bad messages."""
from __future__ import annotations

import json
from urllib.parse import urlparse

import boto3
import pytest
from chalice.test import Client

from app import app
from infra.cli import main as cli_main
from infra.cli.institute import ApiAcknowledger, poll_queue
from sos1379 import intake
from sos1379.institutes import keys as institute_keys
from sos1379.referrals import fanout as referrals
from tests.integration.test_referrals import intake_message


class _ChaliceSession:
    """The bit of requests.Session the acknowledger uses, answered by chalice.test.Client."""

    def __init__(self, client) -> None:
        self.client = client
        self.headers: dict[str, str] = {}

    def post(self, url: str, data: str, timeout: float):
        resp = self.client.http.post(urlparse(url).path, headers=dict(self.headers), body=data)

        class _Resp:
            status_code = resp.status_code

            def raise_for_status(self):
                if resp.status_code >= 400:
                    raise RuntimeError(f"HTTP {resp.status_code}")

        return _Resp()


def _queue_depth(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_poll_accepts_deletes_and_dedupes_when_messages_arrive(aws, store, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)
    message = intake_message(store, receipt["case_id"])
    referrals.route_case_event(store, message)
    sqs = boto3.client("sqs")
    url = aws.queues["ReferralQueueKITECH"]
    body = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]["Body"]
    sqs.send_message(QueueUrl=url, MessageBody=body)  # an at-least-once duplicate
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"version": 1, "referral_id": "broken"}))

    key, _ = institute_keys.create_key(store, "KITECH")
    with Client(app) as client:
        session = _ChaliceSession(client)
        ack = ApiAcknowledger("http://api.local", key, session=session)
        printed: list[str] = []
        counts = poll_queue(sqs, url, ack, once=True, wait=0, out=printed.append)
    assert counts["handled"] == 2 and counts["duplicates"] == 1 and counts["invalid"] == 1
    assert any("invalid message" in line for line in printed)
    assert store.get_case(receipt["case_id"])["status"] == "accepted"
    assert _queue_depth(sqs, url) == 1  # only the bad one stays (in flight, then back, then the DLQ)


def test_poll_stops_after_max_messages_when_limited(aws, store, sample_case):
    for _ in range(3):
        receipt, _ = intake.submit_case(store, sample_case)
        referrals.route_case_event(store, intake_message(store, receipt["case_id"]))
    seen: list[str] = []
    counts = poll_queue(boto3.client("sqs"), aws.queues["ReferralQueueKITECH"],
                        lambda m: seen.append(m["referral_id"]) or "printed", max_messages=2, wait=0)
    assert counts["handled"] == 2 and len(set(seen)) == 2


def test_failed_acknowledgement_leaves_message_on_queue_when_api_refuses(aws, store, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)
    referrals.route_case_event(store, intake_message(store, receipt["case_id"]))
    with Client(app) as client:
        ack = ApiAcknowledger("http://api.local", "dev-KITECH-key", session=_ChaliceSession(client))  # not seeded
        counts = poll_queue(boto3.client("sqs"), aws.queues["ReferralQueueKITECH"], ack, once=True, wait=0,
                            out=lambda s: None)
    assert counts["failed"] == 1 and counts["handled"] == 0
    assert _queue_depth(boto3.client("sqs"), aws.queues["ReferralQueueKITECH"]) == 1


def test_dev_keys_authenticate_each_institute_when_seeded_locally(aws, store):
    seeded = institute_keys.seed_dev_keys(store)
    assert len(seeded) == 31 + 18 and seeded["KITECH"] == "dev-KITECH-key"  # institutes and hand-off partners
    assert institute_keys.authenticate(store, "dev-KITECH-key") == "KITECH"
    assert institute_keys.authenticate(store, "dev-CCEI-DAEJEON-key", partner=True) == "CCEI-DAEJEON"
    assert institute_keys.seed_dev_keys(store, ["KITECH"]) == {"KITECH": "dev-KITECH-key"}  # idempotent


def test_key_create_command_prints_the_key_once_and_stores_only_its_hash(aws, store, capsys):
    assert cli_main(["institute", "key", "create", "KBSI"]) == 0
    out = capsys.readouterr().out
    key = out.strip().rsplit(" ", 1)[1]
    assert institute_keys.authenticate(store, key) == "KBSI"
    [row] = institute_keys.list_keys(store, "KBSI")
    assert cli_main(["institute", "key", "revoke", "KBSI", row["key_id"]]) == 0
    with pytest.raises(Exception):
        institute_keys.authenticate(store, key)
    assert cli_main(["institute", "key", "create", "CCEI"]) == 1  # partners have no referrals


def test_poll_command_consumes_a_deployed_stack_queue_when_given_its_url_api_and_key(aws, store, sample_case,
                                                                                      monkeypatch, capsys):
    import infra.cli.institute as institute_cli

    receipt, _ = intake.submit_case(store, sample_case)
    referrals.route_case_event(store, intake_message(store, receipt["case_id"]))
    key, _ = institute_keys.create_key(store, "KITECH")
    calls: list[str] = []
    with Client(app) as client:
        class _Ack(ApiAcknowledger):
            def __init__(self, api_url, api_key, **kwargs):
                calls.append(api_url)
                super().__init__(api_url, api_key, session=_ChaliceSession(client), **kwargs)

        monkeypatch.setattr(institute_cli, "ApiAcknowledger", _Ack)
        code = cli_main(["institute", "poll", "KITECH", "--once", "--wait", "0", "--json",
                         "--queue-url", aws.queues["ReferralQueueKITECH"], "--api-url", "https://api.example.kr/",
                         "--api-key", key])
    assert code == 0 and calls == ["https://api.example.kr"]
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert line["result"] == "accepted" and line["message"]["case_id"] == receipt["case_id"]
    assert store.get_case(receipt["case_id"])["status"] == "accepted"


def test_poll_command_refuses_a_deployed_queue_without_the_api_url_or_key_when_half_configured(aws, capsys,
                                                                                               monkeypatch):
    monkeypatch.delenv("SOS1379_INSTITUTE_KEY", raising=False)
    url = aws.queues["ReferralQueueKITECH"]
    assert cli_main(["institute", "poll", "KITECH", "--once", "--queue-url", url]) == 1
    assert cli_main(["institute", "poll", "KITECH", "--once", "--queue-url", url, "--api-url", "https://x"]) == 1
    err = capsys.readouterr().err
    assert "--queue-url and --api-url go together" in err and "API key" in err
