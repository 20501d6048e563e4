"""Contact verification by one-time code (sos1379.verification): the SME types the code from the
receipt on the tracking page, or asks for a new one; a counselor confirms the contact of a case
recorded from a call or a visit. Public routes need the case's tracking token (404 otherwise)."""
from __future__ import annotations

from chalice import Blueprint

from .. import intake, verification
from ..coordinators import auth
from .common import get_store, header, json_body, json_response, route

bp = Blueprint(__name__)

_JSON_TYPES = ["application/json"]


def _case_for_sme(case_id: str) -> dict:
    request = bp.current_request
    token = header(request, "X-Tracking-Token") or (request.query_params or {}).get("token")
    return intake.load_case_for_sme(get_store(), case_id, token)


def _answer(result: verification.Verification) -> dict:
    return {"verified": result.verified, "newly_verified": result.newly_verified}


@route(bp, "/cases/{case_id}/verify-contact", methods=["POST"], content_types=_JSON_TYPES, limit="lookup")
def verify_contact(case_id: str):
    case = _case_for_sme(case_id)
    result = verification.verify_code(get_store(), case, json_body(bp.current_request))
    return json_response(_answer(result), headers={"Cache-Control": "no-store"})


@route(bp, "/cases/{case_id}/verify-contact/resend", methods=["POST"], content_types=_JSON_TYPES, limit="lookup")
def resend_code(case_id: str):
    case = _case_for_sme(case_id)
    body = json_body(bp.current_request) if bp.current_request.raw_body else {}
    return json_response(verification.request_new_code(get_store(), case, body), 202)


@route(bp, "/coordinator/cases/{case_id}/verify-contact", methods=["POST"], content_types=_JSON_TYPES, limit="staff")
def confirm_contact(case_id: str):
    staff = auth.require(auth.authenticate(header(bp.current_request, "Authorization")), "counselor")
    result = verification.confirm_by_counselor(get_store(), case_id, json_body(bp.current_request), staff.actor)
    return json_response(_answer(result))


_PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_TOKEN_PARAMS = [
    {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "X-Tracking-Token", "in": "header", "required": False, "schema": {"type": "string"}},
    {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}},
]
_CHANNELS = {"type": "array", "items": {"type": "string", "enum": list(verification.CHANNELS)}}
_VERIFIED = {"description": "The contact channels confirmed so far",
             "content": {"application/json": {"schema": {
                 "type": "object", "required": ["verified", "newly_verified"],
                 "properties": {"verified": _CHANNELS, "newly_verified": _CHANNELS}}}}}
_LIMITED = {"description": "Too many requests", "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            **_PROBLEM}

OPENAPI_PATHS = {
    "/cases/{case_id}/verify-contact": {"post": {
        "tags": ["public"],
        "summary": "Confirm the phone number or e-mail address with the code from the receipt",
        "description": "Until a contact is confirmed, only the receipt is sent to it; later notices wait (the "
                       "tracking page shows them) and go out once the code is entered. A wrong, expired or "
                       "malformed code is a 422 with field `code` (codes `verification_code_invalid`, "
                       "`verification_code_expired`, `verification_code_format`).",
        "parameters": _TOKEN_PARAMS,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "required": ["code"],
            "properties": {"code": {"type": "string", "pattern": "^[0-9]{6}$",
                                    "description": "6 digits (spaces and dashes are ignored)"}}}}}},
        "responses": {"200": _VERIFIED,
                      "404": {"description": "Unknown case or wrong token", **_PROBLEM},
                      "409": {"description": "The case changed meanwhile: try again", **_PROBLEM},
                      "415": {"description": "Unsupported media type"},
                      "422": {"description": "Malformed, wrong or expired code", **_PROBLEM},
                      "429": _LIMITED}}},
    "/cases/{case_id}/verify-contact/resend": {"post": {
        "tags": ["public"],
        "summary": "Send a new verification code to the unconfirmed contact(s)",
        "description": f"At most {verification.RESEND_PER_HOUR} per case per hour; the per-recipient daily cap "
                       "applies too. Earlier codes stay valid until they expire.",
        "parameters": _TOKEN_PARAMS,
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False,
            "properties": {"channel": {"type": "string", "enum": list(verification.CHANNELS)}}}}}},
        "responses": {"202": {"description": "Sent (or nothing to confirm)",
                              "content": {"application/json": {"schema": {
                                  "type": "object", "required": ["status", "channels"],
                                  "properties": {"status": {"type": "string", "enum": ["sent", "verified"]},
                                                 "channels": _CHANNELS}}}}},
                      "404": {"description": "Unknown case or wrong token", **_PROBLEM},
                      "415": {"description": "Unsupported media type"},
                      "422": {"description": "Unknown channel", **_PROBLEM},
                      "429": _LIMITED}}},
    "/coordinator/cases/{case_id}/verify-contact": {"post": {
        "tags": ["staff"],
        "summary": "Mark the contact of a call-center or visit case as confirmed with the SME (counselor+)",
        "parameters": [{"name": "Authorization", "in": "header", "required": True, "schema": {"type": "string"}},
                       {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "required": ["channels"],
            "properties": {"channels": {**_CHANNELS, "minItems": 1, "uniqueItems": True}}}}}},
        "responses": {"200": _VERIFIED,
                      "401": {"description": "No or invalid staff token", **_PROBLEM},
                      "403": {"description": "Not a counselor", **_PROBLEM},
                      "404": {"description": "Unknown case", **_PROBLEM},
                      "409": {"description": "Not a case a counselor recorded (the SME confirms with the code)",
                              **_PROBLEM},
                      "415": {"description": "Unsupported media type"},
                      "422": {"description": "Invalid channels", **_PROBLEM},
                      "429": _LIMITED}}},
}
