"""template.yaml is the deployable: it must transform, lint clean, match app.py's routes and keep
the reliability and security settings the service promises."""
from __future__ import annotations

import copy
import json

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def cfn():
    from infra.template import load_cloudformation

    return load_cloudformation(ROOT / "template.yaml")


def _lint(cfn_dict) -> list:
    from cfnlint.api import lint

    return lint(json.dumps(cfn_dict), regions=["ap-northeast-2"])


def test_transformed_template_lints_without_errors(cfn):
    errors = [m for m in _lint(cfn) if m.rule.id.startswith("E")]
    assert errors == [], [f"{m.rule.id} {m.message}" for m in errors]


def test_lint_catches_a_dangling_ref_inside_a_function(template):
    from infra.template import transform_template

    broken = copy.deepcopy(template)
    broken["Globals"]["Function"]["Environment"]["Variables"]["BROKEN"] = {"Ref": "NoSuchResource"}
    from infra.template import TemplateError

    try:
        errors = [m for m in _lint(transform_template(broken, base_dir=ROOT)) if m.rule.id.startswith("E")]
    except TemplateError:
        return  # the transform itself refused it: also caught
    assert errors


def _api_events(template) -> set[tuple[str, str]]:
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"]
    return {(e["Properties"]["Path"], e["Properties"]["Method"].upper()) for e in events.values()
            if e["Type"] == "Api"}


def test_every_chalice_route_is_an_api_gateway_resource_and_back(template):
    from app import app

    routes = {(path, method.upper()) for path, entries in app.routes.items() for method in entries}
    assert routes == _api_events(template)


def test_openapi_document_covers_every_json_route():
    from app import app
    from sos1379.api.openapi import document

    doc = document()
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops}
    routes = {(path, method.upper()) for path, entries in app.routes.items() for method in entries}
    pages = {r for r in routes if r[0] in ("/", "/track", "/statistics", "/console") or r[0].startswith("/static")}
    assert routes - pages - {("/openapi.json", "GET")} == documented


def _resources(cfn, kind):
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == kind}


def _statements(cfn):
    for name, res in cfn["Resources"].items():
        if res["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            props = res["Properties"]
            docs = [p["PolicyDocument"] for p in props.get("Policies", [])]
            if "PolicyDocument" in props:
                docs.append(props["PolicyDocument"])
            for doc in docs:
                for st in doc["Statement"]:
                    yield name, st


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_no_policy_grants_wildcard_actions_or_resources(cfn):
    offenders = []
    for name, st in _statements(cfn):
        if st.get("Effect") != "Allow":
            continue
        for action in _as_list(st.get("Action", [])):
            if action == "*" or (isinstance(action, str) and action.endswith(":*")):
                offenders.append((name, action))
        for res in _as_list(st.get("Resource", [])):
            if res == "*":
                offenders.append((name, res))
    assert offenders == []


def test_tables_are_encrypted_with_point_in_time_recovery(cfn):
    tables = _resources(cfn, "AWS::DynamoDB::Table")
    assert tables
    for name, t in tables.items():
        assert t["Properties"]["SSESpecification"]["SSEEnabled"] is True, name
        assert t["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name


def test_queues_are_encrypted_and_redrive_after_at_least_five_receives(cfn):
    queues = _resources(cfn, "AWS::SQS::Queue")
    for name, q in queues.items():
        props = q.get("Properties", {})
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name
        if "RedrivePolicy" in props:
            assert int(props["RedrivePolicy"]["maxReceiveCount"]) >= 5, name


def test_every_dead_letter_queue_has_an_alarm(cfn):
    dlqs = set()
    for q in _resources(cfn, "AWS::SQS::Queue").values():
        rp = q.get("Properties", {}).get("RedrivePolicy")
        if rp:
            dlqs.add(rp["deadLetterTargetArn"]["Fn::GetAtt"][0])
    alarmed = set()
    for alarm in _resources(cfn, "AWS::CloudWatch::Alarm").values():
        for dim in alarm["Properties"].get("Dimensions", []):
            value = dim["Value"]
            if isinstance(value, dict) and "Fn::GetAtt" in value:
                alarmed.add(value["Fn::GetAtt"][0])
    assert dlqs and dlqs <= alarmed


def test_sqs_mappings_report_batch_failures_and_queues_outlast_six_timeouts(cfn):
    functions = _resources(cfn, "AWS::Lambda::Function")
    mappings = _resources(cfn, "AWS::Lambda::EventSourceMapping")
    assert mappings
    for name, m in mappings.items():
        props = m["Properties"]
        assert "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []), name
        source = props["EventSourceArn"]
        if isinstance(source, dict) and "Fn::GetAtt" in source and source["Fn::GetAtt"][1] == "Arn":
            queue = cfn["Resources"][source["Fn::GetAtt"][0]]
            assert queue["Type"] == "AWS::SQS::Queue"
            fn = functions[props["FunctionName"]["Ref"]]
            timeout = int(fn["Properties"].get("Timeout", 3))
            assert int(queue["Properties"].get("VisibilityTimeout", 30)) >= 6 * timeout, name


def test_functions_run_python_312_or_newer(cfn):
    for name, fn in _resources(cfn, "AWS::Lambda::Function").items():
        runtime = fn["Properties"]["Runtime"]
        assert runtime.startswith("python3.") and int(runtime.split(".")[1]) >= 12, name


def test_api_is_throttled(template):
    api = template["Resources"]["PublicApi"]["Properties"]
    settings = api["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
