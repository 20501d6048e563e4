"""Reading functions and event sources out of a transformed template (infra.template) and
resolving intrinsics against physical ids (infra.localstack.resolve)."""
from __future__ import annotations

from pathlib import Path

import pytest

from infra.localstack.deploy import split_unsupported
from infra.localstack.resolve import PhysicalResource, Resolver, UnresolvedReference
from infra.template import CODE_BUCKET, list_functions, load_cloudformation, parse_template

TINY = Path(__file__).resolve().parent.parent / "data" / "localstack" / "template.yaml"


@pytest.fixture(scope="module")
def functions():
    return {f.logical_id: f for f in list_functions(load_cloudformation(TINY))}


def test_short_tags_become_long_form_intrinsics_when_parsed():
    doc = parse_template("Resources:\n  A:\n    Type: X\n    Properties:\n      B: !GetAtt Q.Arn\n"
                         "      C: !Sub '${Q}'\n      D: !Ref Q\n      E: !Join [',', [!Ref Q]]\n")
    props = doc["Resources"]["A"]["Properties"]
    assert props == {"B": {"Fn::GetAtt": ["Q", "Arn"]}, "C": {"Fn::Sub": "${Q}"}, "D": {"Ref": "Q"},
                     "E": {"Fn::Join": [",", [{"Ref": "Q"}]]}}


def test_code_folders_survive_the_transform_when_code_uri_is_local(functions):
    fn = functions["RecordBatchFunction"]
    assert fn.code_uri == "functions/record_batch"
    assert fn.handler_path(TINY.parent) == TINY.parent / "functions" / "record_batch" / "handler.py"
    assert fn.timeout == 5 and fn.runtime == "python3.12"


def test_sqs_sources_carry_batch_settings_when_declared(functions):
    (work,) = functions["RecordBatchFunction"].sqs
    assert (work.queue, work.batch_size, work.report_batch_item_failures) == ("WorkQueue", 4, True)
    (whole,) = functions["FailWholeBatchFunction"].sqs
    assert (whole.report_batch_item_failures, whole.maximum_batching_window) == (False, 1)


def test_stream_source_names_its_table_when_declared(functions):
    (stream,) = functions["RelayStreamFunction"].streams
    assert (stream.table, stream.starting_position, stream.batch_size) == ("SourceTable", "TRIM_HORIZON", 5)


def test_rules_and_scheduler_schedules_are_listed_with_input_when_declared(functions):
    schedules = {s.kind: s for s in functions["TickFunction"].schedules}
    assert schedules["events"].expression == "rate(1 minute)" and schedules["events"].input == {"job": "rule"}
    assert schedules["scheduler"].timezone == "Asia/Seoul" and schedules["scheduler"].input == {"job": "scheduler"}


def test_environment_keeps_intrinsics_for_the_deployer_when_listed(functions):
    env = functions["RecordBatchFunction"].environment
    assert env["WORK_QUEUE_URL"] == {"Ref": "WorkQueue"}
    assert env["RESULTS_TABLE"] == {"Ref": "ResultsTable"}  # from Globals


def test_placeholder_code_locations_use_the_local_code_bucket_when_transformed():
    cfn = load_cloudformation(TINY)
    code = cfn["Resources"]["TickFunction"]["Properties"]["Code"]
    assert code == {"S3Bucket": CODE_BUCKET, "S3Key": "functions/tick"}


def test_references_to_unsupported_resources_become_placeholders_when_split():
    cfn = {"Resources": {
        "Q": {"Type": "AWS::SQS::Queue", "Properties": {"Tags": [{"Key": "s", "Value": {"Ref": "S"}}]},
              "DependsOn": ["S"]},
        "S": {"Type": "AWS::Scheduler::Schedule", "Properties": {}},
    }}
    deployable, removed = split_unsupported(cfn, {"AWS::SQS::Queue"})
    assert set(removed) == {"S"}
    assert deployable["Resources"]["Q"]["Properties"]["Tags"][0]["Value"] == "local-stack-unsupported:S"
    assert deployable["Resources"]["Q"]["DependsOn"] == []


def _resolver():
    resources = {
        "Queue": PhysicalResource("Queue", "AWS::SQS::Queue", "https://sqs.r.amazonaws.com/123/stack-Queue-X"),
        "Table": PhysicalResource("Table", "AWS::DynamoDB::Table", "stack-Table-Y"),
    }
    return Resolver(resources, parameters={"Stage": "v1"}, region="ap-northeast-2", account="123",
                    stack_name="stack", client=lambda service: None)


def test_resolver_handles_ref_getatt_sub_and_join_when_resources_known():
    resolver = _resolver()
    assert resolver.resolve({"Ref": "Table"}) == "stack-Table-Y"
    assert resolver.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "arn:aws:sqs:ap-northeast-2:123:stack-Queue-X"
    assert resolver.resolve({"Fn::Sub": "${Table.Arn}/index/${Stage}-${AWS::Region}"}) == \
        "arn:aws:dynamodb:ap-northeast-2:123:table/stack-Table-Y/index/v1-ap-northeast-2"
    assert resolver.resolve({"Fn::Sub": ["${X}-${!Literal}", {"X": {"Ref": "Stage"}}]}) == "v1-${Literal}"
    assert resolver.resolve({"Fn::Join": ["/", [{"Ref": "Stage"}, "a"]]}) == "v1/a"


def test_resolver_raises_when_reference_is_unknown():
    with pytest.raises(UnresolvedReference):
        _resolver().resolve({"Ref": "Nope"})


def test_every_function_of_template_yaml_can_run_locally_when_stack_starts():
    """What `make up` needs from template.yaml: a handler file per function (the API's may live at
    the repository root before `make package`), queues and tables behind every mapping, and
    schedule expressions the local scheduler understands."""
    from infra.localstack.schedule import Schedule
    from infra.template import DEFAULT_TEMPLATE, REPO_ROOT

    cfn = load_cloudformation(DEFAULT_TEMPLATE)
    resources = cfn["Resources"]
    functions = list_functions(cfn)
    assert functions
    for fn in functions:
        at_root = (REPO_ROOT / f"{fn.handler_module}.py").exists()
        assert fn.handler_path(REPO_ROOT).exists() or at_root, fn.logical_id
        for source in fn.sqs:
            assert resources[source.queue]["Type"] == "AWS::SQS::Queue"
        for source in fn.streams:
            assert "StreamSpecification" in resources[source.table]["Properties"], source.table
        for source in fn.schedules:
            Schedule.parse(source.expression, source.timezone)
