"""Generate the per-institute referral queues of template.yaml, and the access to them, from the
directory.

Every code in ``sos1379.directory.referral_codes()`` gets:

- ``ReferralQueue<CODE>`` (named ``${AWS::StackName}-referral-<CODE>``, the name the router derives
  from REFERRAL_QUEUE_PREFIX), ``ReferralDLQ<CODE>`` and ``ReferralDLQAlarm<CODE>``;
- ``ReferralConsumerPolicy<CODE>``: an IAM managed policy allowing exactly :data:`CONSUMER_ACTIONS`
  on that queue and nothing else (not the DLQ, not another institute's queue), which the operator
  attaches to the role or user the institute's system runs as in this account;
- ``ReferralCrossAccountPolicy<CODE>``: an SQS queue policy, only for institutes listed in
  ``infra/referral_consumers.json`` (see :func:`load_consumers`), that grants the same actions on
  the same queue to the institute's own AWS account or roles;
- the outputs ``ReferralQueueUrl<CODE>`` and ``ReferralConsumerPolicyArn<CODE>``.

RouteCaseFunction may send to exactly the referral queues. Each generated block sits between
marker comments in template.yaml and is rewritten in place, so the rest of the file (owned by
others) is never touched::

    python -m infra.referral_queues          # rewrite template.yaml
    python -m infra.referral_queues --check  # exit 1 when the template is out of date (CI)

Queue settings, and why: institutes consume these queues with their own workers, whose processing
time we do not control, so the visibility timeout is a generous 300 s; after 5 receives a message
goes to the DLQ (retention 14 days) and raises an alarm on the operations topic; messages live 10
days, long enough for an institute's outage over a holiday weekend, and shorter than the DLQ's 14
(a message keeps its first enqueue time in the DLQ).

Cross-account access, and why a data file rather than a template parameter: an identity policy in
this account cannot be attached to a principal of another account, so an institute that runs its
consumer in its own AWS account needs a resource policy on its queue naming that account.
CloudFormation cannot look a code up in one parameter (no map lookup on parameter values), one
parameter per institute means 31 parameters, and one shared list of accounts on every queue would
let each listed account read every institute's queue. The account ids are not secret and change
as rarely as the directory, so they live next to it, reviewed in git, and the queue policy is
generated exactly like the queue: edit the file, run this module, deploy.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.template import DEFAULT_TEMPLATE

QUEUES_BEGIN = "# BEGIN referral queues"
QUEUES_END = "# END referral queues"
ARNS_BEGIN = "# BEGIN referral queue arns"
ARNS_END = "# END referral queue arns"
OUTPUTS_BEGIN = "# BEGIN referral queue outputs"
OUTPUTS_END = "# END referral queue outputs"
VISIBILITY_TIMEOUT = 300
MAX_RECEIVE_COUNT = 5
#: A message keeps its first enqueue time when it moves to the DLQ, so the DLQ must keep messages
#: longer than the queue (else a message that failed late expires in the DLQ at once).
RETENTION = 864000  # 10 days
DLQ_RETENTION = 1209600  # 14 days, SQS's maximum
#: Every alarm notifies the operations topic (template.yaml's OpsAlarmTopic; docs/deploy.md).
ALARM_TOPIC = "OpsAlarmTopic"
#: What an institute's consumer needs and no more: receive, delete when done, extend the visibility
#: of a slow message, read the queue depth, and find the URL from the name. No SendMessage (only
#: the router writes referrals), no PurgeQueue, nothing on the DLQ (redriving is ours to decide).
CONSUMER_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
CONSUMERS_FILE = Path(__file__).resolve().parent / "referral_consumers.json"
_ACCOUNT = re.compile(r"^\d{12}$", re.ASCII)
_ROOT_ARN = re.compile(r"^arn:aws:iam::\d{12}:root$", re.ASCII)
# Roles only: an IAM user of another account is a long-lived key we would be trusting blindly.
_ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,512}$", re.ASCII)


class ConsumerConfigError(SystemExit):
    """infra/referral_consumers.json names an unknown institute or an invalid principal."""


def codes() -> list[str]:
    from sos1379.directory import referral_codes

    return sorted(referral_codes())


def principal_arn(entry: str) -> str:
    """An institute's principal as a queue policy names it: an account id becomes the account's
    root (the institute's admin then decides which of its roles may use the grant)."""
    if _ACCOUNT.fullmatch(entry):
        return f"arn:aws:iam::{entry}:root"
    if _ROOT_ARN.fullmatch(entry) or _ROLE_ARN.fullmatch(entry):
        return entry
    raise ConsumerConfigError(f"not a 12-digit AWS account id, account root or IAM role ARN: {entry!r}")


def load_consumers(known_codes: Sequence[str], path: Path = CONSUMERS_FILE) -> dict[str, list[str]]:
    """``{CODE: [principal ARN, ...]}`` from the cross-account file (a missing file = none).

    The file maps institute codes to account ids or role ARNs, e.g.
    ``{"KITECH": ["111122223333"], "KIMS": ["arn:aws:iam::444455556666:role/sos1379-consumer"]}``.
    An unknown code is an error rather than ignored, so a typo never silently grants nothing."""
    if not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ConsumerConfigError(f"{path}: expected an object of institute code -> list of accounts")
    consumers: dict[str, list[str]] = {}
    for code, entries in raw.items():
        if code not in known_codes:
            raise ConsumerConfigError(f"{path}: {code!r} has no referral queue")
        if isinstance(entries, str):
            entries = [entries]
        if not isinstance(entries, list):
            raise ConsumerConfigError(f"{path}: {code}: expected a list of account ids or role ARNs")
        arns = sorted({principal_arn(str(e).strip()) for e in entries})
        if arns:
            consumers[code] = arns
    return consumers


def _actions() -> str:
    return "[" + ", ".join(CONSUMER_ACTIONS) + "]"


def consumer_queue(indent: str, family: str, lid: str, code: str, *, alarm: str, purpose: str, sid: str) -> list[str]:
    """One consumer's queue, its DLQ, the DLQ's alarm and the consume-only managed policy, as
    template lines: ``<family>Queue<lid>`` named ``${AWS::StackName}-<family lower-cased>-<code>``
    (referral queues here, hand-off queues in :mod:`infra.handoff_queues`)."""
    name = family.lower()
    return [
        f"{indent}{family}DLQ{lid}:",
        f"{indent}  Type: AWS::SQS::Queue",
        f"{indent}  DeletionPolicy: Delete  # named queues: a retained one would block a re-created stack",
        f"{indent}  UpdateReplacePolicy: Delete",
        f"{indent}  Properties:",
        f'{indent}    QueueName: !Sub "${{AWS::StackName}}-{name}-{code}-dlq"',
        f"{indent}    MessageRetentionPeriod: {DLQ_RETENTION}",
        f"{indent}    SqsManagedSseEnabled: true",
        f"{indent}{family}Queue{lid}:",
        f"{indent}  Type: AWS::SQS::Queue",
        f"{indent}  DeletionPolicy: Delete  # named queues: a retained one would block a re-created stack",
        f"{indent}  UpdateReplacePolicy: Delete",
        f"{indent}  Properties:",
        f'{indent}    QueueName: !Sub "${{AWS::StackName}}-{name}-{code}"',
        f"{indent}    VisibilityTimeout: {VISIBILITY_TIMEOUT}",
        f"{indent}    MessageRetentionPeriod: {RETENTION}",
        f"{indent}    ReceiveMessageWaitTimeSeconds: 20",
        f"{indent}    SqsManagedSseEnabled: true",
        f"{indent}    RedrivePolicy:",
        f"{indent}      deadLetterTargetArn: !GetAtt {family}DLQ{lid}.Arn",
        f"{indent}      maxReceiveCount: {MAX_RECEIVE_COUNT}",
        f"{indent}{family}DLQAlarm{lid}:",
        f"{indent}  Type: AWS::CloudWatch::Alarm",
        f"{indent}  Properties:",
        f"{indent}    AlarmDescription: {alarm}",
        f"{indent}    Namespace: AWS/SQS",
        f"{indent}    MetricName: ApproximateNumberOfMessagesVisible",
        f"{indent}    Dimensions: [{{Name: QueueName, Value: !GetAtt {family}DLQ{lid}.QueueName}}]",
        f"{indent}    Statistic: Maximum",
        f"{indent}    Period: 300",
        f"{indent}    EvaluationPeriods: 1",
        f"{indent}    Threshold: 0",
        f"{indent}    ComparisonOperator: GreaterThanThreshold",
        f"{indent}    TreatMissingData: notBreaching",
        f"{indent}    AlarmActions: [!Ref {ALARM_TOPIC}]",
        f"{indent}    OKActions: [!Ref {ALARM_TOPIC}]",
        f"{indent}{family}ConsumerPolicy{lid}:",
        f"{indent}  Type: AWS::IAM::ManagedPolicy",
        f"{indent}  Properties:",
        f'{indent}    ManagedPolicyName: !Sub "${{AWS::StackName}}-{name}-consumer-{code}"',
        f"{indent}    Description: {purpose}",
        f"{indent}    PolicyDocument:",
        f'{indent}      Version: "2012-10-17"',
        f"{indent}      Statement:",
        f"{indent}        - Sid: {sid}",
        f"{indent}          Effect: Allow",
        f"{indent}          Action: {_actions()}",
        f"{indent}          Resource: !GetAtt {family}Queue{lid}.Arn",
    ]


def write_or_check(template: Path, current: str, wanted: str, *, check: bool, what: str, module: str,
                   done: str) -> int:
    """The generators' command: with ``check``, 1 when ``template`` is out of date; otherwise
    rewrite it when it changed."""
    if check:
        if wanted != current:
            print(f"{template}: {what} are out of date; run python -m {module}")
            return 1
        return 0
    if wanted != current:
        template.write_text(wanted, encoding="utf-8")
        print(f"{template}: {done}")
    return 0


def queues_block(codes: list[str], indent: str = "  ",
                 consumers: Mapping[str, Sequence[str]] | None = None) -> str:
    consumers = consumers or {}
    out = [f"{indent}{QUEUES_BEGIN} (generated by `python -m infra.referral_queues`; do not edit by hand)"]
    for code in codes:
        out += consumer_queue(indent, "Referral", code, code,
                              alarm=f"Referral messages {code} did not process (referral DLQ not empty)",
                              purpose=f"Consume the SOS 1379 referrals of {code} from its own queue only",
                              sid=f"ConsumeReferrals{code}")
        principals = sorted({principal_arn(p) for p in consumers.get(code, ())})
        if principals:
            out += [
                f"{indent}ReferralCrossAccountPolicy{code}:",
                f"{indent}  Type: AWS::SQS::QueuePolicy",
                f"{indent}  Properties:",
                f"{indent}    Queues: [!Ref ReferralQueue{code}]",
                f"{indent}    PolicyDocument:",
                f'{indent}      Version: "2012-10-17"',
                f"{indent}      Statement:",
                f"{indent}        - Sid: InstituteConsumes{code}",
                f"{indent}          Effect: Allow",
                f"{indent}          Principal:",
                f"{indent}            AWS:",
                *(f'{indent}              - "{arn}"' for arn in principals),
                f"{indent}          Action: {_actions()}",
                f"{indent}          Resource: !GetAtt ReferralQueue{code}.Arn",
                ]
    out.append(f"{indent}{QUEUES_END}")
    return "\n".join(out) + "\n"


def arns_block(codes: list[str], indent: str) -> str:
    out = [f"{indent}{ARNS_BEGIN} (generated by `python -m infra.referral_queues`)"]
    out += [f"{indent}- !GetAtt ReferralQueue{code}.Arn" for code in codes]
    out.append(f"{indent}{ARNS_END}")
    return "\n".join(out) + "\n"


def outputs_block(codes: list[str], indent: str) -> str:
    out = [f"{indent}{OUTPUTS_BEGIN} (generated by `python -m infra.referral_queues`)"]
    for code in codes:
        out += [
            f"{indent}ReferralQueueUrl{code}:",
            f"{indent}  Description: Queue URL the {code} consumer polls",
            f"{indent}  Value: !Ref ReferralQueue{code}",
            f"{indent}ReferralConsumerPolicyArn{code}:",
            f"{indent}  Description: Managed policy to attach to the {code} consumer's role or user",
            f"{indent}  Value: !Ref ReferralConsumerPolicy{code}",
        ]
    out.append(f"{indent}{OUTPUTS_END}")
    return "\n".join(out) + "\n"


def _replace(text: str, begin: str, end: str, render) -> str:
    pattern = re.compile(rf"^([ \t]*){re.escape(begin)}.*?^[ \t]*{re.escape(end)}[^\n]*\n", re.MULTILINE | re.DOTALL)
    match = pattern.search(text)
    if match is None:
        raise SystemExit(f"template.yaml has no '{begin}' ... '{end}' section")
    return text[:match.start()] + render(match.group(1)) + text[match.end():]


def render_template(text: str, codes: list[str],
                    consumers: Mapping[str, Sequence[str]] | None = None) -> str:
    """``text`` with the generated sections rewritten for ``codes`` (and the cross-account
    ``consumers`` of :func:`load_consumers`; none when not given)."""
    text = _replace(text, QUEUES_BEGIN, QUEUES_END, lambda indent: queues_block(codes, indent, consumers))
    text = _replace(text, ARNS_BEGIN, ARNS_END, lambda indent: arns_block(codes, indent))
    return _replace(text, OUTPUTS_BEGIN, OUTPUTS_END, lambda indent: outputs_block(codes, indent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--consumers", type=Path, default=CONSUMERS_FILE,
                        help="cross-account consumers: {CODE: [account id or role ARN, ...]}")
    parser.add_argument("--check", action="store_true", help="exit 1 if the template is out of date")
    args = parser.parse_args(argv)
    current = args.template.read_text(encoding="utf-8")
    known = codes()
    wanted = render_template(current, known, load_consumers(known, args.consumers))
    return write_or_check(args.template, current, wanted, check=args.check, what="referral queues",
                          module="infra.referral_queues",
                          done=f"referral queues rewritten for {len(known)} institutes")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
