"""Typed domain errors. The API maps each class to an HTTP answer once (app.py); nothing matches on
message text. Every error carries Korean and English text so any channel can show it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One rejected input field: a JSON-pointer-like dotted path plus a reason in both languages."""

    field: str
    message_ko: str
    message_en: str
    code: str = "invalid"

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message_ko": self.message_ko,
                "message_en": self.message_en}


class DomainError(Exception):
    """Base of every error the service raises on purpose."""

    title_en = "Request failed"
    title_ko = "요청을 처리하지 못했습니다"

    def __init__(self, detail_en: str = "", detail_ko: str = "") -> None:
        super().__init__(detail_en or self.title_en)
        self.detail_en = detail_en or self.title_en
        self.detail_ko = detail_ko or self.title_ko


class ValidationFailed(DomainError):
    title_en = "Invalid input"
    title_ko = "입력값이 올바르지 않습니다"

    def __init__(self, errors: list[FieldError]) -> None:
        fields = ", ".join(e.field for e in errors)
        super().__init__(f"Invalid fields: {fields}", f"올바르지 않은 항목: {fields}")
        self.errors = errors


class NotFound(DomainError):
    """Also raised for a wrong credential where existence itself is private (no 403 oracle)."""

    title_en = "Not found"
    title_ko = "찾을 수 없습니다"


class CaseNotFound(NotFound):
    pass


class Unauthorized(DomainError):
    title_en = "Authentication required"
    title_ko = "인증이 필요합니다"


class Forbidden(DomainError):
    title_en = "Not allowed"
    title_ko = "권한이 없습니다"


class Conflict(DomainError):
    title_en = "Conflict"
    title_ko = "요청이 현재 상태와 충돌합니다"


class InvalidTransition(Conflict):
    title_en = "Transition not allowed"
    title_ko = "현재 상태에서 허용되지 않는 변경입니다"

    def __init__(self, current: str, target: str, subject: str = "case") -> None:
        subject_ko = {"case": "사례", "referral": "의뢰"}.get(subject, subject)
        super().__init__(f"A {subject} in status '{current}' cannot move to '{target}'",
                         f"'{current}' 상태의 {subject_ko}는 '{target}'(으)로 변경할 수 없습니다")
        self.current = current
        self.target = target


class ConcurrentUpdate(Conflict):
    """Optimistic locking lost: someone changed the item since it was read."""

    title_en = "The case was changed by someone else; reload and retry"
    title_ko = "다른 사용자가 먼저 변경했습니다. 새로 고친 뒤 다시 시도하세요"


class SlotTaken(Conflict):
    """The requested equipment time overlaps a booking (ours or the source's)."""

    title_en = "This time slot is no longer free"
    title_ko = "선택한 시간은 이미 예약되었습니다"


class IdempotencyKeyReused(Conflict):
    title_en = "Idempotency-Key reused with a different body"
    title_ko = "같은 Idempotency-Key가 다른 요청 본문과 함께 사용되었습니다"


class AlreadyDone(Conflict):
    """A once-only action (e.g. a satisfaction rating) was already taken."""

    title_en = "Already done"
    title_ko = "이미 처리되었습니다"


class UnsupportedMediaType(DomainError):
    title_en = "Unsupported media type: send Content-Type: application/json"
    title_ko = "지원하지 않는 형식입니다. Content-Type: application/json으로 보내세요"


class PayloadTooLarge(DomainError):
    title_en = "Request body too large"
    title_ko = "요청 본문이 너무 큽니다"


class RateLimited(DomainError):
    """Too many requests from one client or for one subject (429 with Retry-After)."""

    title_en = "Too many requests"
    title_ko = "요청이 너무 많습니다"

    def __init__(self, retry_after: int = 3600, detail_en: str = "", detail_ko: str = "") -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(detail_en or f"Retry after {retry_after} seconds.",
                         detail_ko or f"{retry_after}초 후에 다시 시도하세요.")
        self.retry_after = retry_after


class MalformedMessage(ValueError):
    """A queue message that is not JSON or does not fit its contract (sos1379.events). Raised at the
    handler edge: the record fails alone and, after the queue's retries, waits in its DLQ. The
    message names the fields and error kinds only, never the rejected values."""

    def __init__(self, contract: str, problems: list[str]) -> None:
        super().__init__(f"malformed {contract}: {', '.join(problems) or 'invalid'}")
        self.contract = contract
        self.problems = problems


class TransientError(Exception):
    """A dependency failed in a way worth retrying (throttling, 5xx, timeouts)."""


# --- reading AWS errors: the one place that parses botocore's error responses -------------------
CONDITION_FAILED = "ConditionalCheckFailed"


def aws_error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for any other exception)."""
    response = getattr(exc, "response", None)
    return str((response.get("Error") or {}).get("Code", "")) if isinstance(response, dict) else ""


def cancellation_codes(exc: BaseException) -> list[str]:
    """A cancelled DynamoDB transaction's reason per action, in action order (``"None"`` for an
    action that did not cause the cancellation); empty when there are none."""
    response = getattr(exc, "response", None)
    reasons = response.get("CancellationReasons") if isinstance(response, dict) else None
    return [str(r.get("Code", "None")) for r in reasons or []]


def is_conditional_failure(exc: BaseException, *, action: int | None = None) -> bool:
    """True when DynamoDB refused a write because its condition did not hold: a single write's
    ``ConditionalCheckFailedException``, or a ``TransactionCanceledException`` whose reason is
    ``ConditionalCheckFailed`` for the action at index ``action`` (any action when None).

    A cancelled transaction that lists no reasons counts as conditional: DynamoDB always lists
    them, and a transaction that was cancelled for another reason (a conflict, throttling) says so
    in its reasons, so it is never mistaken for a lost condition."""
    code = aws_error_code(exc)
    if code == f"{CONDITION_FAILED}Exception":
        return True
    if code != "TransactionCanceledException":
        return False
    codes = cancellation_codes(exc)
    if not codes:
        return True
    if action is None:
        return CONDITION_FAILED in codes
    return action < len(codes) and codes[action] == CONDITION_FAILED
