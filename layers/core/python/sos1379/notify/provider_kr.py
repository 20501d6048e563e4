"""A domestic Korean notification provider over HTTP: KakaoTalk AlimTalk first, SMS/LMS fallback.

The request shapes follow NHN Cloud Notification (AlimTalk ``/alimtalk/v2.3/appkeys/{appKey}/messages``
with ``templateCode``, ``recipientList[].templateParameter``, ``buttons`` and ``resendParameter``;
SMS ``/sms/v3.0/appKeys/{appKey}/sender/sms`` and LMS ``.../sender/mms`` from a registered
``sendNo``); the government cloud editions (NCP SENS: ``useSmsFailover`` + ``failoverConfig``)
carry the same information. ``infra/standins/messaging.py`` serves these shapes locally.

One ``send`` is ONE delivery, whatever route it takes:

1. AlimTalk with the approved template code, variables and buttons, and provider-side failover
   (``resendParameter``: LMS/SMS with subject and content) for failures the provider only learns
   after accepting (the recipient's phone, later);
2. when AlimTalk is refused at once — the recipient is not a KakaoTalk user (Kakao 3018), the
   text does not match the approved template (3016) or the template is unknown (3015), the
   provider answers 5xx/429, or the connection never reached it — the same news goes by SMS (fits
   90 bytes EUC-KR) or LMS (with the subject) through the SMS API, and the result records the
   route and the fallback reason.

A refused AlimTalk was not accepted, so the provider will not fail it over itself: falling back
here cannot produce a second notice. A read timeout is different: the provider may have accepted
the AlimTalk (and would fail it over itself), so nothing more is sent; the error propagates as
ambiguous and the notifier keeps its claim (at most once, docs/notifications.md).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from .channels import PermanentSendError, SendResult, TextMessage, TransientSendError

ALIMTALK_REASONS = {3015: "template_not_found", 3016: "template_mismatch", 3018: "not_kakao_user"}
# SMS API result codes that will not change on a retry (bad or blocked number, unregistered sender)
SMS_PERMANENT = {-2003: "invalid_recipient", -2004: "recipient_blocked", -2008: "sender_not_registered"}


class ProviderTimeout(Exception):
    """The request went out and no answer came: the provider may have accepted it."""

    def __init__(self, provider: str, stage: str) -> None:
        super().__init__(f"{provider}: timeout during {stage}")
        self.provider = provider
        self.stage = stage


@dataclass(frozen=True)
class ProviderCredentials:
    app_key: str
    secret_key: str
    sender_key: str  # the Kakao channel's sender key (AlimTalk 발신 프로필)


def credentials_from(env: dict, parameter: str, fetch: Callable[[str], dict] | None = None) -> ProviderCredentials:
    """Locally the environment (NOTIFY_PROVIDER_APP_KEY/_SECRET_KEY/_SENDER_KEY); in AWS an SSM
    SecureString parameter with JSON {app_key, secret_key, sender_key}, through Powertools
    Parameters (decrypted, cached for 5 minutes, so a rotated secret is picked up)."""
    if env.get("NOTIFY_PROVIDER_APP_KEY"):
        return ProviderCredentials(env["NOTIFY_PROVIDER_APP_KEY"], env.get("NOTIFY_PROVIDER_SECRET_KEY", ""),
                                   env.get("NOTIFY_PROVIDER_SENDER_KEY", ""))
    if not parameter:
        raise TransientSendError("provider_credentials_missing", "kr_http")
    if fetch is None:
        from aws_lambda_powertools.utilities import parameters

        def fetch(name: str) -> dict:
            return parameters.get_parameter(name, decrypt=True, transform="json", max_age=300)

    try:
        raw = fetch(parameter)
    except Exception as exc:  # noqa: BLE001 - a missing/denied parameter is an operator fix: retry later
        raise TransientSendError("provider_credentials_unavailable", "kr_http") from exc
    return ProviderCredentials(str(raw.get("app_key", "")), str(raw.get("secret_key", "")),
                               str(raw.get("sender_key", "")))


def domestic_number(e164: str) -> str:
    """+821012345678 -> 01012345678. A non-Korean number cannot go through a domestic provider."""
    digits = "".join(c for c in e164 if c.isdigit() or c == "+")
    if not digits.startswith("+82"):
        raise PermanentSendError("not_a_korean_number", "kr_http")
    return "0" + digits[3:]


class KrHttpTextSender:
    name = "kr_http"

    def __init__(self, base_url: str, credentials: Callable[[], ProviderCredentials], sender_number: str,
                 timeout: float = 5.0, pool=None) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self.sender_number = sender_number
        self.timeout = timeout
        self._pool = pool

    @classmethod
    def from_settings(cls, settings) -> "KrHttpTextSender":
        import os

        return cls(settings.provider_url,
                   lambda: credentials_from(dict(os.environ), settings.provider_secret_parameter),
                   settings.sms_sender_number, settings.provider_timeout_seconds)

    # --- HTTP --------------------------------------------------------------------------------------
    @property
    def pool(self):
        if self._pool is None:
            self._pool = _pool(self.timeout)
        return self._pool

    def _post(self, path: str, body: dict, creds: ProviderCredentials, stage: str) -> tuple[int, dict]:
        """(HTTP status, parsed body). Connection never made -> (0, {}); read timeout -> ProviderTimeout."""
        import urllib3

        if not self.base_url:
            raise TransientSendError("provider_not_configured", self.name)
        try:
            response = self.pool.request(
                "POST", self.base_url + path, body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json;charset=UTF-8", "X-Secret-Key": creds.secret_key})
        except (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.NewConnectionError):
            return 0, {}
        except urllib3.exceptions.MaxRetryError as exc:
            if isinstance(exc.reason, (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.NewConnectionError)):
                return 0, {}
            raise ProviderTimeout(self.name, stage) from exc
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError) as exc:
            raise ProviderTimeout(self.name, stage) from exc
        try:
            parsed = json.loads(response.data.decode("utf-8")) if response.data else {}
        except ValueError:
            parsed = {}
        return response.status, parsed if isinstance(parsed, dict) else {}

    # --- one delivery ------------------------------------------------------------------------------
    def send(self, message: TextMessage) -> SendResult:
        creds = self._credentials()
        recipient = domestic_number(message.recipient)
        outcome = self._alimtalk(message, recipient, creds)
        if isinstance(outcome, SendResult):
            return outcome
        return self._text(message, recipient, creds, fallback_reason=outcome)

    def _alimtalk(self, message: TextMessage, recipient: str, creds: ProviderCredentials) -> SendResult | str:
        """The AlimTalk result, or the reason to fall back to a text message."""
        resend = {"isResend": True, "resendType": message.text_kind.upper(), "resendContent": message.text,
                  "resendSendNo": self.sender_number}
        if message.text_kind == "lms":
            resend["resendTitle"] = message.subject
        body = {"senderKey": creds.sender_key, "templateCode": message.alimtalk_code,
                "recipientList": [{
                    "recipientNo": recipient, "content": message.alimtalk_text,
                    "templateParameter": dict(message.template_parameter),
                    "buttons": [{"ordering": i + 1, "type": b.type, "name": b.name, "linkMo": b.mobile,
                                 "linkPc": b.pc} for i, b in enumerate(message.buttons)],
                    "resendParameter": resend, "recipientGroupingKey": message.reference}]}
        status, answer = self._post(f"/alimtalk/v2.3/appkeys/{creds.app_key}/messages", body, creds, "alimtalk")
        if status == 0:
            return "alimtalk_unreachable"
        if status == 429:
            return "provider_429"
        if status >= 500:
            return "provider_5xx"
        header = answer.get("header") or {}
        if status in (401, 403) or header.get("resultCode") in (-1000, -1001):
            # credentials: the SMS API would refuse them too; an operator fixes it, then SQS retries
            raise TransientSendError("provider_unauthorized", self.name)
        results = (answer.get("message") or {}).get("sendResults") or []
        if status == 200 and header.get("isSuccessful") and results:
            code = int(results[0].get("resultCode", -1))
            if code == 0:
                request_id = (answer.get("message") or {}).get("requestId", "")
                return SendResult(self.name, f"{request_id}:{results[0].get('recipientSeq', 1)}", route="alimtalk")
            return ALIMTALK_REASONS.get(code, f"alimtalk_{code}")
        return f"alimtalk_http_{status}" if status != 200 else f"alimtalk_{header.get('resultCode', 'unknown')}"

    def _text(self, message: TextMessage, recipient: str, creds: ProviderCredentials,
              fallback_reason: str) -> SendResult:
        kind = message.text_kind
        body = {"body": message.text, "sendNo": self.sender_number, "recipientList": [{"recipientNo": recipient}],
                "senderGroupingKey": message.reference or uuid.uuid4().hex}
        if kind == "lms":
            body["title"] = message.subject
        path = f"/sms/v3.0/appKeys/{creds.app_key}/sender/" + ("mms" if kind == "lms" else "sms")
        status, answer = self._post(path, body, creds, kind)
        if status == 0 or status == 429 or status >= 500:
            raise TransientSendError(f"{kind}_unavailable" if status else f"{kind}_unreachable", self.name)
        header = answer.get("header") or {}
        if status in (401, 403) or header.get("resultCode") in (-1000, -1001):
            raise TransientSendError("provider_unauthorized", self.name)
        results = ((answer.get("body") or {}).get("data") or {}).get("sendResultList") or []
        if status == 200 and header.get("isSuccessful") and results and int(results[0].get("resultCode", -1)) == 0:
            request_id = ((answer.get("body") or {}).get("data") or {}).get("requestId", "")
            return SendResult(self.name, f"{request_id}:{results[0].get('recipientSeq', 1)}", route=kind,
                              fallback_reason=fallback_reason)
        code = int(results[0].get("resultCode", 0)) if results else int(header.get("resultCode") or 0)
        if code in SMS_PERMANENT:
            raise PermanentSendError(SMS_PERMANENT[code], self.name)
        if 400 <= status < 500:
            raise PermanentSendError(f"{kind}_rejected_{code or status}", self.name)
        raise TransientSendError(f"{kind}_failed_{code}", self.name)


@lru_cache(maxsize=4)
def _pool(timeout: float):
    import urllib3

    # retries off: a retried POST could send twice; SQS redelivery is the retry
    return urllib3.PoolManager(maxsize=10, retries=False, timeout=urllib3.Timeout(connect=3.0, read=timeout))
