"""Shared view plumbing: typed errors mapped to RFC 9457 problem+json once, JSON body parsing,
and the lazily built store.

Every route goes through :func:`route`, which, before the view runs (so before any lookup,
fingerprint or validation): refuses a body that is not ``application/json`` (415), larger than
``MAX_BODY_BYTES`` (413), not UTF-8, nested deeper than ``MAX_JSON_DEPTH``, holding lone UTF-16
surrogates or NaN/Infinity (422); applies the route's per-client rate limit (429); and adds
``X-Content-Type-Options: nosniff`` to the answer. The body is parsed once; views read it with
:func:`json_body`. A 422 lists at most ``MAX_FIELD_ERRORS`` errors plus their total, so the answer
stays small whatever the input."""
from __future__ import annotations

import functools
import json
import logging
from functools import lru_cache

from chalice import Response

import re

from ..errors import (Conflict, DomainError, FieldError, Forbidden, IdempotencyKeyReused, NotFound,
                      PayloadTooLarge, RateLimited, TransientError, Unauthorized, UnsupportedMediaType,
                      ValidationFailed, aws_error_code)

log = logging.getLogger("sos1379.api")

PROBLEM = "application/problem+json"
NOSNIFF = {"X-Content-Type-Options": "nosniff"}

# The largest legitimate body (a case: description 5,000 characters, 3 bytes each in UTF-8, plus the
# rest) is about 20 KB; anything past this is refused before it is parsed.
MAX_BODY_BYTES = 64 * 1024
# Our deepest body is 3 levels (case -> contact -> preferred_channels); json would recurse ~1,000.
MAX_JSON_DEPTH = 16
MAX_FIELD_ERRORS = 20
MAX_FIELD_PATH = 120

# Most specific first: the first isinstance match wins.
_STATUS: list[tuple[type[Exception], int, str]] = [
    (ValidationFailed, 422, "validation-failed"),
    (RateLimited, 429, "rate-limited"),
    (UnsupportedMediaType, 415, "unsupported-media-type"),
    (PayloadTooLarge, 413, "payload-too-large"),
    (IdempotencyKeyReused, 422, "idempotency-key-reused"),
    (NotFound, 404, "not-found"),
    (Unauthorized, 401, "unauthorized"),
    (Forbidden, 403, "forbidden"),
    (Conflict, 409, "conflict"),
]


def problem(status: int, slug: str, title_en: str, title_ko: str, detail_en: str, detail_ko: str,
            errors: list[FieldError] | None = None, headers: dict | None = None) -> Response:
    body = {"type": f"https://sos1379.kr/problems/{slug}", "title": title_en, "title_ko": title_ko,
            "status": status, "detail": detail_en, "detail_ko": detail_ko}
    if errors is not None:
        body["errors"] = [_capped(e.as_dict()) for e in errors[:MAX_FIELD_ERRORS]]
        if len(errors) > MAX_FIELD_ERRORS:
            body["errors_total"] = len(errors)
            body["detail"] = f"{len(errors)} invalid fields; the first {MAX_FIELD_ERRORS} are listed."
            body["detail_ko"] = f"올바르지 않은 항목 {len(errors)}개 중 처음 {MAX_FIELD_ERRORS}개입니다."
        elif len(body["detail"]) > 500:
            body["detail"], body["detail_ko"] = body["detail"][:500] + "…", body["detail_ko"][:500] + "…"
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status,
                    headers={"Content-Type": PROBLEM, **NOSNIFF, **(headers or {})})


def _capped(error: dict) -> dict:
    field = error.get("field", "")
    if len(field) > MAX_FIELD_PATH:
        error["field"] = field[:MAX_FIELD_PATH] + "…"
    return error


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
        code = aws_error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or "Throttl" in code or code in (
            "ProvisionedThroughputExceededException", "RequestLimitExceeded", "ServiceUnavailable")
    return False


# (path, METHOD) of every rate-limited route, for the OpenAPI document's 429 answers
RATE_LIMITED: set[tuple[str, str]] = set()


def route(bp, path: str, *, limit: str | None = None, **kwargs):
    """``bp.route`` whose view errors go through :func:`error_response`. A POST's body is checked
    and parsed first (see the module docs); ``limit`` names the per-client rate limit
    (``sos1379.ratelimit``) applied next, before the view does any lookup."""
    takes_body = any(m in ("POST", "PUT", "PATCH") for m in kwargs.get("methods", ["GET"]))

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kw):
            try:
                request = bp.current_request
                if takes_body:
                    _parse_body_once(request)
                if limit:
                    from .. import ratelimit

                    ratelimit.check(get_store(), limit, client_id(request))
                response = view(*args, **kw)
            except Exception as exc:  # noqa: BLE001 - the single mapping point
                response = error_response(exc)
            if isinstance(response, Response):
                for name, value in NOSNIFF.items():
                    response.headers.setdefault(name, value)
            return response

        bp.route(path, **kwargs)(wrapped)
        if limit:
            RATE_LIMITED.update((path, m) for m in kwargs.get("methods", ["GET"]))
        return view

    return decorator


