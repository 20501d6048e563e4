"""template.yaml has exactly one referral queue (with DLQ and alarm) per directory institute, and
RouteCaseFunction may send to exactly those queues."""
import pytest

from infra.referral_queues import MAX_RECEIVE_COUNT, VISIBILITY_TIMEOUT, render_template
from sos1379.directory import referral_codes
from tests.conftest import ROOT


def _codes(resources: dict, prefix: str) -> set[str]:
    return {lid[len(prefix):] for lid in resources if lid.startswith(prefix)}


def test_template_referral_queues_equal_directory_when_generated(template):
    resources = template["Resources"]
    wanted = set(referral_codes())
    assert len(wanted) == 31
    assert _codes(resources, "ReferralQueue") == wanted
    assert _codes(resources, "ReferralDLQAlarm") == wanted
    assert {c for c in _codes(resources, "ReferralDLQ") if not c.startswith("Alarm")} == wanted


def test_referral_queues_have_dlq_sse_and_consumer_visibility_when_generated(template):
    resources = template["Resources"]
    for code in referral_codes():
        props = resources[f"ReferralQueue{code}"]["Properties"]
        assert props["QueueName"] == {"Fn::Sub": f"${{AWS::StackName}}-referral-{code}"}
        assert props["SqsManagedSseEnabled"] is True
        assert props["VisibilityTimeout"] >= VISIBILITY_TIMEOUT
        assert props["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT >= 5
        assert props["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [f"ReferralDLQ{code}", "Arn"]}
        assert resources[f"ReferralDLQ{code}"]["Properties"]["SqsManagedSseEnabled"] is True
        dims = resources[f"ReferralDLQAlarm{code}"]["Properties"]["Dimensions"]
        assert dims[0]["Value"] == {"Fn::GetAtt": [f"ReferralDLQ{code}", "QueueName"]}


def test_queue_name_prefix_matches_function_environment_when_deployed(template):
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["REFERRAL_QUEUE_PREFIX"] == {"Fn::Sub": "${AWS::StackName}-referral-"}


def test_route_case_function_sends_only_to_referral_queues_when_deployed(template):
    fn = template["Resources"]["RouteCaseFunction"]["Properties"]
    sqs_statements = [s for s in fn["Policies"][0]["Statement"] if any(a.startswith("sqs:") for a in s["Action"])]
    assert len(sqs_statements) == 1
    arns = {r["Fn::GetAtt"][0] for r in sqs_statements[0]["Resource"]}
    assert arns == {f"ReferralQueue{c}" for c in referral_codes()}
    mapping = fn["Events"]["Intake"]["Properties"]
    assert mapping["Queue"] == {"Fn::GetAtt": ["IntakeQueue", "Arn"]}
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    intake_visibility = template["Resources"]["IntakeQueue"]["Properties"]["VisibilityTimeout"]
    assert intake_visibility >= 6 * fn["Timeout"]


def test_generator_is_up_to_date_when_run_on_the_template():
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert render_template(text, sorted(referral_codes())) == text


def test_generator_rewrites_only_the_marked_sections_when_codes_change():
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    fewer = render_template(text, ["KITECH"])
    assert "ReferralQueueKITECH:" in fewer and "ReferralQueueKIMS:" not in fewer
    before, after = text.split("# BEGIN referral queues")[0], text.split("# END referral queues")[1]
    assert fewer.startswith(before[: len(before) - 2]) and fewer.rstrip().endswith(after.rstrip()[-200:])
    with pytest.raises(SystemExit):
        render_template("Resources: {}\n", ["KITECH"])
