"""`make deploy` can create the stack AWS would be given: the capabilities the template demands are
the ones samconfig.toml and the Makefile pass, and the runtime requirements can verify Cognito's
RS256 staff tokens."""
from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT


def _makefile_deploy_capabilities() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = text.split("\ndeploy:", 1)[1].split("\n\n", 1)[0]
    assert "sam deploy" in recipe and "--config-file samconfig.toml" in recipe
    match = re.search(r"--capabilities((?:\s+CAPABILITY_\w+)+)", recipe)
    assert match, "the Makefile's deploy recipe must pass --capabilities"
    return set(match.group(1).split())


def test_deploy_passes_every_capability_the_template_requires_when_run_by_make(template):
    from infra.template import deploy_capabilities, required_capabilities

    needed = required_capabilities(template)
    assert {"CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND", "CAPABILITY_IAM"} <= needed
    assert needed <= set(deploy_capabilities()), "add the missing capability to samconfig.toml"
    assert needed <= _makefile_deploy_capabilities(), "add the missing capability to the Makefile's deploy"
    assert set(deploy_capabilities()) == _makefile_deploy_capabilities()


def test_required_capabilities_follow_named_iam_resources_and_transforms():
    from infra.template import required_capabilities

    plain = {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}
    assert required_capabilities(plain) == set()
    unnamed = {"Resources": {"P": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {}}}}
    assert required_capabilities(unnamed) == {"CAPABILITY_IAM"}
    named = {"Transform": "AWS::Serverless-2016-10-31",
             "Resources": {"P": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"ManagedPolicyName": "x"}}}}
    assert required_capabilities(named) == {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"}


def test_named_iam_stack_deploys_in_moto_with_the_makefile_capabilities_and_not_without(template):
    import boto3
    from moto import mock_aws

    from infra.localstack.deploy import DeployError, deploy_stack
    from infra.localstack.stack import LOCAL_PARAMETERS
    from infra.template import transform_template

    cfn = transform_template(template, base_dir=ROOT, parameter_values=LOCAL_PARAMETERS)
    with mock_aws():
        client = lambda name: boto3.client(name, region_name="ap-northeast-2")  # noqa: E731
        with pytest.raises(DeployError, match="InsufficientCapabilities.*CAPABILITY_NAMED_IAM"):
            deploy_stack(cfn, sam=template, client=client, region="ap-northeast-2", stack_name="caps-test",
                         capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
        deployed = deploy_stack(cfn, sam=template, client=client, region="ap-northeast-2", stack_name="caps-test",
                                capabilities=sorted(_makefile_deploy_capabilities()), parameters=LOCAL_PARAMETERS)
        policies = [r for r in deployed.resources.values() if r.type == "AWS::IAM::ManagedPolicy"]
        assert policies and all(p.physical_id for p in policies)


def test_runtime_requirements_can_verify_rs256_tokens():
    """PyJWT alone cannot verify RS256 (Cognito): it needs its ``crypto`` extra (cryptography)."""
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    pyjwt = [line for line in lines if line.lower().startswith("pyjwt")]
    assert pyjwt and "[crypto]" in pyjwt[0], "requirements.txt must ask for PyJWT[crypto]"
