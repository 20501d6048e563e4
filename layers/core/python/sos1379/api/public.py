"""Public SME endpoints: submit a case, track it, the service types and the institute directory."""
from __future__ import annotations

from chalice import Blueprint

from .. import intake
from ..directory import load_directory, load_services
from ..models import PublicCaseSubmission
from .common import get_store, header, json_body, json_response, route
from .openapi import body_ref

bp = Blueprint(__name__)


@route(bp, "/cases", methods=["POST"], content_types=["application/json"], limit="intake")
def submit_case():
    request = bp.current_request
    receipt, created = intake.submit_case(get_store(), json_body(request), model=PublicCaseSubmission,
                                          idempotency_key=header(request, "Idempotency-Key"))
    return json_response(receipt, 201, {"Location": f"/cases/{receipt['case_id']}",
                                        "Idempotent-Replayed": "false" if created else "true"})


@route(bp, "/cases/{case_id}", methods=["GET"], limit="lookup")
def get_case(case_id: str):
    request = bp.current_request
    token = header(request, "X-Tracking-Token") or (request.query_params or {}).get("token")
    case = intake.load_case_for_sme(get_store(), case_id, token)
    return json_response(intake.public_view(get_store(), case), headers={"Cache-Control": "no-store"})


@route(bp, "/services", methods=["GET"])
def list_services():
    return json_response({"services": [s.model_dump() for s in load_services().values()]})


@route(bp, "/institutes", methods=["GET"])
def list_institutes():
    return json_response({"institutes": [i.model_dump() for i in load_directory().values()]})


@route(bp, "/health", methods=["GET"])
def health():
    return json_response({"status": "ok"})


_TOKEN_PARAMS = [
    {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "X-Tracking-Token", "in": "header", "required": False, "schema": {"type": "string"}},
    {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}},
]
_JSON = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
_PROBLEM_REF = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}

def openapi_models() -> dict:
    return {"PublicCaseSubmission": PublicCaseSubmission}

# the company's own similar cases of the last 30 days (sos1379.companies): number and score only
_POSSIBLE_DUPLICATES = {"type": "array", "items": {
    "type": "object", "required": ["case_number", "title_similarity"], "additionalProperties": False,
    "properties": {"case_number": {"type": "string"}, "title_similarity": {"type": "number"}}}}

OPENAPI_PATHS = {
    "/cases": {"post": {
        "summary": "Submit a technology-support case",
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "maxLength": 200}}],
        "requestBody": body_ref("PublicCaseSubmission"),
        "responses": {"201": {"description": "Case accepted (or replayed for the same Idempotency-Key)",
                              "content": {"application/json": {"schema": {
                                  "type": "object",
                                  "required": ["case_id", "case_number", "tracking_token", "status",
                                               "guidance_due_at"],
                                  "properties": {**{k: {"type": "string"} for k in (
                                      "case_id", "case_number", "tracking_token", "status",
                                      "guidance_due_at", "created_at", "tracking_url")},
                                      "possible_duplicates": _POSSIBLE_DUPLICATES}}}}},
                      "400": {"description": "Malformed request", **_PROBLEM_REF},
                      "415": {"description": "Unsupported media type"},
                      "422": {"description": "Invalid fields, or Idempotency-Key reused with another body",
                              **_PROBLEM_REF}}}},
    "/cases/{case_id}": {"get": {
        "summary": "Track a case (needs its tracking token)", "parameters": _TOKEN_PARAMS,
        "responses": {"200": _JSON, "404": {"description": "Unknown case or wrong token", **_PROBLEM_REF}}}},
    "/services": {"get": {"summary": "Service types", "responses": {"200": _JSON}}},
    "/institutes": {"get": {"summary": "Institute directory", "responses": {"200": _JSON}}},
    "/health": {"get": {"summary": "Liveness", "responses": {"200": _JSON}}},
}
