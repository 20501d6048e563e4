"""Local stack: verify the SES sender identity of template.yaml's ``NotifySenderIdentity``.

moto's CloudFormation does not implement ``AWS::SES::EmailIdentity`` (it skips it), so the seed
creates the sender the template declares (NOTIFY_SENDER_EMAIL, from the NotifySenderEmail
parameter that NotifySenderIdentity uses). moto marks a created identity verified; without it SES answers
MessageRejected. SNS SMS needs no setup in moto. Idempotent."""
from __future__ import annotations

import json


def _provider_credentials(stack) -> None:
    """The domestic provider's credentials in the secret store, as in AWS: an SSM SecureString
    (NotifyProviderSecretParameter) holding the stand-in provider's keys."""
    from infra.standins.messaging import MessagingStandin

    names = {(fn.get("env") or {}).get("NOTIFY_PROVIDER_SECRET_PARAMETER") for fn in (stack.functions or {}).values()}
    for name in sorted(n for n in names if n):
        stack.client("ssm").put_parameter(Name=name, Type="SecureString", Overwrite=True,
                                          Value=json.dumps(MessagingStandin.credentials()))


def seed(stack) -> None:
    _provider_credentials(stack)
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
