"""Local stack: verify the SES sender identity of template.yaml's ``NotifySenderIdentity``.

moto's CloudFormation does not implement ``AWS::SES::EmailIdentity`` (it skips it), so the seed
creates the sender the template declares (NOTIFY_SENDER_EMAIL, from the NotifySenderEmail
parameter that NotifySenderIdentity uses). moto marks a created identity verified; without it SES answers
MessageRejected. SNS SMS needs no setup in moto. Idempotent."""
from __future__ import annotations


def seed(stack) -> None:
    # NOTIFY_SENDER_EMAIL is !Ref NotifySenderEmail, the parameter NotifySenderIdentity declares:
    # reading it from the resolved function environment avoids re-parsing template.yaml (~1 s).
    identities = {stack.env["NOTIFY_SENDER_EMAIL"]} if (stack.env or {}).get("NOTIFY_SENDER_EMAIL") else set()
    for fn in (stack.functions or {}).values():
        sender = (fn.get("env") or {}).get("NOTIFY_SENDER_EMAIL")
        if sender:
            identities.add(sender)
    if not identities:
        return
    ses = stack.client("sesv2")
    existing = {i["IdentityName"] for i in ses.list_email_identities().get("EmailIdentities", [])}
    for identity in sorted(identities - existing):
        ses.create_email_identity(EmailIdentity=identity)
