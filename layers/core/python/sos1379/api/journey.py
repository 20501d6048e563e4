"""The whole journey of a case: the SME withdraws it, the institute starts work on it.

Public routes need the case's tracking token (404 otherwise, like an unknown case); institute
routes need the institute's X-Api-Key (401) and answer 404 for a referral that is not the caller's."""
from __future__ import annotations

from chalice import Blueprint

from .. import institute_keys, withdrawal
from .. import institute_service as institutes
from .common import get_store, header, json_body, json_response, route

bp = Blueprint(__name__)

_JSON_TYPES = ["application/json"]


def _token() -> str | None:
    request = bp.current_request
    return header(request, "X-Tracking-Token") or (request.query_params or {}).get("token")


def _optional_body() -> object:
    return json_body(bp.current_request) if bp.current_request.raw_body else {}


@route(bp, "/cases/{case_id}/withdraw", methods=["POST"], content_types=_JSON_TYPES)
def withdraw_case(case_id: str):
    return json_response(withdrawal.withdraw(get_store(), case_id, _token(), _optional_body()))


@route(bp, "/institute/referrals/{case_id}/start", methods=["POST"], content_types=_JSON_TYPES)
def start_referral(case_id: str):
    code = institute_keys.authenticate(get_store(), header(bp.current_request, "X-Api-Key"))
    return json_response(institutes.start(get_store(), code, case_id))


# --------------------------------------------------------------------------- OpenAPI

_PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_OK = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
_CASE = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
_TOKEN = [{"name": "X-Tracking-Token", "in": "header", "required": False, "schema": {"type": "string"}},
          {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}}]
_KEY = {"name": "X-Api-Key", "in": "header", "required": True, "schema": {"type": "string"},
        "description": "The institute's API key"}


def _err(description: str) -> dict:
    return {"description": description, **_PROBLEM}


OPENAPI_PATHS = {
    "/cases/{case_id}/withdraw": {"post": {
        "summary": "The SME withdraws its case (open statuses only; repeating it changes nothing)",
        "tags": ["public"], "parameters": [_CASE, *_TOKEN],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False,
            "properties": {"reason": {"type": "string", "maxLength": 1000}}}}}},
        "responses": {"200": _OK, "404": _err("Unknown case or wrong token"),
                      "409": _err("The case is no longer open (resolved, closed, handed off)"),
                      "415": {"description": "Unsupported media type"}, "422": _err("Invalid fields")}}},
    "/institute/referrals/{case_id}/start": {"post": {
        "summary": "The accepting institute starts work: the case moves to in_progress", "tags": ["institutes"],
        "parameters": [_KEY, _CASE],
        "responses": {"200": _OK, "401": _err("Missing, unknown or revoked API key"),
                      "404": _err("No such referral for this institute"),
                      "409": _err("The referral is not accepted or the case cannot start"),
                      "415": {"description": "Unsupported media type"}}}},
}
