"""Read template.yaml (SAM) and turn it into plain CloudFormation, offline.

The local stack, the template tests and the packaging scripts all start here, so template.yaml
stays the single source of truth: nothing else lists resources by hand.

- :func:`load_template` parses CloudFormation YAML, short intrinsic tags included (``!Ref``,
  ``!Sub``, ``!GetAtt A.B``), into the long form (``{"Ref": ...}``, ``{"Fn::GetAtt": [A, B]}``).
- :func:`transform_template` runs the SAM transform with ``samtranslator`` without AWS calls.
  Local ``CodeUri``/``ContentUri`` paths become ``s3://<CODE_BUCKET>/<path>`` placeholders; the
  path survives the transform as the object key, which is how :func:`list_functions` finds each
  function's source folder again.
- :func:`list_functions` describes every ``AWS::Lambda::Function`` of a transformed template:
  code folder, handler, environment (still intrinsic expressions), timeout and its event sources
  (SQS and DynamoDB Streams mappings, EventBridge rules and Scheduler schedules).
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
DEFAULT_REGION = "ap-northeast-2"
#: Bucket named by the placeholder code URIs; the local stack creates it and uploads a stub zip.
CODE_BUCKET = "sos1379-local-code"


class TemplateError(Exception):
    """The template cannot be read or transformed."""


# --------------------------------------------------------------------------- loading


class _CfnLoader(yaml.SafeLoader):
    """A SafeLoader that knows the CloudFormation short tags.

    A subclass, not ``samtranslator.yaml_helper.yaml_parse``: that helper registers its tags on
    the global ``yaml.SafeLoader`` and so changes every other YAML parse in the process."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    tag = tag_suffix
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"
    if tag == "GetAtt" and isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node).split(".", 1)
    elif isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def parse_template(text: str) -> dict[str, Any]:
    """Parse CloudFormation YAML or JSON text (short tags allowed)."""
    data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(data, dict) or "Resources" not in data:
        raise TemplateError("not a CloudFormation template: no Resources section")
    return data


