"""Local stack: verify the SES sender identity of template.yaml's ``NotifySenderIdentity``.

moto's CloudFormation does not implement ``AWS::SES::EmailIdentity`` (it skips it), so the seed
creates what the template declares: every email identity resource, or, failing that, the
notifier's NOTIFY_SENDER_EMAIL. moto marks a created identity verified; without it SES answers
MessageRejected. SNS SMS needs no setup in moto. Idempotent."""
from __future__ import annotations


def _declared_identities(stack) -> set[str]:
    from infra.template import load_template

    names = set()
    template = load_template()
    params = {k: v.get("Default") for k, v in (template.get("Parameters") or {}).items()}
    for res in (template.get("Resources") or {}).values():
        if res.get("Type") != "AWS::SES::EmailIdentity":
            continue
        value = (res.get("Properties") or {}).get("EmailIdentity")
        if isinstance(value, dict) and "Ref" in value:
            value = params.get(value["Ref"])
        if isinstance(value, str) and value:
            names.add(value)
    return names


def seed(stack) -> None:
    identities = _declared_identities(stack)
    for logical_id, fn in (stack.functions or {}).items():
        sender = (fn.get("env") or {}).get("NOTIFY_SENDER_EMAIL")
        if sender:
            identities.add(sender)
    if not identities:
        return
    ses = stack.client("sesv2")
    existing = {i["IdentityName"] for i in ses.list_email_identities().get("EmailIdentities", [])}
    for identity in sorted(identities - existing):
        ses.create_email_identity(EmailIdentity=identity)
