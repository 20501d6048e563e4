"""Shared fixtures. ``aws`` gives an in-process moto account whose tables and queues are built from
template.yaml's own properties, so tests and infrastructure cannot drift apart."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
REGION = "ap-northeast-2"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    """Fake credentials and no real endpoint, for every test; caches reset around each test."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SOS1379")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "sos1379")
    _reset_caches()
    yield
    _reset_caches()


def _reset_caches() -> None:
    from sos1379.api.common import get_store
    from sos1379.attachments import upload_origin
    from sos1379.aws import reset_clients
    from sos1379.settings import get_settings

    get_settings.cache_clear()
    upload_origin.cache_clear()
    reset_clients()
    get_store.cache_clear()


@pytest.fixture(scope="session")
def template() -> dict:
    from infra.template import load_template

    return load_template(ROOT / "template.yaml")


@dataclass
class AwsAccount:
    tables: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)

    def drain(self, logical_id: str, max_messages: int = 1000) -> list[dict]:
        """Receive and delete every visible message of a queue; returns the parsed bodies."""
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        bodies = []
        while len(bodies) < max_messages:
            out = sqs.receive_message(QueueUrl=self.queues[logical_id], MaxNumberOfMessages=10,
                                      MessageAttributeNames=["All"], AttributeNames=["All"])
            msgs = out.get("Messages", [])
            if not msgs:
                return bodies
            for m in msgs:
                bodies.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.queues[logical_id], ReceiptHandle=m["ReceiptHandle"])
        return bodies


@pytest.fixture
def aws(template, monkeypatch):
    """An in-process moto account with every DynamoDB table and SQS queue of template.yaml."""
    from moto import mock_aws

    from infra.reliability.pipeline import build_account

    with mock_aws():
        account = AwsAccount()
        account.tables, account.queues = build_account(template, stack="test")
        monkeypatch.setenv("CASES_TABLE", account.tables["CasesTable"])
        monkeypatch.setenv("IDEMPOTENCY_TABLE", account.tables["IdempotencyTable"])
        monkeypatch.setenv("INTAKE_QUEUE_URL", account.queues["IntakeQueue"])
        monkeypatch.setenv("NOTIFY_QUEUE_URL", account.queues["NotifyQueue"])
        monkeypatch.setenv("REFERRAL_QUEUE_PREFIX", "test-referral-")
        monkeypatch.setenv("HANDOFF_QUEUE_PREFIX", "test-handoff-")
        _reset_caches()
        yield account
        _reset_caches()


@pytest.fixture
def store(aws):
    """The case store on ``aws``'s CasesTable (a test module may define its own)."""
    from sos1379.store import CaseStore

    return CaseStore(aws.tables["CasesTable"])


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture
def sample_case() -> dict:
    return load_event("cases/weld_crack_ko.json")