def client_id(request) -> str:
    """Who is calling, for rate limits: the source IP API Gateway saw (not a header the client
    can set). The local stack's server reports 127.0.0.1 for everyone."""
    identity = ((request.context or {}).get("identity") or {})
    return str(identity.get("sourceIp") or "unknown")


_SENTINEL = object()
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(r"[\[\]{}]")


def _body_error(code: str, ko: str, en: str) -> ValidationFailed:
    return ValidationFailed([FieldError("body", ko, en, code)])


def _parse_body_once(request) -> object:
    cached = getattr(request, "_sos1379_body", _SENTINEL)
    if cached is not _SENTINEL:
        return cached
    raw = request.raw_body or b""
    if raw and not is_json_media_type(header(request, "Content-Type")):
        raise UnsupportedMediaType()
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The body may be at most {MAX_BODY_BYTES} bytes.",
                              f"요청 본문은 {MAX_BODY_BYTES}바이트 이하여야 합니다.")
    value = parse_json(raw) if raw else None
    request._sos1379_body = value
    return value


def is_json_media_type(value: str | None) -> bool:
    """``application/json`` with at most a UTF-8 charset: what a browser can send cross-site
    without a CORS preflight (text/plain, forms) never passes, whatever its parameters say."""
    if not value:
        return False
    media, *params = [part.strip().lower() for part in value.split(";")]
    return media == "application/json" and all(p in ("charset=utf-8", "charset=\"utf-8\"") for p in params)


def parse_json(raw: bytes | str) -> object:
    """Strict JSON: UTF-8, depth-limited, no lone surrogates, no NaN/Infinity. Raises
    ValidationFailed (field ``body``), never RecursionError or UnicodeError."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    except UnicodeDecodeError:
        raise _body_error("json_invalid", "본문이 UTF-8이 아닙니다.", "The body is not UTF-8.") from None
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise _body_error("json_too_deep", f"JSON 중첩은 {MAX_JSON_DEPTH}단계까지입니다.",
                              f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep.")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise _body_error("json_invalid", "JSON 형식이 올바르지 않습니다.", "The body is not valid JSON.") from None
    if _has_surrogate(value):
        raise _body_error("invalid_unicode", "짝이 없는 UTF-16 대리 문자(surrogate)는 쓸 수 없습니다.",
                          "Lone UTF-16 surrogates are not allowed.")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _has_surrogate(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_body(request) -> object:
    """The request's JSON body, parsed once by :func:`route` (or here, for direct callers)."""
    value = _parse_body_once(request)
    if value is None:
        raise _body_error("missing", "요청 본문이 비어 있습니다.", "The request body is empty.")
    return value


def header(request, name: str) -> str | None:
    headers = request.headers or {}
    return headers.get(name) or headers.get(name.lower())


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=json.dumps(body, ensure_ascii=False, default=str), status_code=status,
                    headers={"Content-Type": "application/json", **NOSNIFF, **(headers or {})})


@lru_cache(maxsize=1)
def get_store():
    from ..settings import get_settings
    from ..store import CaseStore

    return CaseStore(get_settings().cases_table)


_FRAMEWORK_ERRORS = {
    405: ("method-not-allowed", "Method not allowed", "허용되지 않는 메서드입니다"),
    415: ("unsupported-media-type", UnsupportedMediaType.title_en, UnsupportedMediaType.title_ko),
}


def edge_middleware(event, get_response):
    """Chalice HTTP middleware: answers Chalice produces itself (405 for an unrouted method, 415
    for a Content-Type it refuses, before any view) become problem+json too, and every answer
    carries ``X-Content-Type-Options: nosniff``."""
    response = get_response(event)
    known = _FRAMEWORK_ERRORS.get(response.status_code)
    if known and not str(response.headers.get("Content-Type", "")).startswith(PROBLEM):
        slug, en, ko = known
        extra = {k: v for k, v in response.headers.items() if k.lower() == "allow"}
        response = problem(response.status_code, slug, en, ko, en, ko, headers=extra)
    for name, value in NOSNIFF.items():
        response.headers.setdefault(name, value)
    return response
