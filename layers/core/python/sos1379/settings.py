"""Runtime configuration: the one settings object of the process, grouped by area.

Every module takes its configuration from :func:`get_settings` (handlers, the API, the CLI, the
domain services): the root holds what several areas share (the table, the queues, the region,
the public URL) and each area has its own group (``notify``, ``coordinators``, ``sla``,
``catalog``, ``routing``, ``limits``), so a module reads only its own area's settings (the SLA
pass reads ``sla``, not the coordinators' API settings).

Why a hand-rolled loader rather than pydantic-settings: the environment names are fixed by
template.yaml and the local stack (``CASES_TABLE``, ``NOTIFY_SENDER_EMAIL``, ...), so each field
names its variable with ``validation_alias`` and one small function reads the environment; an
empty variable counts as unset (template.yaml passes ``""`` for optional parameters).

Annotations are evaluated at class creation (no ``from __future__ import annotations``): pydantic
would otherwise compile each one from its string, which tripled the cost of importing this module
on every cold start. Nothing reads the environment at import time; the object is built on first use and cached for
the life of the process (a Lambda execution environment). Tests either change variables and call
``get_settings.cache_clear()``, or build an object directly (``Settings(cases_table="t")``, fields
by name) and install it for a block with :func:`override`."""
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Catalog sources whose base URL is configured by ``CATALOG_SOURCE_{NAME}_URL``.
CATALOG_SOURCES = ("zeus", "ntis", "patents", "library")

#: Issuer of development tokens (``sos1379 token``). Accepted only when a dev secret is configured,
#: which template.yaml leaves empty in AWS and the local stack fills with a per-stack secret.
DEV_ISSUER = "sos1379-local-dev"


def _env(name: str, default: Any, *more: str) -> Any:
    """A field read from ``name`` (or, failing that, from the ``more`` names, in order)."""
    from pydantic import AliasChoices

    alias = AliasChoices(name, *more) if more else name
    return Field(default, validation_alias=alias)


class _Group(BaseModel):
    # defer_build: the validators are built on first use, not on import (cold starts import this
    # module on every path; about 60 fields cost ~5 ms of CPU to build)
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str]):
        return cls.model_validate({k: v for k, v in env.items() if v})


class NotifySettings(_Group):
    """The SME notifications (sos1379.notify)."""

    sender_email: str = _env("NOTIFY_SENDER_EMAIL", "no-reply@sos1379.example.kr")
    # SNS SMS sender id (ignored by carriers in Korea, where numbers must be pre-registered).
    sms_sender_id: str = _env("NOTIFY_SMS_SENDER_ID", "")
    # AWS End User Messaging SMS phone pool / origination identity ARN. When set, SMS goes through
    # sms-voice:SendTextMessage (scopable in IAM); when empty, through SNS Publish (local stack).
    sms_origination_identity: str = _env("NOTIFY_SMS_ORIGINATION_IDENTITY", "")
    sms_configuration_set: str = _env("NOTIFY_SMS_CONFIGURATION_SET", "")
    email_configuration_set: str = _env("NOTIFY_EMAIL_CONFIGURATION_SET", "")
    # Phone channel provider: kr_http | sms_voice | sns ("" picks one, see channels.default_text_sender)
    text_provider: str = _env("NOTIFY_TEXT_PROVIDER", "")
    # Domestic provider (kr_http): API base URL, the registered sender number (발신번호 사전등록),
    # and where its credentials are: an SSM SecureString parameter holding JSON
    # {"app_key", "secret_key", "sender_key"} (read with Powertools Parameters, cached 5 min), or,
    # locally, NOTIFY_PROVIDER_APP_KEY / _SECRET_KEY / _SENDER_KEY in the environment.
    provider_url: str = _env("NOTIFY_PROVIDER_URL", "")
    provider_secret_parameter: str = _env("NOTIFY_PROVIDER_SECRET_PARAMETER", "")
    sms_sender_number: str = _env("NOTIFY_SMS_SENDER_NUMBER", "1379")
    provider_timeout_seconds: float = _env("NOTIFY_PROVIDER_TIMEOUT_SECONDS", 5.0)
    quiet_start_hour: int = _env("NOTIFY_QUIET_START_HOUR", 21)
    quiet_end_hour: int = _env("NOTIFY_QUIET_END_HOUR", 8)
    # SQS DelaySeconds is at most 900: a deferred message hops in chunks of this size.
    defer_chunk_seconds: int = _env("NOTIFY_DEFER_CHUNK_SECONDS", 900)
    link_ttl_days: int = 400
    # a "sending" claim older than this was left by a dead execution (> the function timeout, 30 s)
    claim_timeout_seconds: int = 90
    idempotency_expiry_seconds: int = 7 * 24 * 3600


class CoordinatorSettings(_Group):
    """The coordinator API, the staff console's sign-in and the monthly report."""

    reports_bucket: str = _env("REPORTS_BUCKET", "")
    jwt_issuer: str = _env("COORDINATOR_JWT_ISSUER", "")    # Cognito: https://cognito-idp.{region}.amazonaws.com/{pool id}
    jwks_url: str = _env("COORDINATOR_JWKS_URL", "")        # default: {jwt_issuer}/.well-known/jwks.json
    # the Cognito app client ids (API client, staff console client), comma-separated
    jwt_audience: str = _env("COORDINATOR_JWT_AUDIENCE", "")
    console_client_id: str = _env("STAFF_CONSOLE_CLIENT_ID", "")  # the staff console's public app client (PKCE)
    # hosted UI base URL, e.g. https://sos1379-staff.auth.ap-northeast-2.amazoncognito.com
    cognito_domain: str = _env("STAFF_COGNITO_DOMAIN", "")
    local_stack: bool = _env("SOS1379_LOCAL_STACK", False)   # set by the local stack only (dev login)
    dev_jwt_secret: str = _env("COORDINATOR_DEV_JWT_SECRET", "")  # HS256 secret of the local dev issuer
    queue_new_after_minutes: int = _env("QUEUE_NEW_AFTER_MINUTES", 30)  # "received" longer: shown in the queue


