"""Institute API (X-Api-Key per institute) and the SME's reply to an information request.

401 without a valid key; 404 for a referral that is not the caller's (never 403: whether another
institute has the case is itself private)."""
from __future__ import annotations

from chalice import Blueprint

from ..lazy import lazy_module
from ..lifecycle import REFERRAL_STATUSES
from .common import get_store, header, json_body, json_response, route
from .openapi import body_ref

bp = Blueprint(__name__)
institute_keys = lazy_module("sos1379.institutes.keys")
svc = lazy_module("sos1379.institutes.service")

_JSON_TYPES = ["application/json"]


def institute_of(request) -> str:
    """The institute calling: machines send their API key (``X-Api-Key``), people in the staff
    console an institute user's JWT (``Authorization: Bearer``). Every institute route uses this."""
    if header(request, "X-Api-Key") is None and header(request, "Authorization"):
        from ..coordinators import auth

        return auth.authenticate_institute(header(request, "Authorization"))[0]
    return institute_keys.authenticate(get_store(), header(request, "X-Api-Key"))


def _institute() -> str:
    return institute_of(bp.current_request)


def _optional_body() -> object:
    return json_body(bp.current_request) if bp.current_request.raw_body else {}


@route(bp, "/institute/referrals", methods=["GET"], limit="institute")
def list_referrals():
    code = _institute()
    status = (bp.current_request.query_params or {}).get("status")
    return json_response({"institute": code, "referrals": svc.list_referrals(get_store(), code, status)},
                         headers={"Cache-Control": "no-store"})


@route(bp, "/institute/referrals/{case_id}", methods=["GET"], limit="institute")
def get_referral(case_id: str):
    code = _institute()
    return json_response(svc.get_referral(get_store(), code, case_id), headers={"Cache-Control": "no-store"})


@route(bp, "/institute/referrals/{case_id}/accept", methods=["POST"], content_types=_JSON_TYPES, limit="institute")
def accept_referral(case_id: str):
    code = _institute()
    return json_response(svc.accept(get_store(), code, case_id))


@route(bp, "/institute/referrals/{case_id}/decline", methods=["POST"], content_types=_JSON_TYPES, limit="institute")
def decline_referral(case_id: str):
    code = _institute()
    return json_response(svc.decline(get_store(), code, case_id, json_body(bp.current_request)))


@route(bp, "/institute/referrals/{case_id}/request-info", methods=["POST"], content_types=_JSON_TYPES, limit="institute")
def request_info(case_id: str):
    code = _institute()
    return json_response(svc.request_info(get_store(), code, case_id, json_body(bp.current_request)))


@route(bp, "/institute/referrals/{case_id}/resolve", methods=["POST"], content_types=_JSON_TYPES, limit="institute")
def resolve_referral(case_id: str):
    code = _institute()
    return json_response(svc.resolve(get_store(), code, case_id, json_body(bp.current_request)))


@route(bp, "/cases/{case_id}/reply", methods=["POST"], content_types=_JSON_TYPES, limit="lookup")
def reply_to_request(case_id: str):
    request = bp.current_request
    token = header(request, "X-Tracking-Token") or (request.query_params or {}).get("token")
    return json_response(svc.reply(get_store(), case_id, token, json_body(request)))


# --------------------------------------------------------------------------- OpenAPI

_KEY = {"name": "X-Api-Key", "in": "header", "required": False, "schema": {"type": "string"},
        "description": "The institute's API key (or `Authorization: Bearer <ID token>` of an institute user)"}
_CASE = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
_PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_OK = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}


def _responses(*extra: str) -> dict:
    out = {"200": _OK, "401": {"description": "Missing, unknown or revoked API key", **_PROBLEM},
           "404": {"description": "No such referral for this institute", **_PROBLEM}}
    texts = {"409": "Not allowed in the referral's or case's current state (or a concurrent change)",
             "415": "Unsupported media type", "422": "Invalid fields"}
    for code in extra:
        out[code] = {"description": texts[code], **(_PROBLEM if code != "415" else {})}
    return out


def openapi_models() -> dict:
    return {"InstituteDecline": svc.DeclineInput, "InstituteRequestInfo": svc.RequestInfoInput,
            "InstituteResolve": svc.ResolveInput, "CaseReply": svc.ReplyInput}


OPENAPI_PATHS = {
    "/institute/referrals": {"get": {
        "summary": "List my referrals (newest first)", "tags": ["institutes"],
        "parameters": [_KEY, {"name": "status", "in": "query", "required": False,
                              "schema": {"type": "string", "enum": list(REFERRAL_STATUSES)}}],
        "responses": {k: v for k, v in _responses("422").items() if k != "404"}}},
    "/institute/referrals/{case_id}": {"get": {
        "summary": "One of my referrals: the v1 message, its status and the case state", "tags": ["institutes"],
        "parameters": [_KEY, _CASE], "responses": _responses()}},
    "/institute/referrals/{case_id}/accept": {"post": {
        "summary": "Accept a referral (the first institute to accept takes the case)", "tags": ["institutes"],
        "parameters": [_KEY, _CASE], "responses": _responses("409", "415")}},
    "/institute/referrals/{case_id}/decline": {"post": {
        "summary": "Decline with a reason; the case is re-routed to the next institute", "tags": ["institutes"],
        "parameters": [_KEY, _CASE], "requestBody": body_ref("InstituteDecline"),
        "responses": _responses("409", "415", "422")}},
    "/institute/referrals/{case_id}/request-info": {"post": {
        "summary": "Ask the SME for more information (the SLA clock pauses)", "tags": ["institutes"],
        "parameters": [_KEY, _CASE], "requestBody": body_ref("InstituteRequestInfo"),
        "responses": _responses("409", "415", "422")}},
    "/institute/referrals/{case_id}/resolve": {"post": {
        "summary": "Resolve an accepted referral with a solution summary", "tags": ["institutes"],
        "parameters": [_KEY, _CASE], "requestBody": body_ref("InstituteResolve"),
        "responses": _responses("409", "415", "422")}},
    "/cases/{case_id}/reply": {"post": {
        "summary": "The SME answers an information request (needs the tracking token)", "tags": ["public"],
        "parameters": [_CASE,
                       {"name": "X-Tracking-Token", "in": "header", "required": False, "schema": {"type": "string"}},
                       {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}}],
        "requestBody": body_ref("CaseReply"),
        "responses": {"200": _OK, "404": {"description": "Unknown case or wrong token", **_PROBLEM},
                      "409": {"description": "No information request is open", **_PROBLEM},
                      "415": {"description": "Unsupported media type"},
                      "422": {"description": "Invalid fields", **_PROBLEM}}}},
}
