"""template.yaml has exactly one referral queue (with DLQ and alarm) per directory institute,
RouteCaseFunction may send to exactly those queues, and each institute's consumer can be given
access to its own queue and to nothing else (managed policy, optional cross-account queue policy,
outputs)."""
import itertools
import json
import re

import pytest
from sos1379.directory import referral_codes

from infra.referral_queues import (
    CONSUMER_ACTIONS,
    MAX_RECEIVE_COUNT,
    VISIBILITY_TIMEOUT,
    ConsumerConfigError,
    load_consumers,
    render_template,
)
from tests.conftest import ROOT

GENERATED_SECTIONS = ("referral queues", "referral queue arns", "referral queue outputs")
CROSS_ACCOUNT = {"KITECH": ["111122223333"], "KIMS": ["arn:aws:iam::444455556666:role/sos1379-consumer"]}


def _codes(resources: dict, prefix: str) -> set[str]:
    return {lid[len(prefix):] for lid in resources if lid.startswith(prefix)}


def _of_type(resources: dict, kind: str) -> dict:
    return {lid: res for lid, res in resources.items() if res["Type"] == kind}


def _referenced_ids(value) -> set[str]:
    """Every logical id a fragment points at: Ref, GetAtt and ${...} inside Sub strings."""
    if isinstance(value, dict):
        found = set()
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!][^}]*)\}", text)}
            found |= _referenced_ids(inner)
        return found
    if isinstance(value, list):
        return set().union(*(_referenced_ids(v) for v in value)) if value else set()
    return set()


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _template_text() -> str:
    return (ROOT / "template.yaml").read_text(encoding="utf-8")


def _rendered(consumers: dict) -> dict:
    from infra.template import parse_template

    return parse_template(render_template(_template_text(), sorted(referral_codes()), consumers))


@pytest.fixture(scope="module")
def cfn():
    from infra.template import load_cloudformation

    return load_cloudformation(ROOT / "template.yaml")


def test_template_referral_queues_equal_directory_when_generated(template):
    resources = template["Resources"]
    wanted = set(referral_codes())
    assert len(wanted) == 31
    assert _codes(_of_type(resources, "AWS::SQS::Queue"), "ReferralQueue") == wanted
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
    sqs_statements = [s for s in fn["Policies"][0]["Statement"] if "sqs:SendMessage" in s["Action"]]
    assert len(sqs_statements) == 1
    arns = {r["Fn::GetAtt"][0] for r in sqs_statements[0]["Resource"]}
    assert arns == {f"ReferralQueue{c}" for c in referral_codes()}
    # it consumes IntakeQueue through its own mapping, and reads no other queue
    consume = [s for s in fn["Policies"][0]["Statement"] if "sqs:ReceiveMessage" in s["Action"]]
    assert [s["Resource"] for s in consume] == [{"Fn::GetAtt": ["IntakeQueue", "Arn"]}]
    mapping = template["Resources"]["RouteCaseFunctionIntake"]["Properties"]
    assert mapping["FunctionName"] == {"Ref": "RouteCaseFunction"}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["IntakeQueue", "Arn"]}
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    intake_visibility = template["Resources"]["IntakeQueue"]["Properties"]["VisibilityTimeout"]
    assert intake_visibility >= 6 * fn["Timeout"]


# --------------------------------------------------------------------------- consumer access


def _queue_owner(resources: dict, policy_id: str) -> set[str]:
    """The referral queues and DLQs a policy resource points at."""
    queues = set(_of_type(resources, "AWS::SQS::Queue"))
    return _referenced_ids(resources[policy_id]["Properties"]) & queues


def test_every_referral_queue_has_exactly_one_consumer_policy_when_generated(template):
    resources = template["Resources"]
    managed = _of_type(resources, "AWS::IAM::ManagedPolicy")
    for code in referral_codes():
        granting = [lid for lid in managed if f"ReferralQueue{code}" in _queue_owner(resources, lid)]
        assert granting == [f"ReferralConsumerPolicy{code}"], code
    assert _codes(managed, "ReferralConsumerPolicy") == set(referral_codes())