class SlaSettings(_Group):
    """The scheduled SLA pass (sos1379.sla): where its alerts go."""

    alerts_topic_arn: str = _env("COORDINATOR_ALERTS_TOPIC_ARN", "")


class CatalogSettings(_Group):
    """The catalog (sos1379.catalog, sos1379.equipment). The source API keys are secrets: in AWS an
    SSM SecureString (sos1379.runtime_secrets); locally these variables win."""

    table: str = _env("CATALOG_TABLE", "sos1379-catalog")
    bucket: str = _env("CATALOG_BUCKET", "")
    source_urls: dict[str, str] = Field(default_factory=dict)
    zeus_key: str = _env("CATALOG_SOURCE_ZEUS_KEY", "")
    ntis_key: str = _env("CATALOG_SOURCE_NTIS_KEY", "")
    index_refresh_seconds: int = _env("CATALOG_INDEX_REFRESH_SECONDS", 300)
    scratch_dir: str = _env("CATALOG_SCRATCH_DIR", "")  # "" = the system temp dir

    @model_validator(mode="before")
    @classmethod
    def _source_urls(cls, values: Any) -> Any:
        if isinstance(values, Mapping) and "source_urls" not in values:
            urls = {s: values[f"CATALOG_SOURCE_{s.upper()}_URL"] for s in CATALOG_SOURCES
                    if values.get(f"CATALOG_SOURCE_{s.upper()}_URL")}
            if urls:
                return {**values, "source_urls": urls}
        return values


class RoutingSettings(_Group):
    """The router's data and published model (sos1379.routing); the ``*_dir``/``*_path`` fields
    override the data shipped in the package ("" = the package's own)."""

    model_bucket: str = _env("ROUTER_MODEL_BUCKET", "", "CATALOG_BUCKET")
    model_refresh_seconds: float = _env("ROUTER_MODEL_REFRESH_SECONDS", 300.0)
    knowledge_dir: str = _env("SOS1379_KNOWLEDGE_DIR", "")
    lexicon_path: str = _env("SOS1379_LEXICON_PATH", "")
    profiles_dir: str = _env("SOS1379_PROFILES_DIR", "")
    data_dir: str = _env("SOS1379_DATA_DIR", "")
    kiwi_model_s3_uri: str = _env("KIWI_MODEL_S3_URI", "")
    kiwi_model_dir: str = _env("KIWI_MODEL_DIR", "/tmp/kiwi-model")


class LimitSettings(_Group):
    """Abuse limits. The ``SOS1379_*`` names are an operator's or a test run's override of the
    template's values (``off`` disables the rate limits, e.g. for a load test from one address)."""

    rate_limits: str = _env("SOS1379_RATE_LIMITS", "", "RATE_LIMITS")
    recipient_daily_cap: int = _env("SOS1379_NOTIFY_RECIPIENT_DAILY_CAP", 0, "NOTIFY_RECIPIENT_DAILY_CAP")
    verify_contacts: str = _env("SOS1379_NOTIFY_VERIFY_CONTACTS", "off", "NOTIFY_VERIFY_CONTACTS")


class Settings(_Group):
    """The process's configuration: shared resources at the root, one group per area."""

    cases_table: str = _env("CASES_TABLE", "sos1379-cases")
    idempotency_table: str = _env("IDEMPOTENCY_TABLE", "sos1379-idempotency")
    intake_queue_url: str = _env("INTAKE_QUEUE_URL", "")
    notify_queue_url: str = _env("NOTIFY_QUEUE_URL", "")
    referral_queue_prefix: str = _env("REFERRAL_QUEUE_PREFIX", "sos1379-referrals-")
    handoff_queue_prefix: str = _env("HANDOFF_QUEUE_PREFIX", "sos1379-handoff-")
    public_base_url: str = _env("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    region: str = _env("AWS_DEFAULT_REGION", "ap-northeast-2")
    idempotency_ttl_seconds: int = 24 * 3600
    attachments_bucket: str = _env("ATTACHMENTS_BUCKET", "")

    notify: NotifySettings = Field(default_factory=NotifySettings)
    coordinators: CoordinatorSettings = Field(default_factory=CoordinatorSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Settings":
        present = {k: v for k, v in env.items() if v and k not in cls.model_fields}
        groups = {name: field.annotation.from_env(present) for name, field in cls.model_fields.items()
                  if isinstance(field.annotation, type) and issubclass(field.annotation, _Group)}
        return cls.model_validate({**present, **groups})


_current: Settings | None = None


def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    global _current
    current = _current
    if current is None:
        current = _current = Settings.from_env(os.environ)
    return current


def _forget() -> None:
    global _current
    _current = None


#: ``get_settings.cache_clear()``: read the environment again on next use (tests, the CLI after
#: pointing the environment at a stack).
get_settings.cache_clear = _forget  # type: ignore[attr-defined]


@contextmanager
def override(settings: Settings | None = None, **changes: Any) -> Iterator[Settings]:
    """Install ``settings`` (or the current ones with ``changes``; a group is given as a whole
    object or as a dict of the fields to change) as the process's settings for the block."""
    global _current
    base = settings or get_settings()
    if changes:
        merged = {k: (getattr(base, k).model_copy(update=v) if isinstance(v, dict) else v) for k, v in changes.items()}
        base = base.model_copy(update=merged)
    saved, _current = _current, base
    try:
        yield base
    finally:
        _current = saved
