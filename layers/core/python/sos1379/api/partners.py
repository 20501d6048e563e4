"""Partner API (1357 and the regional CCEIs; X-Api-Key like institutes): the hand-off queue,
pickup and return. 401 without a partner key; 404 for a hand-off that is not the caller's."""
from __future__ import annotations

from chalice import Blueprint

from ..lazy import lazy_module
from ..lifecycle import HANDOFF_STATUSES
from .common import get_store, header, json_body, json_response, route

bp = Blueprint(__name__)
svc = lazy_module("sos1379.institutes.partners")

_JSON_TYPES = ["application/json"]
_NO_STORE = {"Cache-Control": "no-store"}


def _partner() -> str:
    return svc.authenticate(get_store(), header(bp.current_request, "X-Api-Key"))


@route(bp, "/partner/handoffs", methods=["GET"], limit="institute")
def list_handoffs():
    code = _partner()
    status = (bp.current_request.query_params or {}).get("status")
    return json_response({"partner": code, "handoffs": svc.list_handoffs(get_store(), code, status)},
                         headers=_NO_STORE)


@route(bp, "/partner/handoffs/{case_id}", methods=["GET"], limit="institute")
def get_handoff(case_id: str):
    code = _partner()
    return json_response(svc.get_handoff(get_store(), code, case_id), headers=_NO_STORE)


@route(bp, "/partner/handoffs/{case_id}/accept", methods=["POST"], content_types=_JSON_TYPES, limit="institute")
def accept_handoff(case_id: str):
    code = _partner()
    return json_response(svc.accept(get_store(), code, case_id))


@route(bp, "/partner/handoffs/{case_id}/return", methods=["POST"], content_types=_JSON_TYPES, limit="institute")
def return_handoff(case_id: str):
    code = _partner()
    return json_response(svc.return_to_us(get_store(), code, case_id, json_body(bp.current_request)))


@route(bp, "/partners", methods=["GET"])
def list_partners():
    return json_response({"partners": [p.public() for p in svc.load_partners().values()]})


# --------------------------------------------------------------------------- OpenAPI

_PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_OK = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
_KEY = {"name": "X-Api-Key", "in": "header", "required": True, "schema": {"type": "string"},
        "description": "The partner's API key (issued like an institute key)"}
_CASE = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _err(text: str) -> dict:
    return {"description": text, **_PROBLEM}


_AUTH_ERRORS = {"401": _err("Missing, unknown or revoked partner key"), "404": _err("No such hand-off for this partner")}

OPENAPI_PATHS = {
    "/partners": {"get": {"summary": "Hand-off partners (1357, the 17 regional CCEIs) and their public contacts",
                          "tags": ["public"], "responses": {"200": _OK}}},
    "/partner/handoffs": {"get": {
        "summary": "My hand-off queue (newest first)", "tags": ["partners"],
        "parameters": [_KEY, {"name": "status", "in": "query", "required": False,
                              "schema": {"type": "string", "enum": list(HANDOFF_STATUSES)}}],
        "responses": {"200": _OK, "401": _AUTH_ERRORS["401"], "422": _err("Unknown status")}}},
    "/partner/handoffs/{case_id}": {"get": {
        "summary": "One hand-off: the request, without the SME's contact details", "tags": ["partners"],
        "parameters": [_KEY, _CASE], "responses": {"200": _OK, **_AUTH_ERRORS}}},
    "/partner/handoffs/{case_id}/accept": {"post": {
        "summary": "Confirm pickup (the SME's tracking page shows it); repeating it changes nothing",
        "tags": ["partners"], "parameters": [_KEY, _CASE],
        "responses": {"200": _OK, **_AUTH_ERRORS, "409": _err("Returned, lapsed or no longer handed off"),
                      "415": {"description": "Unsupported media type"}}}},
    "/partner/handoffs/{case_id}/return": {"post": {
        "summary": "Send the case back to the coordinators with a reason", "tags": ["partners"],
        "parameters": [_KEY, _CASE],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["reason"], "additionalProperties": False,
            "properties": {"reason": {"type": "string", "minLength": 2, "maxLength": 1000}}}}}},
        "responses": {"200": _OK, **_AUTH_ERRORS, "409": _err("Not pending or accepted"),
                      "415": {"description": "Unsupported media type"}, "422": _err("Invalid fields")}}},
}
