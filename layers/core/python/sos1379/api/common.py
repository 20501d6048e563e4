"""Shared view plumbing: typed errors mapped to RFC 9457 problem+json once, JSON body parsing,
and the lazily built store."""
from __future__ import annotations

import functools
import json
import logging
from functools import lru_cache

from chalice import Response

from ..errors import (Conflict, DomainError, FieldError, Forbidden, IdempotencyKeyReused, NotFound, RateLimited,
                      TransientError, Unauthorized, ValidationFailed)

log = logging.getLogger("sos1379.api")

PROBLEM = "application/problem+json"

# Most specific first: the first isinstance match wins.
_STATUS: list[tuple[type[Exception], int, str]] = [
    (ValidationFailed, 422, "validation-failed"),
    (IdempotencyKeyReused, 422, "idempotency-key-reused"),
    (NotFound, 404, "not-found"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (Conflict, 409, "conflict"),
    (RateLimited, 429, "rate-limited"),
]


def problem(status: int, slug: str, title_en: str, title_ko: str, detail_en: str, detail_ko: str,
            errors: list[FieldError] | None = None, headers: dict | None = None) -> Response:
    body = {"type": f"https://sos1379.kr/problems/{slug}", "title": title_en, "title_ko": title_ko,
            "status": status, "detail": detail_en, "detail_ko": detail_ko}
    if errors is not None:
        body["errors"] = [e.as_dict() for e in errors]
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status,
                    headers={"Content-Type": PROBLEM, **(headers or {})})


def error_response(exc: Exception) -> Response:
    if isinstance(exc, DomainError):
        for cls, status, slug in _STATUS:
            if isinstance(exc, cls):
                headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
                if status == 429:
                    headers = {"Retry-After": str(getattr(exc, "retry_after", 60))}
                return problem(status, slug, exc.title_en, exc.title_ko, exc.detail_en, exc.detail_ko,
                               getattr(exc, "errors", None), headers)
        return problem(400, "bad-request", exc.title_en, exc.title_ko, exc.detail_en, exc.detail_ko)
    if isinstance(exc, TransientError) or _is_aws_outage(exc):
        return problem(503, "unavailable", "Service temporarily unavailable", "일시적으로 처리할 수 없습니다",
                       "Please retry shortly.", "잠시 후 다시 시도해 주세요.", headers={"Retry-After": "2"})
    log.exception("unhandled error", extra={"error_type": type(exc).__name__})
    return problem(500, "internal", "Internal error", "내부 오류", "An internal error occurred.",
                   "내부 오류가 발생했습니다.")


def _is_aws_outage(exc: Exception) -> bool:
    """A dependency error that outlived botocore's retries (throttling, 5xx, connection): the
    client should retry later (503), not be told the server is broken (500)."""
    from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, ReadTimeoutError

    if isinstance(exc, (BotoConnectionError, ReadTimeoutError)):
        return True
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or "Throttl" in err.get("Code", "") or err.get("Code") in (
            "ProvisionedThroughputExceededException", "RequestLimitExceeded", "ServiceUnavailable")
    return False


def route(bp, path: str, **kwargs):
    """``bp.route`` whose view errors go through :func:`error_response`."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kw):
            try:
                return view(*args, **kw)
            except Exception as exc:  # noqa: BLE001 - the single mapping point
                return error_response(exc)

        bp.route(path, **kwargs)(wrapped)
        return view

    return decorator


def json_body(request) -> object:
    raw = request.raw_body
    if not raw:
        raise ValidationFailed([FieldError("body", "요청 본문이 비어 있습니다.", "The request body is empty.",
                                           "missing")])
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed([FieldError("body", "JSON 형식이 올바르지 않습니다.", "The body is not valid JSON.",
                                           "json_invalid")]) from None


def header(request, name: str) -> str | None:
    headers = request.headers or {}
    return headers.get(name) or headers.get(name.lower())


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=json.dumps(body, ensure_ascii=False, default=str), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


@lru_cache(maxsize=1)
def get_store():
    from ..settings import get_settings
    from ..store import CaseStore

    return CaseStore(get_settings().cases_table)
