"""Lost-link recovery: ``POST /cases/recover`` (sos1379.recovery). The answer is the same 202
whether or not anything matched."""
from __future__ import annotations

from chalice import Blueprint

from ..lazy import lazy_module
from .common import get_store, json_body, json_response, route

bp = Blueprint(__name__)
recovery = lazy_module("sos1379.recovery")


@route(bp, "/cases/recover", methods=["POST"], content_types=["application/json"])
def recover_link():
    request = bp.current_request
    client = ((request.context or {}).get("identity") or {}).get("sourceIp") or "unknown"
    body = recovery.request_link(get_store(), json_body(request), client_id=client)
    return json_response(body, 202, {"Cache-Control": "no-store"})


_PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}

OPENAPI_PATHS = {
    "/cases/recover": {"post": {
        "tags": ["public"],
        "summary": "Lost your link? Send a fresh tracking link to the contact on file",
        "description": "Give the case number and the mobile number or email address given at submission. If they "
                       "match, a new tracking link goes to that contact (KakaoTalk/text or email). The answer is "
                       "the same 202 whether or not anything matched; rate-limited per case number and client.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "required": ["case_number"],
            "properties": {"case_number": {"type": "string", "pattern": "^[0-9]{6}-[0-9]{4}$"},
                           "phone": {"type": "string", "maxLength": 20},
                           "email": {"type": "string", "maxLength": 254}}}}}},
        "responses": {
            "202": {"description": "Accepted (whether or not the details matched)",
                    "content": {"application/json": {"schema": {
                        "type": "object", "required": ["status"],
                        "properties": {"status": {"type": "string", "enum": ["accepted"]},
                                       "message_ko": {"type": "string"}, "message_en": {"type": "string"}}}}}},
            "400": {"description": "Malformed request", **_PROBLEM},
            "415": {"description": "Unsupported media type"},
            "422": {"description": "Invalid case number, phone or email (or both/neither given)", **_PROBLEM},
            "429": {"description": "Too many requests for this case number or from this client",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}}, **_PROBLEM}}}},
}
