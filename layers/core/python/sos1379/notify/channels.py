"""Channel adapters behind two small protocols, so a Korean SMS or KakaoTalk AlimTalk gateway can
replace SNS / SES later without touching the consumer.

Every adapter turns provider failures into one of three typed outcomes:

- ``PermanentSendError``: the provider refused this message for good (invalid number, opted out,
  rejected sender or address). Recorded, never retried.
- ``TransientSendError``: the provider did not take the message and may later (throttling, 5xx,
  a connection that never reached it, missing permission that an operator can fix). Raised so SQS
  retries with backoff; what keeps failing ends in the DLQ for ``sos1379 dlq redrive``.
- anything else (a read timeout, a dropped connection after the request went out): the provider
  may or may not have accepted it. The consumer keeps its "sending" claim so a retry does not
  send again (at most once for that narrow window; see docs/notifications.md).

Provider clients are created with botocore retries OFF: botocore's standard mode retries read
timeouts, which would resend an SMS the provider may already have accepted. SQS redelivery is the
retry, after the idempotency checks."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from ..settings import get_settings


@dataclass(frozen=True)
class SendResult:
    provider: str
    message_id: str
    route: str = ""            # how it went: alimtalk | sms | lms | email
    fallback_reason: str = ""  # why it is not an AlimTalk (not_kakao_user, template_mismatch, provider_5xx, ...)


@dataclass(frozen=True)
class TextMessage:
    """One phone notification, ready for any text provider: the AlimTalk form (approved template
    code, its text and variables, buttons) and the SMS/LMS fallback form of the same news."""

    recipient: str                      # E.164, +82...
    alimtalk_code: str
    alimtalk_text: str
    template_parameter: dict
    buttons: tuple                      # templates.Button
    text_kind: str                      # sms | lms
    text: str
    subject: str = ""                   # LMS subject
    reference: str = ""                 # case:event (the provider's grouping key, for tracing)


class SendError(Exception):
    def __init__(self, code: str, provider: str) -> None:
        super().__init__(f"{provider}: {code}")
        self.code = code
        self.provider = provider


class PermanentSendError(SendError):
    """The provider refused the message for good."""


class TransientSendError(SendError):
    """The provider did not take the message; trying again later may work."""


class SmsSender(Protocol):
    name: str

    def send_sms(self, phone_e164: str, text: str) -> SendResult: ...


class TextSender(Protocol):
    """What the notifier calls for the phone channel: one ``send`` per notification. A provider
    that falls back from AlimTalk to SMS/LMS does it inside this one call (one delivery)."""

    name: str

    def send(self, message: TextMessage) -> SendResult: ...


class EmailSender(Protocol):
    name: str

    def send_email(self, to: str, subject: str, body: str) -> SendResult: ...


PERMANENT_CODES = frozenset({
    # SNS
    "InvalidParameter", "InvalidParameterValue", "EndpointDisabled", "OptedOut", "OptedOutException",
    # SES v2
    "MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException", "NotFoundException",
    "AccountSuspendedException",
    # End User Messaging SMS (sms-voice v2): ValidationException covers invalid destination numbers;
    # ConflictException is raised for opted-out destinations.
    "ValidationException", "ConflictException",
})
TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
    "LimitExceededException", "SendingPausedException", "InternalError", "InternalFailure",
    "InternalServerException", "InternalServerError", "ServiceUnavailable", "ServiceUnavailableException",
    "KMSThrottlingException", "RequestTimeout", "RequestTimeoutException",
    # configuration an operator fixes, after which the DLQ is redriven
    "AuthorizationError", "AccessDenied", "AccessDeniedException", "KMSDisabledException",
})


def classify(exc: Exception, provider: str) -> Exception:
    """Map a botocore exception to PermanentSendError / TransientSendError, or return it unchanged
    when it is ambiguous (the request may have reached the provider)."""
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

    if isinstance(exc, ClientError):
        from ..errors import aws_error_code

        code = aws_error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in PERMANENT_CODES:
            return PermanentSendError(code, provider)
        if code in TRANSIENT_CODES or status >= 500 or status == 429:
            return TransientSendError(code or str(status), provider)
        if 400 <= status < 500:
            return PermanentSendError(code or str(status), provider)
        return TransientSendError(code or "unknown", provider)
    # The request never left: safe to retry.
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return TransientSendError(type(exc).__name__, provider)
    return exc


def call_provider(provider: str, send: Callable[..., dict], configuration_set: str = "", **kwargs) -> str:
    """Call an AWS provider's send operation (in ``configuration_set`` when one is set) and return
    its message id; its failures come out classified (:func:`classify`)."""
    if configuration_set:
        kwargs["ConfigurationSetName"] = configuration_set
    try:
        return send(**kwargs)["MessageId"]
    except Exception as exc:  # noqa: BLE001 - classified, re-raised
        raise classify(exc, provider) from exc


@lru_cache(maxsize=None)
def provider_client(service: str):
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=10)
    return boto3.session.Session().client(service, region_name=get_settings().region, config=config)


class SnsSmsSender:
    """SMS through SNS Publish to a phone number (what moto and the local stack support).

    In AWS, sns:Publish to a phone number cannot be scoped to a resource (it needs "*"), so the
    template uses End User Messaging SMS (``SmsVoiceSender``) there."""

    name = "sns"

    def __init__(self, client=None, sender_id: str = "") -> None:
        self._client = client
        self.sender_id = sender_id

    def send_sms(self, phone_e164: str, text: str) -> SendResult:
        client = self._client or provider_client("sns")
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        message_id = call_provider(self.name, client.publish, PhoneNumber=phone_e164, Message=text,
                                   MessageAttributes=attributes)
        return SendResult(self.name, message_id, route="sms")

    def send(self, message: TextMessage) -> SendResult:
        # No AlimTalk and no LMS here: the whole text goes as a (multi-part) SMS.
        return self.send_sms(message.recipient, message.text)


class SmsVoiceSender:
    """SMS through AWS End User Messaging SMS (``pinpoint-sms-voice-v2`` SendTextMessage) from a
    phone pool or registered origination number: IAM can scope it to that identity's ARN."""

    name = "sms-voice"

    def __init__(self, origination_identity: str, configuration_set: str = "", client=None) -> None:
        self.origination_identity = origination_identity
        self.configuration_set = configuration_set
        self._client = client

    def send_sms(self, phone_e164: str, text: str) -> SendResult:
        client = self._client or provider_client("pinpoint-sms-voice-v2")
        message_id = call_provider(self.name, client.send_text_message, self.configuration_set,
                                   DestinationPhoneNumber=phone_e164, OriginationIdentity=self.origination_identity,
                                   MessageBody=text, MessageType="TRANSACTIONAL")
        return SendResult(self.name, message_id, route="sms")

    def send(self, message: TextMessage) -> SendResult:
        return self.send_sms(message.recipient, message.text)


