"""Deploy the transformed template into moto's CloudFormation and read back what it made.

Resource types moto's CloudFormation does not implement are taken out of the deployed copy (a
reference to one becomes a ``local-stack-unsupported:<Id>`` string); the ones the stack needs are
then created through their own APIs (EventBridge Scheduler schedules, CloudWatch alarms), the
rest are listed in the state file as skipped."""
from __future__ import annotations

import copy
import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable

from infra.localstack.resolve import PhysicalResource, Resolver, UnresolvedReference, replace_references
from infra.template import CODE_BUCKET, FunctionSpec, deploy_capabilities, list_functions, required_capabilities

log = logging.getLogger("localstack.deploy")

#: Created through their APIs after the stack, because moto's CloudFormation skips them.
LOCALLY_CREATED = ("AWS::Scheduler::Schedule", "AWS::CloudWatch::Alarm", "AWS::SQS::QueuePolicy")
#: Types moto knows but cannot create from a SAM-made template: a Deployment of a RestApi defined by
#: an OpenAPI Body fails ("doesn't contain any methods": moto does not import the Body). The local
#: API is served by chalice.local instead, so API Gateway deployments are skipped.
LOCALLY_SKIPPED = ("AWS::ApiGateway::Deployment",)


class DeployError(RuntimeError):
    pass


@dataclass
class DeployedStack:
    stack_name: str
    stack_id: str
    region: str
    account: str
    template: dict[str, Any]
    parameters: dict[str, Any]
    resources: dict[str, PhysicalResource]
    functions: list[FunctionSpec]
    function_names: dict[str, str]
    function_env: dict[str, dict[str, str]]
    skipped: dict[str, str] = field(default_factory=dict)
    created_locally: dict[str, str] = field(default_factory=dict)
    resolver: Resolver | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def physical_id(self, logical_id: str) -> str | None:
        resource = self.resources.get(logical_id)
        return resource.physical_id if resource else None


def moto_supported_types() -> set[str]:
    from moto.cloudformation.parsing import get_model_map

    return set(get_model_map()) - set(LOCALLY_SKIPPED)


