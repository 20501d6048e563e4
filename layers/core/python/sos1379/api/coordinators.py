"""Coordinator API (staff JWT bearer tokens; roles counselor < coordinator < lead), the monthly
statistics, and the SME's satisfaction rating. Role rules: sos1379/coordinators/service.py.

401 without or with an invalid token; 403 when the role is too low; 404 for an unknown case."""
from __future__ import annotations

from chalice import Blueprint, Response

from ..lazy import lazy_module
from ..models import CounselorCaseSubmission
from .common import get_store, header, json_body, json_response, route
from .openapi import body_ref

bp = Blueprint(__name__)
auth = lazy_module("sos1379.coordinators.auth")
reporting = lazy_module("sos1379.coordinators.reporting")
svc = lazy_module("sos1379.coordinators.service")

_JSON_TYPES = ["application/json"]
_NO_STORE = {"Cache-Control": "no-store"}


def _staff() -> auth.Staff:
    return auth.authenticate(header(bp.current_request, "Authorization"))


def _optional_body() -> object:
    return json_body(bp.current_request) if bp.current_request.raw_body else {}


@route(bp, "/coordinator/queue", methods=["GET"], limit="staff")
def get_queue():
    return json_response(svc.triage_queue(get_store(), _staff()), headers=_NO_STORE)


@route(bp, "/coordinator/cases", methods=["POST"], content_types=_JSON_TYPES, limit="staff")
def record_intake():
    staff, request = _staff(), bp.current_request
    receipt, created = svc.counselor_intake(get_store(), staff, json_body(request),
                                            idempotency_key=header(request, "Idempotency-Key"))
    return json_response(receipt, 201, {"Location": f"/coordinator/cases/{receipt['case_id']}",
                                        "Idempotent-Replayed": "false" if created else "true"})


@route(bp, "/coordinator/cases/{case_id}", methods=["GET"], limit="staff")
def get_case_detail(case_id: str):
    return json_response(svc.case_detail(get_store(), _staff(), case_id), headers=_NO_STORE)


@route(bp, "/coordinator/cases/{case_id}/assign", methods=["POST"], content_types=_JSON_TYPES, limit="staff")
def assign_case(case_id: str):
    staff = _staff()
    return json_response(svc.assign(get_store(), staff, case_id, json_body(bp.current_request)))


@route(bp, "/coordinator/cases/{case_id}/reroute", methods=["POST"], content_types=_JSON_TYPES, limit="staff")
def reroute_case(case_id: str):
    staff = _staff()
    return json_response(svc.reroute(get_store(), staff, case_id, json_body(bp.current_request)), 202)


@route(bp, "/coordinator/cases/{case_id}/notes", methods=["POST"], content_types=_JSON_TYPES, limit="staff")
def add_note(case_id: str):
    staff = _staff()
    return json_response(svc.add_note(get_store(), staff, case_id, json_body(bp.current_request)), 201)


@route(bp, "/coordinator/cases/{case_id}/request-info", methods=["POST"], content_types=_JSON_TYPES, limit="staff")
def request_info(case_id: str):
    staff = _staff()
    return json_response(svc.request_info(get_store(), staff, case_id, json_body(bp.current_request)))


@route(bp, "/coordinator/cases/{case_id}/guidance", methods=["POST"], content_types=_JSON_TYPES, limit="staff")
def record_guidance(case_id: str):
    staff = _staff()
    return json_response(svc.record_guidance(get_store(), staff, case_id, json_body(bp.current_request)))


@route(bp, "/coordinator/cases/{case_id}/handoff", methods=["POST"], content_types=_JSON_TYPES, limit="staff")
def handoff_case(case_id: str):
    staff = _staff()
    return json_response(svc.handoff(get_store(), staff, case_id, json_body(bp.current_request)))


@route(bp, "/coordinator/cases/{case_id}/close", methods=["POST"], content_types=_JSON_TYPES, limit="staff")
def close_case(case_id: str):
    staff = _staff()
    return json_response(svc.close(get_store(), staff, case_id, _optional_body()))


@route(bp, "/stats", methods=["GET"], limit="staff")
def get_stats():
    staff = _staff()
    query = bp.current_request.query_params or {}
    stats = reporting.stats_for_staff(get_store(), staff, query.get("month"))
    if query.get("format") == "csv":
        return Response(body=reporting.to_csv(stats), status_code=200, headers={
            "Content-Type": "text/csv; charset=utf-8", **_NO_STORE,
            "Content-Disposition": f'attachment; filename="sos1379-{stats["month"]}.csv"'})
    return json_response(stats, headers=_NO_STORE)


@route(bp, "/cases/{case_id}/rating", methods=["POST"], content_types=_JSON_TYPES, limit="lookup")
def rate_case(case_id: str):
    request = bp.current_request
    token = header(request, "X-Tracking-Token") or (request.query_params or {}).get("token")
    return json_response(svc.rate_case(get_store(), case_id, token, json_body(request)), 201)


# --- OpenAPI -----------------------------------------------------------------------------------

_PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_AUTH = {"name": "Authorization", "in": "header", "required": True,
         "description": "Bearer <JWT> (Cognito; locally `sos1379 token`)", "schema": {"type": "string"}}
_CASE = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
_OK = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
_ERRORS = {"401": {"description": "Missing or invalid token", **_PROBLEM},
           "403": {"description": "Role too low", **_PROBLEM}}


def openapi_models() -> dict:
    return {"CounselorCaseSubmission": CounselorCaseSubmission, "CoordinatorAssign": svc.AssignInput,
            "CoordinatorReroute": svc.RerouteInput, "CoordinatorNote": svc.NoteInput,
            "CoordinatorRequestInfo": svc.RequestInfoInput, "CoordinatorGuidance": svc.GuidanceInput,
            "CoordinatorHandoff": svc.HandoffInput, "CoordinatorClose": svc.CloseInput,
            "Rating": svc.RatingInput}


def _action(summary: str, body: dict | None, ok: str = "200", role: str = "coordinator") -> dict:
    op = {"summary": f"{summary} ({role}+)", "parameters": [_AUTH, _CASE],
          "responses": {ok: _OK, **_ERRORS, "404": {"description": "Unknown case", **_PROBLEM},
                        "409": {"description": "Not allowed in the case's status", **_PROBLEM},
                        "415": {"description": "Unsupported media type"},
                        "422": {"description": "Invalid fields", **_PROBLEM}}}
    if body is not None:
        op["requestBody"] = body
    return {"post": op}


_STR = {"type": "string"}
OPENAPI_PATHS = {
    "/coordinator/queue": {"get": {"summary": "Triage queue (counselor+)", "parameters": [_AUTH],
                                   "responses": {"200": _OK, **_ERRORS}}},
    "/coordinator/cases": {"post": {
        "summary": "Record a 1379 call or walk-in visit on the SME's behalf (counselor+)",
        "parameters": [_AUTH, {"name": "Idempotency-Key", "in": "header", "required": False, "schema": _STR}],
        "requestBody": body_ref("CounselorCaseSubmission"),
        "responses": {"201": _OK, **_ERRORS, "415": {"description": "Unsupported media type"},
                      "422": {"description": "Invalid fields", **_PROBLEM}}}},
    "/coordinator/cases/{case_id}": {"get": {
        "summary": "Case detail with the full history, internal notes included (counselor+)",
        "parameters": [_AUTH, _CASE],
        "responses": {"200": _OK, **_ERRORS, "404": {"description": "Unknown case", **_PROBLEM}}}},
    "/coordinator/cases/{case_id}/assign": _action("Assign to a coordinator",
                                                   body_ref("CoordinatorAssign")),
    "/coordinator/cases/{case_id}/reroute": _action(
        "Re-refer to chosen institutes through the referral fan-out",
        body_ref("CoordinatorReroute"), ok="202"),
    "/coordinator/cases/{case_id}/notes": _action("Add an internal note", body_ref("CoordinatorNote"),
                                                  ok="201", role="counselor"),
    "/coordinator/cases/{case_id}/request-info": _action("Ask the SME for information (pauses the SLA clocks)",
                                                         body_ref("CoordinatorRequestInfo"), role="counselor"),
    "/coordinator/cases/{case_id}/guidance": _action(
        "Record guidance given (e.g. by phone); stops the first-guidance clock",
        body_ref("CoordinatorGuidance"), role="counselor"),
    "/coordinator/cases/{case_id}/handoff": _action(
        "Hand off to a partner (CCEI of the company's region, or BIZINFO1357)",
        body_ref("CoordinatorHandoff")),
    "/coordinator/cases/{case_id}/close": _action("Close the case", body_ref("CoordinatorClose", required=False)),
    "/stats": {"get": {"summary": "Monthly statistics (coordinator+)",
                       "parameters": [_AUTH, {"name": "month", "in": "query", "required": False,
                                              "schema": {"type": "string", "pattern": r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$"}},
                                             {"name": "format", "in": "query", "required": False,
                                              "schema": {"type": "string", "enum": ["json", "csv"]}}],
                       "responses": {"200": {"description": "OK (format=csv: the report as CSV)", "content": {
                           "application/json": {"schema": {"type": "object"}},
                           "text/csv": {"schema": {"type": "string"}}}},
                           **_ERRORS, "422": {"description": "Bad month", **_PROBLEM}}}},
    "/cases/{case_id}/rating": {"post": {
        "summary": "Rate the help once the case is resolved (tracking token)",
        "parameters": [_CASE, {"name": "X-Tracking-Token", "in": "header", "required": False, "schema": _STR},
                       {"name": "token", "in": "query", "required": False, "schema": _STR}],
        "requestBody": body_ref("Rating"),
        "responses": {"201": _OK, "404": {"description": "Unknown case or wrong token", **_PROBLEM},
                      "409": {"description": "Not resolved yet, or already rated", **_PROBLEM},
                      "415": {"description": "Unsupported media type"},
                      "422": {"description": "Invalid fields", **_PROBLEM}}}},
}