def load_template(path: str | os.PathLike[str] = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """Load a SAM/CloudFormation template file into a dict (intrinsics in long form)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    return parse_template(text)


# --------------------------------------------------------------------------- transform


class _OfflinePolicyLoader:
    """samtranslator resolves managed policy names from its bundled map first; this loader is only
    consulted for names it does not know, and offline we have nothing better than none."""

    def load(self) -> dict[str, str]:
        return {}


def _is_local_uri(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def _placeholder(path: str) -> str:
    key = path.strip().strip("/") or "."
    return f"s3://{CODE_BUCKET}/{key}"


def _inline_definition(value: Any, base: Path) -> Any:
    """API/state-machine definitions given as local files are inlined as ``DefinitionBody``."""
    return load_template_like(base / value)


def load_template_like(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return yaml.load(text, Loader=_CfnLoader)  # noqa: S506


def prepare_for_transform(sam: dict[str, Any], base_dir: Path = REPO_ROOT) -> dict[str, Any]:
    """Return a copy of ``sam`` whose local artefact paths are replaced by S3 placeholders."""
    sam = copy.deepcopy(sam)
    glob_fn = (sam.get("Globals") or {}).get("Function") or {}
    if _is_local_uri(glob_fn.get("CodeUri")):
        glob_fn["CodeUri"] = _placeholder(glob_fn["CodeUri"])
    for resource in (sam.get("Resources") or {}).values():
        if not isinstance(resource, dict):
            continue
        kind = resource.get("Type")
        props = resource.setdefault("Properties", {}) if kind and kind.startswith("AWS::Serverless::") else None
        if props is None:
            continue
        if kind == "AWS::Serverless::Function" and _is_local_uri(props.get("CodeUri")):
            props["CodeUri"] = _placeholder(props["CodeUri"])
        elif kind == "AWS::Serverless::LayerVersion" and _is_local_uri(props.get("ContentUri")):
            props["ContentUri"] = _placeholder(props["ContentUri"])
        elif kind in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi") and _is_local_uri(
            props.get("DefinitionUri")
        ):
            props["DefinitionBody"] = _inline_definition(props.pop("DefinitionUri"), base_dir)
        elif kind == "AWS::Serverless::StateMachine" and _is_local_uri(props.get("DefinitionUri")):
            props["Definition"] = _inline_definition(props.pop("DefinitionUri"), base_dir)
    return sam


def transform_template(
    sam: dict[str, Any],
    *,
    region: str = DEFAULT_REGION,
    parameter_values: dict[str, Any] | None = None,
    base_dir: Path = REPO_ROOT,
) -> dict[str, Any]:
    """Transform a SAM template into plain CloudFormation without any AWS call.

    Templates without the ``AWS::Serverless`` transform are returned as a deep copy."""
    prepared = prepare_for_transform(sam, base_dir)
    transforms = prepared.get("Transform")
    if not transforms:
        return prepared
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.arn_generator import ArnGenerator
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    # What samtranslator.translator.transform.transform does, but with a session that carries the
    # region (it would otherwise ask the environment) and no IAM client behind the policy loader.
    parameters = dict(parameter_values or {})
    session = boto3.session.Session(region_name=region)
    previous = ArnGenerator.BOTO_SESSION_REGION_NAME
    ArnGenerator.BOTO_SESSION_REGION_NAME = region
    try:
        to_py27_compatible_template(prepared, parameters)
        translated = Translator(None, Parser(), boto_session=session).translate(
            prepared,
            parameter_values=parameters,
            get_managed_policy_map=_OfflinePolicyLoader().load,
        )
        return undo_mark_unicode_str_in_template(translated)
    except InvalidDocumentException as exc:
        messages = "; ".join(str(cause) for cause in exc.causes)
        raise TemplateError(f"SAM transform failed: {messages}") from exc
    finally:
        ArnGenerator.BOTO_SESSION_REGION_NAME = previous


def load_cloudformation(
    path: str | os.PathLike[str] = DEFAULT_TEMPLATE,
    *,
    region: str = DEFAULT_REGION,
    parameter_values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``load_template`` + ``transform_template`` in one call."""
    path = Path(path)
    return transform_template(
        load_template(path), region=region, parameter_values=parameter_values, base_dir=path.parent
    )


# --------------------------------------------------------------------------- functions


@dataclass(frozen=True)
class SqsSource:
    logical_id: str  # the AWS::Lambda::EventSourceMapping
    queue: str  # logical id of the AWS::SQS::Queue
    batch_size: int = 10
    report_batch_item_failures: bool = False
    maximum_batching_window: int = 0
    enabled: bool = True
    maximum_concurrency: int | None = None
    filter_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class StreamSource:
    logical_id: str
    table: str  # logical id of the AWS::DynamoDB::Table
    starting_position: str = "LATEST"
    batch_size: int = 100
    report_batch_item_failures: bool = False
    maximum_batching_window: int = 0
    maximum_retry_attempts: int = -1
    maximum_record_age: int = -1
    bisect_on_error: bool = False
    on_failure: Any = None  # destination ARN expression, if any
    enabled: bool = True
    filter_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScheduleSource:
    logical_id: str  # the AWS::Events::Rule or AWS::Scheduler::Schedule
    expression: str  # rate(...), cron(...) or at(...)
    input: Any = None  # parsed Input JSON, None when the target has none
    timezone: str = "UTC"
    enabled: bool = True
    kind: str = "events"  # "events" (EventBridge rule) or "scheduler"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: str | None  # repository-relative folder, e.g. "functions/route_case"
    handler: str
    environment: dict[str, Any] = field(default_factory=dict)
    timeout: int = 3
    memory_size: int = 128
    runtime: str | None = None
    reserved_concurrency: int | None = None
    layers: tuple[str, ...] = ()  # repository-relative layer folders (their python/ goes on sys.path)
    maximum_retry_attempts: int | None = None  # from AWS::Lambda::EventInvokeConfig (async calls)
    sqs: tuple[SqsSource, ...] = ()
    streams: tuple[StreamSource, ...] = ()
    schedules: tuple[ScheduleSource, ...] = ()

    @property
    def handler_module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def handler_function(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    def handler_path(self, root: Path = REPO_ROOT) -> Path:
        """The file that defines the handler (``CodeUri``/``module``.py)."""
        base = root / (self.code_uri or ".")
        return base.joinpath(*self.handler_module.split(".")).with_suffix(".py")


def _ref_target(value: Any) -> str | None:
    """Logical id named by ``Ref X``, ``GetAtt X.Arn`` or ``Sub ${X.Arn}``."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            if text.startswith("${") and "}" in text:
                return text[2:text.index("}")].split(".", 1)[0]
    return None


def _code_dir(code: Any) -> str | None:
    if isinstance(code, dict) and code.get("S3Bucket") == CODE_BUCKET and isinstance(code.get("S3Key"), str):
        key = code["S3Key"]
        return "." if key in ("", ".") else key
    return None


def _as_bool(value: Any, default: bool = True) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _filters(props: dict[str, Any]) -> tuple[str, ...]:
    criteria = props.get("FilterCriteria") or {}
    return tuple(f["Pattern"] for f in criteria.get("Filters") or [] if isinstance(f.get("Pattern"), str))


def _parse_input(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def list_functions(cfn: dict[str, Any]) -> list[FunctionSpec]:
    """Every Lambda function of a transformed template, with its event sources."""
    resources: dict[str, Any] = cfn.get("Resources") or {}
    sqs: dict[str, list[SqsSource]] = {}
    streams: dict[str, list[StreamSource]] = {}
    schedules: dict[str, list[ScheduleSource]] = {}

    for lid, res in resources.items():
        kind = res.get("Type")
        props = res.get("Properties") or {}
        if kind == "AWS::Lambda::EventSourceMapping":
            fn = _ref_target(props.get("FunctionName"))
            source = _ref_target(props.get("EventSourceArn"))
            if fn is None or source is None or source not in resources:
                continue
            source_type = resources[source].get("Type")
            responses = props.get("FunctionResponseTypes") or []
            common = {
                "logical_id": lid,
                "report_batch_item_failures": "ReportBatchItemFailures" in responses,
                "maximum_batching_window": int(props.get("MaximumBatchingWindowInSeconds") or 0),
                "enabled": _as_bool(props.get("Enabled")),
                "filter_patterns": _filters(props),
            }
            if source_type == "AWS::SQS::Queue":
                scaling = props.get("ScalingConfig") or {}
                sqs.setdefault(fn, []).append(
                    SqsSource(
                        queue=source,
                        batch_size=int(props.get("BatchSize") or 10),
                        maximum_concurrency=scaling.get("MaximumConcurrency"),
                        **common,
                    )
                )
            elif source_type == "AWS::DynamoDB::Table":
                on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
                streams.setdefault(fn, []).append(
                    StreamSource(
                        table=source,
                        starting_position=props.get("StartingPosition") or "LATEST",
                        batch_size=int(props.get("BatchSize") or 100),
                        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                        maximum_record_age=int(props.get("MaximumRecordAgeInSeconds", -1)),
                        bisect_on_error=_as_bool(props.get("BisectBatchOnFunctionError"), False),
                        on_failure=on_failure,
                        **common,
                    )
                )
        elif kind == "AWS::Events::Rule" and props.get("ScheduleExpression"):
            for target in props.get("Targets") or []:
                fn = _ref_target(target.get("Arn"))
                if fn in resources and resources[fn].get("Type") == "AWS::Lambda::Function":
                    schedules.setdefault(fn, []).append(
                        ScheduleSource(
                            logical_id=lid,
                            expression=props["ScheduleExpression"],
                            input=_parse_input(target.get("Input")),
                            enabled=(props.get("State") or "ENABLED") == "ENABLED",
                            kind="events",
                        )
                    )
        elif kind == "AWS::Scheduler::Schedule":
            target = props.get("Target") or {}
            fn = _ref_target(target.get("Arn"))
            if fn in resources and resources[fn].get("Type") == "AWS::Lambda::Function":
                schedules.setdefault(fn, []).append(
                    ScheduleSource(
                        logical_id=lid,
                        expression=props.get("ScheduleExpression", ""),
                        input=_parse_input(target.get("Input")),
                        timezone=props.get("ScheduleExpressionTimezone") or "UTC",
                        enabled=(props.get("State") or "ENABLED") == "ENABLED",
                        kind="scheduler",
                    )
                )

    retries: dict[str, int] = {}
    for lid, res in resources.items():
        if res.get("Type") == "AWS::Lambda::EventInvokeConfig":
            props = res.get("Properties") or {}
            fn = _ref_target(props.get("FunctionName"))
            if fn and "MaximumRetryAttempts" in props:
                retries[fn] = int(props["MaximumRetryAttempts"])

    functions = []
    for lid, res in resources.items():
        if res.get("Type") != "AWS::Lambda::Function":
            continue
        props = res.get("Properties") or {}
        env = ((props.get("Environment") or {}).get("Variables")) or {}
        reserved = props.get("ReservedConcurrentExecutions")
        layers = []
        for layer in props.get("Layers") or []:
            target = _ref_target(layer)
            if target in resources and resources[target].get("Type") == "AWS::Lambda::LayerVersion":
                folder = _code_dir((resources[target].get("Properties") or {}).get("Content"))
                if folder:
                    layers.append(folder)
        functions.append(
            FunctionSpec(
                logical_id=lid,
                code_uri=_code_dir(props.get("Code")),
                handler=str(props.get("Handler") or ""),
                environment=dict(env),
                timeout=int(props.get("Timeout") or 3),
                memory_size=int(props.get("MemorySize") or 128),
                runtime=props.get("Runtime"),
                reserved_concurrency=int(reserved) if isinstance(reserved, (int, str)) and str(reserved).isdigit() else None,
                layers=tuple(layers),
                maximum_retry_attempts=retries.get(lid),
                sqs=tuple(sqs.get(lid, ())),
                streams=tuple(streams.get(lid, ())),
                schedules=tuple(schedules.get(lid, ())),
            )
        )
    return functions


# --------------------------------------------------------------------------- deploy capabilities

#: IAM resource types and the property that names them (a named one needs CAPABILITY_NAMED_IAM).
_IAM_NAME_PROPERTIES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::UserToGroupAddition": None,
}


def required_capabilities(template: dict[str, Any]) -> set[str]:
    """The capabilities CloudFormation demands to create ``template`` (SAM or plain).

    moto's CloudFormation checks none, so the local stack and the tests call this instead:
    ``CAPABILITY_AUTO_EXPAND`` for a transform (SAM), ``CAPABILITY_IAM`` for any IAM resource
    (SAM functions make roles), ``CAPABILITY_NAMED_IAM`` for an IAM resource with a fixed name."""
    needed: set[str] = set()
    if template.get("Transform"):
        needed.add("CAPABILITY_AUTO_EXPAND")
    for res in (template.get("Resources") or {}).values():
        kind = res.get("Type") if isinstance(res, dict) else None
        if kind == "AWS::Serverless::Function" or kind in _IAM_NAME_PROPERTIES:
            needed.add("CAPABILITY_IAM")
        name_property = _IAM_NAME_PROPERTIES.get(kind or "")
        if name_property and name_property in (res.get("Properties") or {}):
            needed.add("CAPABILITY_NAMED_IAM")
    return needed


def deploy_capabilities(samconfig: str | os.PathLike[str] = REPO_ROOT / "samconfig.toml",
                        environment: str = "default") -> list[str]:
    """The capabilities ``make deploy`` passes (samconfig.toml's ``deploy`` section)."""
    import tomllib

    config = tomllib.loads(Path(samconfig).read_text(encoding="utf-8"))
    value = config[environment]["deploy"]["parameters"]["capabilities"]
    return value.split() if isinstance(value, str) else list(value)
