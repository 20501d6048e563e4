"""Runtime configuration: the one settings object of the process, grouped by area.

Every module takes its configuration from :func:`get_settings` (handlers, the API, the CLI, the
domain services): the root holds what several areas share (the table, the queues, the region,
the public URL) and each area has its own group (``notify``, ``coordinators``, ``sla``,
``catalog``, ``routing``, ``limits``), so a module reads only its own area's settings (the SLA
pass reads ``sla``, not the coordinators' API settings).

Why frozen dataclasses and a small loader rather than pydantic(-settings): every Lambda function
and the API import this module on their cold start, and most of them (the outbox relay, the
scheduled passes) use no other pydantic model: a pydantic settings model alone made them import
pydantic (about 0.3x a bare ``import boto3``). The variables are plain strings, integers, numbers
and switches whose names are fixed by template.yaml and the local stack (``CASES_TABLE``,
``NOTIFY_SENDER_EMAIL``, ...), so each field names its variable (``_env``) and
``_Group.from_env`` converts by the field's type; an empty variable counts as unset (template.yaml
passes ``""`` for optional parameters) and a value of the wrong type raises ``SettingsError``
naming the variable (never the value).

Nothing reads the environment at import time; the object is built on first use and cached for
the life of the process (a Lambda execution environment). Tests either change variables and call
``get_settings.cache_clear()``, or build an object directly (``Settings(cases_table="t")``, fields
by name) and install it for a block with :func:`override`."""
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any

#: Catalog sources whose base URL is configured by ``CATALOG_SOURCE_{NAME}_URL``.
CATALOG_SOURCES = ("zeus", "ntis", "patents", "library")

#: Issuer of development tokens (``sos1379 token``). Accepted only when a dev secret is configured,
#: which template.yaml leaves empty in AWS and the local stack fills with a per-stack secret.
DEV_ISSUER = "sos1379-local-dev"

# what pydantic accepted for a bool, so existing stacks' values keep their meaning
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


class SettingsError(ValueError):
    """A configuration variable holds a value its field cannot take."""


def _env(name: str, default: Any, *more: str) -> Any:
    """A field read from ``name`` (or, failing that, from the ``more`` names, in order)."""
    return field(default=default, metadata={"env": (name, *more)})


def _convert(kind: type, name: str, raw: str) -> Any:
    if kind is str:
        return raw
    value = raw.strip()
    if kind is bool:
        if value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
    else:
        try:
            return kind(value)
        except ValueError:
            pass
    # the name and the expected kind, not the value (a mistyped secret must not reach the logs)
    raise SettingsError(f"{name}: expected {'a switch (true/false)' if kind is bool else kind.__name__}")


def _is_group(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, _Group)


class _Group:
    @classmethod
    def from_env(cls, env: Mapping[str, str]):
        """This group read from ``env``: the first non-empty variable of each field, converted to
        the field's type; a group field is read as a whole group."""
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if _is_group(f.type):
                values[f.name] = f.type.from_env(env)
                continue
            name = next((n for n in f.metadata.get("env", ()) if env.get(n)), None)
            if name is not None:
                values[f.name] = _convert(f.type, name, env[name])
        return cls(**values)


def _group(cls):
    # frozen: a module cannot change the process's settings; kw_only: fields by name only
    return dataclass(frozen=True, kw_only=True)(cls)


@_group
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


@_group
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


@_group
class SlaSettings(_Group):
    """The scheduled SLA pass (sos1379.sla): where its alerts go."""

    alerts_topic_arn: str = _env("COORDINATOR_ALERTS_TOPIC_ARN", "")


@_group
class CatalogSettings(_Group):
    """The catalog (sos1379.catalog, sos1379.equipment). The source API keys are secrets: in AWS an
    SSM SecureString (sos1379.runtime_secrets); locally these variables win."""

    table: str = _env("CATALOG_TABLE", "sos1379-catalog")
    bucket: str = _env("CATALOG_BUCKET", "")
    source_urls: dict[str, str] = field(default_factory=dict)
    zeus_key: str = _env("CATALOG_SOURCE_ZEUS_KEY", "")
    ntis_key: str = _env("CATALOG_SOURCE_NTIS_KEY", "")
    index_refresh_seconds: int = _env("CATALOG_INDEX_REFRESH_SECONDS", 300)
    scratch_dir: str = _env("CATALOG_SCRATCH_DIR", "")  # "" = the system temp dir

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "CatalogSettings":
        loaded = super().from_env(env)
        urls = {s: env[f"CATALOG_SOURCE_{s.upper()}_URL"] for s in CATALOG_SOURCES
                if env.get(f"CATALOG_SOURCE_{s.upper()}_URL")}
        return replace(loaded, source_urls=urls) if urls else loaded


@_group
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


@_group
class LimitSettings(_Group):
    """Abuse limits. The ``SOS1379_*`` names are an operator's or a test run's override of the
    template's values (``off`` disables the rate limits, e.g. for a load test from one address)."""

    rate_limits: str = _env("SOS1379_RATE_LIMITS", "", "RATE_LIMITS")
    recipient_daily_cap: int = _env("SOS1379_NOTIFY_RECIPIENT_DAILY_CAP", 0, "NOTIFY_RECIPIENT_DAILY_CAP")
    verify_contacts: str = _env("SOS1379_NOTIFY_VERIFY_CONTACTS", "off", "NOTIFY_VERIFY_CONTACTS")


@_group
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

    notify: NotifySettings = field(default_factory=NotifySettings)
    coordinators: CoordinatorSettings = field(default_factory=CoordinatorSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)


def variables(group: type = Settings) -> set[str]:
    """Every environment variable ``group`` (and its groups) reads, besides the catalog sources'
    ``CATALOG_SOURCE_{NAME}_URL``."""
    names: set[str] = set()
    for f in fields(group):
        names |= variables(f.type) if _is_group(f.type) else set(f.metadata.get("env", ()))
    return names


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
        merged = {k: (replace(getattr(base, k), **v) if isinstance(v, dict) else v) for k, v in changes.items()}
        base = replace(base, **merged)
    saved, _current = _current, base
    try:
        yield base
    finally:
        _current = saved
