"""The local stack's record of sent SMS and e-mail (infra.localstack.sent), which ``sos1379
outbox`` reads, answers every read while 1,000 notifications are sent and DynamoDB is written at
the same time: the load under which moto's ``/moto-api/data.json`` answered 500 (issue 20)."""
from __future__ import annotations

import argparse
import json
import threading
from datetime import datetime, timedelta, timezone

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from infra.cli import outbox
from infra.localstack.motofast import moto_fixes
from infra.localstack.sent import PATH, SentMessages, SentMessagesApp, recording, serve_sent_messages

REGION = "ap-northeast-2"
SENDER = "no-reply@sos1379.example.kr"


@pytest.fixture(autouse=True)
def _no_stack_state(monkeypatch, tmp_path):
    """``sos1379 outbox`` also reads a running stack's state file: none here."""
    monkeypatch.setenv("SOS1379_STATE_DIR", str(tmp_path / "no-stack"))


@pytest.fixture
def stack_moto():
    """moto server as the local stack runs it: moto fixes, sent-message recording, the endpoint.
    moto's backends are global to the process: reset before and after, so no test sees another's."""
    sent = SentMessages()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    with moto_fixes(), recording(sent):
        server.start()
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        try:
            requests.post(f"{url}/moto-api/reset", timeout=30).raise_for_status()
            serve_sent_messages(server, sent)
            yield url, sent
        finally:
            requests.post(f"{url}/moto-api/reset", timeout=30)
            server.stop()


def _client(url: str, service: str):
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    return session.client(service, endpoint_url=url)


def test_outbox_answers_every_read_and_sees_each_message_once_when_1000_are_sent_under_load(stack_moto, capsys):
    url, _ = stack_moto
    _client(url, "sesv2").create_email_identity(EmailIdentity=SENDER)
    senders, total = 8, 1000
    stop = threading.Event()
    failures: list[str] = []

    def send(worker: int) -> None:
        sns, ses = _client(url, "sns"), _client(url, "sesv2")
        for n in range(worker, total, senders):
            text = f"[1379] 261126-{n:04d} 접수되었습니다"
            if n % 2:
                sns.publish(PhoneNumber=f"+8210{n:08d}", Message=text)
            else:
                ses.send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": [f"sme{n}@example.com"]},
                               Content={"Simple": {"Subject": {"Data": text}, "Body": {"Text": {"Data": "본문"}}}})

    def write_tables() -> None:
        # What broke data.json: tables that are empty, then get their first item, while it reads.
        ddb, n = _client(url, "dynamodb"), 0
        while not stop.is_set():
            name = f"fresh-{n}"
            ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}])
            ddb.put_item(TableName=name, Item={"PK": {"S": "first"}})
            n += 1
            stop.wait(0.05)  # pacing only: leave the two cores to the senders

    reads: list[int] = []

    def read() -> None:
        while not stop.is_set():
            try:
                reads.append(len(outbox.collect(outbox.fetch(url))))
            except Exception as exc:  # noqa: BLE001 - every failed read is reported by the assertion
                failures.append(repr(exc))
            stop.wait(0.02)  # pacing only

    writers = [threading.Thread(target=send, args=(w,)) for w in range(senders)]
    helpers = [threading.Thread(target=write_tables), threading.Thread(target=read), threading.Thread(target=read)]
    for thread in helpers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in helpers:
        thread.join()

    assert failures == []
    assert len(reads) >= 2 and max(reads) <= total
    code = outbox.run(argparse.Namespace(moto_url=url, json=True, limit=0))
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == total
    assert sorted(r["case_number"] for r in rows) == [f"261126-{n:04d}" for n in range(total)]
    assert {r["channel"] for r in rows} == {"sms", "email"}
    assert all(r["sent_at"] and ("****" in r["recipient"] or "***@" in r["recipient"]) for r in rows)


def test_only_messages_moto_accepted_are_recorded_with_their_time_when_some_are_rejected(stack_moto):
    url, sent = stack_moto
    ses, sns = _client(url, "sesv2"), _client(url, "sns")
    with pytest.raises(ses.exceptions.MessageRejected):  # the sender is not verified
        ses.send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": ["a@example.com"]},
                       Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}})
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.publish(TopicArn=topic, Message="not an SMS")
    message_id = sns.publish(PhoneNumber="+821012345678", Message="[1379] 261126-0001")["MessageId"]

    messages = outbox.fetch(url)
    assert [(m["channel"], m["message_id"], m["recipients"], m["seq"]) for m in messages] == \
        [("sms", message_id, ["+821012345678"], 1)]
    assert outbox.fetch(url, after=1) == []
    assert len(sent) == 1


def test_record_numbers_follow_the_injected_clock_and_reads_after_a_number_return_only_newer_ones():
    ticks = iter(datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc) + timedelta(milliseconds=n) for n in range(10))
    sent = SentMessages(clock=lambda: next(ticks))
    for n in range(3):
        sent.add("sms", f"m{n}", [f"+8210000000{n}"], f"text {n}")
    assert [(r["seq"], r["sent_at"]) for r in sent.since()] == [
        (1, "2026-11-26T01:00:00.000Z"), (2, "2026-11-26T01:00:00.001Z"), (3, "2026-11-26T01:00:00.002Z")]
    assert [r["message_id"] for r in sent.since(2)] == ["m2"]
    sent.since()[0]["recipients"].append("changed")
    assert sent.since()[0]["recipients"] == ["+82100000000"]


def test_endpoint_passes_other_paths_to_moto_and_refuses_bad_input_when_called():
    calls = []

    def moto(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"moto"]

    app = SentMessagesApp(moto, SentMessages())

    def call(path: str, method: str = "GET", query: str = "") -> tuple[str, bytes]:
        status = []
        body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": method, "QUERY_STRING": query},
                            lambda s, headers: status.append(s)))
        return status[0], body

    assert call("/moto-api/reset", "POST") == ("200 OK", b"moto") and calls == ["/moto-api/reset"]
    assert call(PATH, query="after=x")[0].startswith("400")
    assert call(PATH, "DELETE")[0].startswith("405")
    status, body = call(PATH)
    assert status == "200 OK" and json.loads(body) == {"messages": [], "last": 0}


def test_outbox_says_what_to_do_when_the_server_keeps_no_sent_record(capsys):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # a bare moto
    server.start()
    try:
        host, port = server.get_host_and_port()
        assert requests.get(f"http://{host}:{port}{PATH}", timeout=10).status_code == 404
        code = outbox.run(argparse.Namespace(moto_url=f"http://{host}:{port}", json=True, limit=0))
    finally:
        server.stop()
    assert code == 1 and "sos1379 up" in capsys.readouterr().err