class SesEmailSender:
    """Email through SES v2 SendEmail from the verified sender identity (NOTIFY_SENDER_EMAIL)."""

    name = "ses"

    def __init__(self, sender: str, configuration_set: str = "", client=None) -> None:
        self.sender = sender
        self.configuration_set = configuration_set
        self._client = client

    def send_email(self, to: str, subject: str, body: str) -> SendResult:
        client = self._client or provider_client("sesv2")
        message_id = call_provider(self.name, client.send_email, self.configuration_set, FromEmailAddress=self.sender,
                                   Destination={"ToAddresses": [to]},
                                   Content={"Simple": {"Subject": {"Data": subject, "Charset": "UTF-8"},
                                                       "Body": {"Text": {"Data": body, "Charset": "UTF-8"}}}})
        return SendResult(self.name, message_id, route="email")


def default_text_sender() -> TextSender:
    """The phone-channel provider chosen by configuration (NOTIFY_TEXT_PROVIDER):

    - ``kr_http``: a domestic provider over HTTP, AlimTalk first with SMS/LMS fallback
      (``provider_kr``). The template's default: messages from abroad arrive labelled [국제발신].
    - ``sms_voice``: AWS End User Messaging SMS from a phone pool (an option; no AlimTalk).
    - ``sns``: SNS Publish (moto and in-process tests; an international route for Korea).
    Unset: ``kr_http`` when NOTIFY_PROVIDER_URL is set, else ``sms_voice`` when a phone pool is
    set, else ``sns``."""
    settings = get_settings().notify
    provider = settings.text_provider or ("kr_http" if settings.provider_url else
                                          "sms_voice" if settings.sms_origination_identity else "sns")
    if provider == "kr_http":
        from .provider_kr import KrHttpTextSender

        return KrHttpTextSender.from_settings(settings)
    if provider == "sms_voice":
        return SmsVoiceSender(settings.sms_origination_identity, settings.sms_configuration_set)
    return SnsSmsSender(sender_id=settings.sms_sender_id)


default_sms_sender = default_text_sender  # the former name


def default_email_sender() -> EmailSender:
    settings = get_settings().notify
    return SesEmailSender(settings.sender_email, settings.email_configuration_set)