def test_consumer_policy_allows_only_consumer_actions_on_its_own_queue_when_generated(template):
    resources = template["Resources"]
    for code in referral_codes():
        props = resources[f"ReferralConsumerPolicy{code}"]["Properties"]
        assert props["ManagedPolicyName"] == {"Fn::Sub": f"${{AWS::StackName}}-referral-consumer-{code}"}
        [statement] = props["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Allow"
        assert sorted(_as_list(statement["Action"])) == sorted(CONSUMER_ACTIONS)
        assert _as_list(statement["Resource"]) == [{"Fn::GetAtt": [f"ReferralQueue{code}", "Arn"]}]
        assert "Condition" not in statement  # tests/integration/test_referral_queue_access.py enforces it as is
        assert "NotAction" not in statement and "NotResource" not in statement


def test_consumer_actions_never_include_wildcards_or_writes_when_defined():
    assert len(set(CONSUMER_ACTIONS)) == 5
    for action in CONSUMER_ACTIONS:
        assert action.startswith("sqs:") and "*" not in action and "?" not in action
    assert not {"sqs:SendMessage", "sqs:PurgeQueue", "sqs:SetQueueAttributes", "sqs:DeleteQueue"} & set(CONSUMER_ACTIONS)


def test_no_consumer_policy_reaches_another_institutes_queue_when_compared_pairwise(template):
    resources = template["Resources"]
    reach = {code: _queue_owner(resources, f"ReferralConsumerPolicy{code}") for code in referral_codes()}
    pairs = 0
    for a, b in itertools.permutations(sorted(reach), 2):
        assert f"ReferralQueue{b}" not in reach[a], (a, b)
        assert f"ReferralDLQ{b}" not in reach[a], (a, b)
        pairs += 1
    assert pairs == 31 * 30
    assert all(reach[code] == {f"ReferralQueue{code}"} for code in reach)  # not even its own DLQ


def test_outputs_give_every_institute_its_queue_url_and_policy_arn_when_generated(template):
    outputs = template["Outputs"]
    for code in referral_codes():
        assert outputs[f"ReferralQueueUrl{code}"]["Value"] == {"Ref": f"ReferralQueue{code}"}
        assert outputs[f"ReferralConsumerPolicyArn{code}"]["Value"] == {"Ref": f"ReferralConsumerPolicy{code}"}
    assert _codes(outputs, "ReferralQueueUrl") == _codes(outputs, "ReferralConsumerPolicyArn") == set(referral_codes())


def test_template_stays_within_cloudformation_quotas_when_transformed(cfn):
    # CloudFormation: at most 500 resources, 200 outputs and 200 parameters per template
    # (100 per-institute outputs of headroom are left for the rest of the team).
    assert len(cfn["Resources"]) <= 500
    assert len(cfn["Outputs"]) <= 200
    assert len(cfn.get("Parameters", {})) <= 200


def test_template_has_queue_policies_exactly_for_institutes_with_accounts_when_generated(template):
    queue_policies = _of_type(template["Resources"], "AWS::SQS::QueuePolicy")
    consumers = load_consumers(sorted(referral_codes()))
    assert _codes(queue_policies, "ReferralCrossAccountPolicy") == set(consumers)


def test_cross_account_policy_grants_only_the_listed_principals_on_their_own_queue_when_configured():
    resources = _rendered(CROSS_ACCOUNT)["Resources"]
    queue_policies = _of_type(resources, "AWS::SQS::QueuePolicy")
    # other queues' policies (e.g. AttachmentEventsQueuePolicy: EventBridge may send) are not the generator's
    assert {lid for lid in queue_policies if lid.startswith("Referral")} == {"ReferralCrossAccountPolicyKITECH",
                                                                             "ReferralCrossAccountPolicyKIMS"}
    expected = {"KITECH": ["arn:aws:iam::111122223333:root"],
                "KIMS": ["arn:aws:iam::444455556666:role/sos1379-consumer"]}
    for code, principals in expected.items():
        props = resources[f"ReferralCrossAccountPolicy{code}"]["Properties"]
        assert props["Queues"] == [{"Ref": f"ReferralQueue{code}"}]
        [statement] = props["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"AWS": principals}
        assert sorted(_as_list(statement["Action"])) == sorted(CONSUMER_ACTIONS)
        assert _as_list(statement["Resource"]) == [{"Fn::GetAtt": [f"ReferralQueue{code}", "Arn"]}]
        assert _queue_owner(resources, f"ReferralCrossAccountPolicy{code}") == {f"ReferralQueue{code}"}


def test_cross_account_template_transforms_and_lints_without_errors_when_configured():
    from cfnlint.api import lint

    from infra.template import transform_template

    cfn = transform_template(_rendered(CROSS_ACCOUNT), base_dir=ROOT)
    assert len([lid for lid in _of_type(cfn["Resources"], "AWS::SQS::QueuePolicy") if lid.startswith("Referral")]) == 2
    errors = [m for m in lint(json.dumps(cfn), regions=["ap-northeast-2"]) if m.rule.id.startswith("E")]
    assert errors == [], [f"{m.rule.id} {m.message}" for m in errors]


def test_consumers_file_accepts_account_ids_and_role_arns_when_codes_are_known(tmp_path):
    path = tmp_path / "consumers.json"
    path.write_text(json.dumps({"KITECH": "111122223333",
                                "KIMS": ["arn:aws:iam::444455556666:role/team/consumer", "444455556666"]}))
    assert load_consumers(["KIMS", "KITECH"], path) == {
        "KITECH": ["arn:aws:iam::111122223333:root"],
        "KIMS": ["arn:aws:iam::444455556666:role/team/consumer", "arn:aws:iam::444455556666:root"],
    }
    assert load_consumers(["KITECH"], tmp_path / "absent.json") == {}


@pytest.mark.parametrize("content", [
    {"NOSUCH": ["111122223333"]},
    {"KITECH": ["*"]},
    {"KITECH": ["11112222333"]},
    {"KITECH": ["arn:aws:iam::111122223333:user/alice"]},
    {"KITECH": ["arn:aws:iam::*:role/x"]},
    {"KITECH": ["arn:aws:iam::111122223333:role/*"]},
    {"KITECH": {"account": "111122223333"}},
    ["111122223333"],
])
def test_consumers_file_is_refused_when_a_code_or_principal_is_invalid(tmp_path, content):
    path = tmp_path / "consumers.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConsumerConfigError):
        load_consumers(["KITECH"], path)


# --------------------------------------------------------------------------- the generator


def test_generator_is_up_to_date_when_run_on_the_template():
    text = _template_text()
    codes = sorted(referral_codes())
    assert render_template(text, codes, load_consumers(codes)) == text


def _outside_generated_sections(text: str) -> str:
    for name in GENERATED_SECTIONS:
        text = re.sub(rf"^[ \t]*# BEGIN {name}\b.*?^[ \t]*# END {name}\b[^\n]*\n", f"<{name}>\n", text,
                      flags=re.MULTILINE | re.DOTALL)
    return text


def test_generator_rewrites_only_the_marked_sections_when_codes_change():
    text = _template_text()
    fewer = render_template(text, ["KITECH"], {"KITECH": ["arn:aws:iam::111122223333:root"]})
    assert "ReferralQueueKITECH:" in fewer and "ReferralQueueKIMS:" not in fewer
    assert "ReferralConsumerPolicyKIMS:" not in fewer and "ReferralQueueUrlKIMS:" not in fewer
    assert "ReferralCrossAccountPolicyKITECH:" in fewer and "ReferralConsumerPolicyArnKITECH:" in fewer
    assert _outside_generated_sections(fewer) == _outside_generated_sections(text)
    assert _outside_generated_sections(text).count("<referral queue") == 3
    with pytest.raises(SystemExit):
        render_template("Resources: {}\n", ["KITECH"])


def test_generator_refuses_a_principal_that_would_inject_yaml_when_given_directly():
    with pytest.raises(ConsumerConfigError):
        render_template(_template_text(), ["KITECH"], {"KITECH": ['111122223333"\n  Evil: x']})
