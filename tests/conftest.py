"""Shared fixtures. ``aws`` gives an in-process moto account whose tables and queues are built from
template.yaml's own properties, so tests and infrastructure cannot drift apart."""
from __future__ import annotations

import json
import os
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
    from sos1379.aws import reset_clients
    from sos1379.settings import get_settings

    get_settings.cache_clear()
    reset_clients()
    get_store.cache_clear()


@pytest.fixture(scope="session")
def template() -> dict:
    from infra.template import load_template

    return load_template(ROOT / "template.yaml")


def create_table_from_template(ddb, name: str, props: dict) -> None:
    kwargs = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode") if k in props}
    if "GlobalSecondaryIndexes" in props:
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    ddb.create_table(TableName=name, **kwargs)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "AttributeName": ttl["AttributeName"], "Enabled": True})


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


_MOTO_ACCOUNT = "123456789012"


def _create_queue(name: str, attributes: dict) -> str:
    """Create a queue straight in moto's backend: the template has ~70 queues (one per institute
    plus DLQs) and a botocore round trip each cost ~1 s per test; this costs ~0.2 s."""
    from moto.sqs.models import sqs_backends

    sqs_backends[_MOTO_ACCOUNT][REGION].create_queue(name, **attributes)
    return f"https://sqs.{REGION}.amazonaws.com/{_MOTO_ACCOUNT}/{name}"


@pytest.fixture
def aws(template, monkeypatch):
    """An in-process moto account with every DynamoDB table and SQS queue of template.yaml."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        account = AwsAccount()
        resources = template["Resources"]
        for logical_id, res in resources.items():
            if res["Type"] == "AWS::DynamoDB::Table":
                name = f"test-{logical_id}"
                create_table_from_template(ddb, name, res["Properties"])
                account.tables[logical_id] = name
        for logical_id, res in resources.items():
            if res["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" not in res.get("Properties", {}):
                account.queues[logical_id] = _create_queue(f"test-{logical_id}", {})
        for logical_id, res in resources.items():
            props = res.get("Properties", {})
            if res["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in props:
                dlq_id = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
                dlq_arn = f"arn:aws:sqs:{REGION}:{_MOTO_ACCOUNT}:{account.queues[dlq_id].rsplit('/', 1)[1]}"
                attrs = {"VisibilityTimeout": str(props.get("VisibilityTimeout", 30)),
                         "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                                      "maxReceiveCount": props["RedrivePolicy"]["maxReceiveCount"]})}
                name = props.get("QueueName", f"test-{logical_id}")
                if isinstance(name, dict):  # !Sub "${AWS::StackName}-referral-KITECH"
                    name = name["Fn::Sub"].replace("${AWS::StackName}", "test")
                account.queues[logical_id] = _create_queue(name, attrs)
        monkeypatch.setenv("CASES_TABLE", account.tables["CasesTable"])
        monkeypatch.setenv("IDEMPOTENCY_TABLE", account.tables["IdempotencyTable"])
        monkeypatch.setenv("INTAKE_QUEUE_URL", account.queues["IntakeQueue"])
        monkeypatch.setenv("NOTIFY_QUEUE_URL", account.queues["NotifyQueue"])
        monkeypatch.setenv("REFERRAL_QUEUE_PREFIX", "test-referral-")
        _reset_caches()
        yield account
        _reset_caches()


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture
def sample_case() -> dict:
    return load_event("cases/weld_crack_ko.json")
