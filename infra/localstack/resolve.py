"""Resolve CloudFormation intrinsics (Ref, GetAtt, Sub, Join, Select, Split, FindInMap) against a
stack deployed in moto, for the few places where moto's own CloudFormation cannot: resources of a
type moto does not deploy (created by the local stack through their APIs instead) and any function
environment value moto left unresolved."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class UnresolvedReference(LookupError):
    pass


@dataclass(frozen=True)
class PhysicalResource:
    logical_id: str
    type: str
    physical_id: str | None


class Resolver:
    def __init__(
        self,
        resources: dict[str, PhysicalResource],
        *,
        parameters: dict[str, Any],
        region: str,
        account: str,
        stack_name: str,
        stack_id: str = "",
        client: Callable[[str], Any],
        mappings: dict[str, Any] | None = None,
    ) -> None:
        self.resources = resources
        self.parameters = parameters
        self.region = region
        self.account = account
        self.stack_name = stack_name
        self.stack_id = stack_id
        self._client = client
        self.mappings = mappings or {}
        self._cache: dict[tuple[str, str], str] = {}

    # -- Ref / GetAtt

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
            "AWS::NotificationARNs": [],
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.resources.get(name)
        if resource is None or resource.physical_id is None:
            raise UnresolvedReference(f"Ref {name}")
        return resource.physical_id

    def get_att(self, name: str, attribute: str) -> str:
        key = (name, attribute)
        if key not in self._cache:
            self._cache[key] = self._get_att(name, attribute)
        return self._cache[key]

    def _get_att(self, name: str, attribute: str) -> str:
        resource = self.resources.get(name)
        if resource is None or resource.physical_id is None:
            raise UnresolvedReference(f"GetAtt {name}.{attribute}")
        kind, physical = resource.type, resource.physical_id
        region, account = self.region, self.account
        if kind == "AWS::SQS::Queue":
            queue_name = physical.rstrip("/").rsplit("/", 1)[-1]
            return {"Arn": f"arn:aws:sqs:{region}:{account}:{queue_name}", "QueueName": queue_name,
                    "QueueUrl": physical}[attribute]
        if kind == "AWS::DynamoDB::Table":
            if attribute == "Arn":
                return f"arn:aws:dynamodb:{region}:{account}:table/{physical}"
            if attribute == "StreamArn":
                table = self._client("dynamodb").describe_table(TableName=physical)["Table"]
                return table["LatestStreamArn"]
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{region}:{account}:function:{physical}"
        if kind == "AWS::IAM::Role" and attribute in ("Arn", "RoleId"):
            role = self._client("iam").get_role(RoleName=physical)["Role"]
            return role["Arn"] if attribute == "Arn" else role["RoleId"]
        if kind == "AWS::S3::Bucket":
            return {"Arn": f"arn:aws:s3:::{physical}", "DomainName": f"{physical}.s3.amazonaws.com",
                    "RegionalDomainName": f"{physical}.s3.{region}.amazonaws.com"}[attribute]
        if kind == "AWS::SNS::Topic":
            return {"TopicArn": physical, "Arn": physical, "TopicName": physical.rsplit(":", 1)[-1]}[attribute]
        if kind == "AWS::Events::Rule" and attribute == "Arn":
            return self._client("events").describe_rule(Name=physical)["Arn"]
        if attribute == "Arn" and physical.startswith("arn:"):
            return physical
        raise UnresolvedReference(f"GetAtt {name}.{attribute} ({kind})")

    # -- everything else

    def _sub(self, template: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1).strip()
            if token in variables:
                return str(self.resolve(variables[token]))
            if "." in token and not token.startswith("AWS::"):
                resource, attribute = token.split(".", 1)
                return str(self.get_att(resource, attribute))
            return str(self.ref(token))

        return _SUB_VAR.sub(replace, template).replace("${!", "${")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                name, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(name, self.resolve(attribute))
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self._sub(arg, {})
                return self._sub(arg[0], arg[1] if len(arg) > 1 else {})
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(v) for v in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
            if key == "Fn::FindInMap":
                mapping, first, second = (self.resolve(a) for a in arg[:3])
                return self.mappings[mapping][first][second]
            if key == "Fn::Base64":
                import base64

                return base64.b64encode(str(self.resolve(arg)).encode()).decode()
            if key.startswith("Fn::"):
                raise UnresolvedReference(f"{key} is not supported by the local resolver")
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not None}


def references(value: Any) -> set[str]:
    """Logical ids a value refers to (Ref, GetAtt and ${...} in Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= references(v)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                local = set(arg[1]) if isinstance(arg, list) and len(arg) > 1 else set()
                found |= {m.split(".", 1)[0] for m in _SUB_VAR.findall(text) if m not in local}
                if isinstance(arg, list) and len(arg) > 1:
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return {f for f in found if not f.startswith("AWS::")}


def replace_references(value: Any, removed: set[str]) -> Any:
    """Replace references to ``removed`` logical ids by a readable placeholder string."""
    if isinstance(value, list):
        return [replace_references(v, removed) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        target = None
        if key == "Ref" and isinstance(arg, str):
            target = arg
        elif key == "Fn::GetAtt":
            target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
        if target in removed:
            return f"local-stack-unsupported:{target}"
        if key == "Fn::Sub" and references(value) & removed:
            text = arg if isinstance(arg, str) else arg[0]
            for name in references(value) & removed:
                text = re.sub(r"\$\{" + re.escape(name) + r"(\.[^}]*)?\}", f"local-stack-unsupported:{name}", text)
            return {key: text if isinstance(arg, str) else [text, replace_references(arg[1], removed)]}
    return {k: replace_references(v, removed) for k, v in value.items()}
