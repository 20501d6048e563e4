"""The generated consumer access deploys the way the local stack deploys template.yaml (moto's
CloudFormation + infra.localstack.deploy), and moto's IAM evaluator holds it to its word: the
consumer policy of one institute reads and deletes on that institute's queue and is refused on
every other queue, on its own DLQ and for sending."""
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.referral_queues import render_template

REGION = "ap-northeast-2"
STACK = "sos1379-test"
CODES = ["ETRI", "KIMS", "KITECH"]
#: The generator's markers in a template that has nothing else: the router's send grant stands in
#: for RouteCaseFunction's policy (where template.yaml keeps the queue ARNs).
SKELETON = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  OpsAlarmTopic:  # the generated alarms notify it
    Type: AWS::SNS::Topic
  # BEGIN referral queues
  # END referral queues
  RouterSendPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: [sqs:SendMessage]
            Resource:
              # BEGIN referral queue arns
              # END referral queue arns
Outputs:
  # BEGIN referral queue outputs
  # END referral queue outputs
"""


@pytest.fixture
def stack():
    from moto import mock_aws

    from infra.localstack.deploy import deploy_stack
    from infra.template import parse_template

    cfn = parse_template(render_template(SKELETON, CODES, {"KITECH": ["111122223333"]}))
    with mock_aws():
        deployed = deploy_stack(cfn, client=lambda name: boto3.client(name, region_name=REGION),
                                region=REGION, stack_name=STACK)
        outputs = boto3.client("cloudformation", region_name=REGION).describe_stacks(
            StackName=STACK)["Stacks"][0]["Outputs"]
        yield deployed, {o["OutputKey"]: o["OutputValue"] for o in outputs}


def _queue_url(name: str) -> str:
    return boto3.client("sqs", region_name=REGION).get_queue_url(QueueName=name)["QueueUrl"]


def test_outputs_resolve_to_the_queue_url_and_the_named_policy_when_deployed(stack):
    deployed, outputs = stack
    for code in CODES:
        assert outputs[f"ReferralQueueUrl{code}"] == _queue_url(f"{STACK}-referral-{code}")
        assert outputs[f"ReferralConsumerPolicyArn{code}"] == (
            f"arn:aws:iam::{deployed.account}:policy/{STACK}-referral-consumer-{code}")
    assert deployed.skipped == {}


def test_queue_policy_names_the_institute_account_only_on_its_queue_when_configured(stack):
    deployed, _ = stack
    sqs = boto3.client("sqs", region_name=REGION)
    queue_policies = {lid for lid, kind in deployed.created_locally.items() if kind == "AWS::SQS::QueuePolicy"}
    assert queue_policies == {"ReferralCrossAccountPolicyKITECH"}
    attributes = sqs.get_queue_attributes(QueueUrl=_queue_url(f"{STACK}-referral-KITECH"),
                                          AttributeNames=["Policy", "QueueArn"])["Attributes"]
    [statement] = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"AWS": ["arn:aws:iam::111122223333:root"]}
    assert statement["Resource"] == attributes["QueueArn"]
    for other in ("KIMS", "ETRI", "KITECH-dlq"):
        others = sqs.get_queue_attributes(QueueUrl=_queue_url(f"{STACK}-referral-{other}"),
                                          AttributeNames=["Policy"]).get("Attributes", {})
        assert "Policy" not in others, other


def _denied(call) -> bool:
    try:
        call()
    except ClientError as exc:
        # moto answers SQS's JSON protocol with IAM's XML error: code "403", AccessDenied inside.
        return exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403 and "AccessDenied" in str(exc)
    return False


def test_consumer_policy_reads_its_own_queue_and_is_refused_elsewhere_when_iam_is_enforced(stack):
    from moto.core.authorization import enable_iam_authentication

    _, outputs = stack
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="kitech-consumer")
    iam.attach_user_policy(UserName="kitech-consumer", PolicyArn=outputs["ReferralConsumerPolicyArnKITECH"])
    key = iam.create_access_key(UserName="kitech-consumer")["AccessKey"]
    own, kims = outputs["ReferralQueueUrlKITECH"], outputs["ReferralQueueUrlKIMS"]
    dlq = _queue_url(f"{STACK}-referral-KITECH-dlq")
    admin = boto3.client("sqs", region_name=REGION)
    for url in (own, kims, dlq):
        admin.send_message(QueueUrl=url, MessageBody="{}")

    with enable_iam_authentication():
        sqs = boto3.client("sqs", region_name=REGION, aws_access_key_id=key["AccessKeyId"],
                           aws_secret_access_key=key["SecretAccessKey"])
        # (GetQueueUrl is not checked here: moto authorises it against "*", AWS against the queue.)
        assert sqs.get_queue_attributes(QueueUrl=own, AttributeNames=["QueueArn"])["Attributes"]
        [message] = sqs.receive_message(QueueUrl=own, WaitTimeSeconds=0)["Messages"]
        sqs.change_message_visibility(QueueUrl=own, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=60)
        sqs.delete_message(QueueUrl=own, ReceiptHandle=message["ReceiptHandle"])

        assert _denied(lambda: sqs.receive_message(QueueUrl=kims, WaitTimeSeconds=0))
        assert _denied(lambda: sqs.get_queue_attributes(QueueUrl=kims, AttributeNames=["All"]))
        assert _denied(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0))
        assert _denied(lambda: sqs.send_message(QueueUrl=own, MessageBody="{}"))
        assert _denied(lambda: sqs.purge_queue(QueueUrl=own))
