"""Notification settings from the environment, behind a cached getter (nothing read at import)."""
from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel


class NotifySettings(BaseModel):
    sender_email: str = "no-reply@sos1379.example.kr"
    # SNS SMS sender id (ignored by carriers in Korea, where numbers must be pre-registered).
    sms_sender_id: str = ""
    # AWS End User Messaging SMS phone pool / origination identity ARN. When set, SMS goes through
    # sms-voice:SendTextMessage (scopable in IAM); when empty, through SNS Publish (local stack).
    sms_origination_identity: str = ""
    sms_configuration_set: str = ""
    email_configuration_set: str = ""
    # Phone channel provider: kr_http | sms_voice | sns ("" picks one, see channels.default_text_sender)
    text_provider: str = ""
    # Domestic provider (kr_http): API base URL, the registered sender number (발신번호 사전등록),
    # and where its credentials are: an SSM SecureString parameter holding JSON
    # {"app_key", "secret_key", "sender_key"} (read with Powertools Parameters, cached 5 min), or,
    # locally, NOTIFY_PROVIDER_APP_KEY / _SECRET_KEY / _SENDER_KEY in the environment.
    provider_url: str = ""
    provider_secret_parameter: str = ""
    sms_sender_number: str = "1379"
    provider_timeout_seconds: float = 5.0
    quiet_start_hour: int = 21
    quiet_end_hour: int = 8
    # SQS DelaySeconds is at most 900: a deferred message hops in chunks of this size.
    defer_chunk_seconds: int = 900
    link_ttl_days: int = 400
    # a "sending" claim older than this was left by a dead execution (> the function timeout, 30 s)
    claim_timeout_seconds: int = 90
    idempotency_expiry_seconds: int = 7 * 24 * 3600


_ENV = {
    "sender_email": "NOTIFY_SENDER_EMAIL",
    "sms_sender_id": "NOTIFY_SMS_SENDER_ID",
    "sms_origination_identity": "NOTIFY_SMS_ORIGINATION_IDENTITY",
    "sms_configuration_set": "NOTIFY_SMS_CONFIGURATION_SET",
    "email_configuration_set": "NOTIFY_EMAIL_CONFIGURATION_SET",
    "text_provider": "NOTIFY_TEXT_PROVIDER",
    "provider_url": "NOTIFY_PROVIDER_URL",
    "provider_secret_parameter": "NOTIFY_PROVIDER_SECRET_PARAMETER",
    "sms_sender_number": "NOTIFY_SMS_SENDER_NUMBER",
    "provider_timeout_seconds": "NOTIFY_PROVIDER_TIMEOUT_SECONDS",
    "quiet_start_hour": "NOTIFY_QUIET_START_HOUR",
    "quiet_end_hour": "NOTIFY_QUIET_END_HOUR",
    "defer_chunk_seconds": "NOTIFY_DEFER_CHUNK_SECONDS",
}


@lru_cache(maxsize=1)
def get_notify_settings() -> NotifySettings:
    return NotifySettings(**{f: os.environ[e] for f, e in _ENV.items() if os.environ.get(e)})