def split_unsupported(cfn: dict[str, Any], supported: set[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A deployable copy of ``cfn`` without the resources moto cannot create, and those resources."""
    deployable = copy.deepcopy(cfn)
    resources = deployable.get("Resources") or {}
    removed = {lid: res for lid, res in resources.items() if res.get("Type") not in supported}
    for lid in removed:
        del resources[lid]
    names = set(removed)
    for lid, res in resources.items():
        depends = res.get("DependsOn")
        if isinstance(depends, str) and depends in names:
            del res["DependsOn"]
        elif isinstance(depends, list):
            res["DependsOn"] = [d for d in depends if d not in names]
        if "Properties" in res:
            res["Properties"] = replace_references(res["Properties"], names)
    outputs = deployable.get("Outputs") or {}
    for name in list(outputs):
        outputs[name] = replace_references(outputs[name], names)
    _moto_compatibility(deployable)
    return deployable, removed


def _moto_compatibility(cfn: dict[str, Any]) -> None:
    """Fill in what moto's CloudFormation insists on though AWS does not."""
    for lid, res in (cfn.get("Resources") or {}).items():
        props = res.setdefault("Properties", {})
        if res.get("Type") == "AWS::ApiGateway::RestApi" and "Name" not in props:
            # AWS takes the name from the OpenAPI Body's info.title; moto reads only Name.
            title = ((props.get("Body") or {}).get("info") or {}).get("title")
            props["Name"] = title if isinstance(title, str) else lid


def _stub_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # moto only stores the code; the local stack runs the real folder instead.
        archive.writestr("README.txt", "placeholder: the local stack runs the code from the repository\n")
    return buffer.getvalue()


def _code_keys(cfn: dict[str, Any]) -> set[str]:
    keys = set()
    for res in (cfn.get("Resources") or {}).values():
        props = res.get("Properties") or {}
        for location in (props.get("Code"), props.get("Content")):
            if isinstance(location, dict) and location.get("S3Bucket") == CODE_BUCKET:
                keys.add(location["S3Key"])
    return keys


def upload_placeholder_code(s3: Any, cfn: dict[str, Any], region: str) -> None:
    s3.create_bucket(Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    body = _stub_zip()
    for key in sorted(_code_keys(cfn)):
        s3.put_object(Bucket=CODE_BUCKET, Key=key, Body=body)


def detach_moto_lambda_triggers(account: str, region: str) -> int:
    """Stop moto's own SQS/DynamoDB-to-Lambda triggers (the mappings stay listed).

    moto would otherwise, on every send or write, try to run the function in Docker, and on the
    way receive the message (raising its receive count) or drop stream records. The dispatcher
    delivers instead. This reaches into moto's in-process backends: the moto server runs in this
    process, and tests/integration/test_dispatcher_stack.py fails if moto changes these names."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    detached = 0
    for queue in sqs_backends[account][region].queues.values():
        detached += len(queue.lambda_event_source_mappings)
        queue.lambda_event_source_mappings.clear()
    for table in dynamodb_backends[account][region].tables.values():
        detached += len(table.lambda_event_source_mappings)
        table.lambda_event_source_mappings.clear()
    return detached


def _stack_failure(cf: Any, stack_name: str) -> str:
    try:
        events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    except Exception:  # noqa: BLE001 - best effort diagnostics
        return "unknown"
    reasons = [f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}" for e in events
               if "FAILED" in (e.get("ResourceStatus") or "")]
    return "; ".join(reasons) or "unknown"


def _create_locally(lid: str, res: dict[str, Any], resolver: Resolver, client: Callable[[str], Any],
                    stack_name: str) -> str | None:
    kind = res["Type"]
    props = resolver.resolve(res.get("Properties") or {})
    if kind == "AWS::Scheduler::Schedule":
        name = props.pop("Name", None) or f"{stack_name}-{lid}"
        props.setdefault("FlexibleTimeWindow", {"Mode": "OFF"})
        client("scheduler").create_schedule(Name=name, **{k: v for k, v in props.items() if k != "Name"})
        return name
    if kind == "AWS::CloudWatch::Alarm":
        name = props.pop("AlarmName", None) or f"{stack_name}-{lid}"
        for key in ("EvaluationPeriods", "DatapointsToAlarm", "Period"):
            if key in props:
                props[key] = int(props[key])
        if "Threshold" in props:
            props["Threshold"] = float(props["Threshold"])
        client("cloudwatch").put_metric_alarm(AlarmName=name, **props)
        return name
    if kind == "AWS::SQS::QueuePolicy":
        document = json.dumps(props.get("PolicyDocument") or {})
        for url in props.get("Queues") or []:
            client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": document})
        return f"{stack_name}-{lid}"
    return None


def deploy_stack(
    cfn: dict[str, Any],
    *,
    client: Callable[[str], Any],
    region: str,
    stack_name: str = "sos1379-local",
    parameters: dict[str, Any] | None = None,
    in_process_moto: bool = True,
    capabilities: list[str] | None = None,
    sam: dict[str, Any] | None = None,
) -> DeployedStack:
    """Create every resource of ``cfn`` (a transformed template) in moto and describe the result.

    ``capabilities`` default to what ``make deploy`` passes (samconfig.toml). moto checks none, so
    they are checked here against what CloudFormation would demand of ``sam`` (the template before
    the transform, which is what AWS receives) or ``cfn``: a missing one fails as it would in AWS."""
    import time

    capabilities = list(capabilities if capabilities is not None else deploy_capabilities())
    missing = required_capabilities(sam if sam is not None else cfn) - set(capabilities)
    if missing:
        raise DeployError(f"InsufficientCapabilities: requires {sorted(missing)} (passed {capabilities})")

    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    supported = moto_supported_types()
    deployable, removed = split_unsupported(cfn, supported)
    account = client("sts").get_caller_identity()["Account"]
    upload_placeholder_code(client("s3"), deployable, region)
    lap("prepare")

    declared = cfn.get("Parameters") or {}
    values = {k: v.get("Default") for k, v in declared.items() if isinstance(v, dict) and "Default" in v}
    values.update({k: v for k, v in (parameters or {}).items() if k in declared})
    cf = client("cloudformation")
    try:
        created = cf.create_stack(
            StackName=stack_name,
            # moto parses a body as YAML first (pure Python: ~1.5 s per parse for this template,
            # and it parses more than once) and falls back to JSON on a scanner error. A leading
            # tab is legal JSON whitespace but not YAML, so moto goes straight to json.loads.
            TemplateBody="\t" + json.dumps(deployable),
            Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items() if v is not None],
            Capabilities=capabilities,
        )
    except Exception as exc:
        raise DeployError(f"moto rejected the template: {exc}") from exc
    lap("create_stack")
    stack = cf.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise DeployError(f"stack {stack['StackStatus']}: {_stack_failure(cf, stack_name)}")

    resources: dict[str, PhysicalResource] = {}
    for item in cf.describe_stack_resources(StackName=stack_name)["StackResources"]:
        lid = item.get("LogicalResourceId")
        if not lid:  # moto describes some resources it made without their ids; see below
            continue
        resources[lid] = PhysicalResource(lid, item["ResourceType"], item.get("PhysicalResourceId"))

    # Resources moto created but described without a logical id still count as created.
    for lid, res in (deployable.get("Resources") or {}).items():
        resources.setdefault(lid, PhysicalResource(lid, res.get("Type", "?"), None))

    if in_process_moto:
        detach_moto_lambda_triggers(account, region)

    resolver = Resolver(resources, parameters=values, region=region, account=account, stack_name=stack_name,
                        stack_id=created.get("StackId", ""), client=client, mappings=cfn.get("Mappings"))
    lap("describe")
    skipped: dict[str, str] = {}
    created_locally: dict[str, str] = {}
    for lid, res in removed.items():
        kind = res.get("Type", "?")
        physical = None
        if kind in LOCALLY_CREATED:
            try:
                physical = _create_locally(lid, res, resolver, client, stack_name)
            except Exception as exc:  # noqa: BLE001 - a missing alarm must not stop the stack
                log.warning("deploy.local_create_failed", extra={"fields": {"resource": lid, "type": kind,
                                                                            "error": str(exc)}})
        if physical:
            created_locally[lid] = kind
            resources[lid] = PhysicalResource(lid, kind, physical)
        else:
            skipped[lid] = kind

    lap("create_locally")
    functions = list_functions(cfn)
    names = {f.logical_id: resources[f.logical_id].physical_id or f.logical_id
             for f in functions if f.logical_id in resources}
    envs: dict[str, dict[str, str]] = {}
    lam = client("lambda")
    for fn in functions:
        if fn.logical_id not in names:
            continue
        config = lam.get_function_configuration(FunctionName=names[fn.logical_id])
        deployed = (config.get("Environment") or {}).get("Variables") or {}
        env: dict[str, str] = {}
        for key, expression in fn.environment.items():
            value = deployed.get(key)
            if not isinstance(value, str):
                # moto left it unresolved (or dropped it): resolve against the physical ids.
                try:
                    value = resolver.resolve(expression)
                except UnresolvedReference as exc:
                    log.warning("deploy.env_unresolved", extra={"fields": {"function": fn.logical_id, "key": key,
                                                                           "error": str(exc)}})
                    value = ""
            env[key] = _env_string(value)
        envs[fn.logical_id] = env
    lap("environment")

    return DeployedStack(
        stack_name=stack_name, stack_id=created.get("StackId", ""), region=region, account=account,
        template=cfn, parameters=values, resources=resources, functions=functions, function_names=names,
        function_env=envs, skipped=skipped, created_locally=created_locally, resolver=resolver,
        timings=timings,
    )


def _env_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)
