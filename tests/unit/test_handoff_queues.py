"""The partners' hand-off queues in template.yaml are generated from partners.json
(infra/handoff_queues.py) and each partner may read its own queue only."""
from __future__ import annotations

from infra.handoff_queues import codes, logical, render_template
from infra.referral_queues import CONSUMER_ACTIONS, MAX_RECEIVE_COUNT
from tests.conftest import ROOT


def test_generator_is_up_to_date_when_run_on_the_template():
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert render_template(text, codes()) == text, "run python -m infra.handoff_queues"


def test_every_partner_has_its_own_queue_dlq_alarm_and_consumer_policy(template):
    resources = template["Resources"]
    assert len(codes()) == 18 and "BIZINFO1357" in codes() and "CCEI-DAEJEON" in codes()
    for code in codes():
        lid = logical(code)
        queue = resources[f"HandoffQueue{lid}"]["Properties"]
        assert queue["QueueName"] == {"Fn::Sub": f"${{AWS::StackName}}-handoff-{code}"}
        assert queue["SqsManagedSseEnabled"] is True
        assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [f"HandoffDLQ{lid}", "Arn"]},
                                          "maxReceiveCount": MAX_RECEIVE_COUNT}
        [statement] = resources[f"HandoffConsumerPolicy{lid}"]["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Action"] == list(CONSUMER_ACTIONS)
        assert statement["Resource"] == {"Fn::GetAtt": [f"HandoffQueue{lid}", "Arn"]}
        dims = resources[f"HandoffDLQAlarm{lid}"]["Properties"]["Dimensions"]
        assert dims[0]["Value"] == {"Fn::GetAtt": [f"HandoffDLQ{lid}", "QueueName"]}


def test_relay_sends_to_the_handoff_queues_by_the_prefix_functions_read(template):
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["HANDOFF_QUEUE_PREFIX"] == {"Fn::Sub": "${AWS::StackName}-handoff-"}
    statements = template["Resources"]["RelayOutboxFunction"]["Properties"]["Policies"][0]["Statement"]
    handoff = [s for s in statements if "handoff" in str(s.get("Resource"))]
    assert len(handoff) == 1 and set(handoff[0]["Action"]) == {"sqs:SendMessage", "sqs:GetQueueUrl"}
