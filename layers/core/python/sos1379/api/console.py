"""The public statistics page (``/statistics``) and the staff console (``/console``: one page for
institute staff and coordinators, a script that calls the same JSON API as every other client).

Sign-in: in AWS the console runs Cognito's hosted UI with PKCE (configuration from the stack:
``STAFF_COGNITO_DOMAIN``, ``STAFF_CONSOLE_CLIENT_ID``; MFA is required by the user pool). On the
local stack only, ``POST /console/dev-login`` issues a development token (as ``sos1379 token``
does): it answers 404 unless ``SOS1379_LOCAL_STACK`` is set (by the local stack's seed, never by
template.yaml) and a development secret is configured."""
from __future__ import annotations

from chalice import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from .. import web
from ..errors import NotFound
from ..events import utcnow
from ..lazy import lazy_module
from ..models import parse_model
from .common import get_store, json_body, json_response, route

bp = Blueprint(__name__)
counters = lazy_module("sos1379.coordinators.counters")
reporting = lazy_module("sos1379.coordinators.reporting")
console_page = lazy_module("sos1379.web.console")
statistics_page = lazy_module("sos1379.web.statistics")


def _base() -> str:
    context = bp.current_request.context or {}
    return web.base_href(context.get("path"), context.get("resourcePath"))


@route(bp, "/statistics", methods=["GET"])
def statistics():
    query = bp.current_request.query_params or {}
    year, mon = reporting.parse_month(query.get("month"), utcnow())
    months = counters.series(get_store(), f"{year:04d}-{mon:02d}", 12)
    body = statistics_page.render(months, web.language(query.get("lang")), _base())
    return Response(body=body, status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "public, max-age=60", **web.SECURITY_HEADERS})


@route(bp, "/console", methods=["GET"])
def console():
    from ..settings import get_settings

    query = bp.current_request.query_params or {}
    settings = get_settings().coordinators
    body = console_page.render(web.language(query.get("lang")), _base(), console_page.login_config(settings))
    headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", **web.SECURITY_HEADERS,
               "Content-Security-Policy": console_page.csp(settings)}
    return Response(body=body, status_code=200, headers=headers)


class DevLogin(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    role: str = Field(pattern=r"^(counselor|coordinator|lead|institute)$")
    sub: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    institute: str | None = Field(default=None, max_length=32)


@route(bp, "/console/dev-login", methods=["POST"], content_types=["application/json"])
def dev_login():
    from ..coordinators import auth
    from ..settings import get_settings
    from ..directory import referral_codes

    settings = get_settings().coordinators
    if not (settings.local_stack and len(settings.dev_jwt_secret) >= auth.MIN_DEV_SECRET_LENGTH):
        raise NotFound("No development login here", "개발용 로그인이 없습니다")
    body = parse_model(DevLogin, json_body(bp.current_request))
    if body.role == "institute":
        code = (body.institute or "").upper()
        if code not in referral_codes():
            from ..errors import FieldError, ValidationFailed

            raise ValidationFailed([FieldError("institute", "기관 코드를 확인해 주세요.", "Unknown institute code.",
                                               "unknown_institute")])
        token = auth.mint_dev_institute_token(settings.dev_jwt_secret, body.sub, code)
        return json_response({"token": token, "role": "institute", "sub": body.sub, "institute": code},
                             headers={"Cache-Control": "no-store"})
    token = auth.mint_dev_token(settings.dev_jwt_secret, body.sub, body.role)
    return json_response({"token": token, "role": body.role, "sub": body.sub}, headers={"Cache-Control": "no-store"})


_PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
OPENAPI_PATHS = {
    "/console/dev-login": {"post": {
        "summary": "Local stack only: a development token for the staff console (404 anywhere else)",
        "tags": ["staff"],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "required": ["role", "sub"],
            "properties": {"role": {"type": "string", "enum": ["counselor", "coordinator", "lead", "institute"]},
                           "sub": {"type": "string", "minLength": 1, "maxLength": 64,
                                   "pattern": "^[A-Za-z0-9._@-]+$"},
                           "institute": {"type": "string", "maxLength": 32}}}}}},
        "responses": {"200": {"description": "A development token",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                      "404": {"description": "Not the local stack", **_PROBLEM},
                      "415": {"description": "Unsupported media type"},
                      "422": {"description": "Invalid fields", **_PROBLEM}}}},
}
