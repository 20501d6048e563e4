"""The whole journey of a case: the SME withdraws it, the institute starts work on it.

Public routes need the case's tracking token (404 otherwise, like an unknown case); institute
routes need the institute's X-Api-Key (401) and answer 404 for a referral that is not the caller's."""
from __future__ import annotations

from chalice import Blueprint

from ..lazy import lazy_module
from .common import get_store, header, json_body, json_response, route
from .openapi import body_ref

bp = Blueprint(__name__)
companies = lazy_module("sos1379.companies")
followups = lazy_module("sos1379.followups")
merging = lazy_module("sos1379.merging")
withdrawal = lazy_module("sos1379.withdrawal")
auth = lazy_module("sos1379.coordinators.auth")
institutes = lazy_module("sos1379.institutes.service")

_JSON_TYPES = ["application/json"]


def _token() -> str | None:
    request = bp.current_request
    return header(request, "X-Tracking-Token") or (request.query_params or {}).get("token")


def _optional_body() -> object:
    return json_body(bp.current_request) if bp.current_request.raw_body else {}


@route(bp, "/cases/{case_id}/withdraw", methods=["POST"], content_types=_JSON_TYPES, limit="lookup")
def withdraw_case(case_id: str):
    return json_response(withdrawal.withdraw(get_store(), case_id, _token(), _optional_body()))


@route(bp, "/institute/referrals/{case_id}/start", methods=["POST"], content_types=_JSON_TYPES, limit="institute")
def start_referral(case_id: str):
    from .institutes import institute_of

    code = institute_of(bp.current_request)  # API key or institute user's JWT
    return json_response(institutes.start(get_store(), code, case_id))


@route(bp, "/cases/{case_id}/merge-request", methods=["POST"], content_types=_JSON_TYPES, limit="lookup")
def request_merge(case_id: str):
    return json_response(merging.request_merge(get_store(), case_id, _token(), _optional_body()))


def _staff() -> auth.Staff:
    return auth.authenticate(header(bp.current_request, "Authorization"))


@route(bp, "/coordinator/companies/{business_number}", methods=["GET"], limit="staff")
def company_timeline(business_number: str):
    auth.require(_staff(), "counselor")
    key = companies.resolve_company_key(business_number)
    return json_response(companies.company_timeline(get_store(), key), headers={"Cache-Control": "no-store"})


@route(bp, "/coordinator/cases/{case_id}/merge", methods=["POST"], content_types=_JSON_TYPES, limit="staff")
def merge_case(case_id: str):
    staff = _staff()
    return json_response(merging.merge(get_store(), staff, case_id, _optional_body()))


@route(bp, "/cases/{case_id}/follow-up", methods=["POST"], content_types=_JSON_TYPES)
def answer_follow_up(case_id: str):
    return json_response(followups.answer(get_store(), case_id, _token(), _optional_body()))


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


_AUTH = {"name": "Authorization", "in": "header", "required": True,
         "description": "Bearer <JWT> (Cognito; locally `sos1379 token`)", "schema": {"type": "string"}}
_STAFF_ERRORS = {"401": _err("Missing or invalid token"), "403": _err("Role too low")}
# request bodies are the validation models themselves (sos1379.api.openapi.model_schemas)
def openapi_models() -> dict:
    return {"CaseWithdraw": withdrawal.WithdrawInput, "CaseMergeRequest": merging.MergeRequestInput,
            "CoordinatorMerge": merging.MergeInput}

OPENAPI_PATHS = {
    "/cases/{case_id}/withdraw": {"post": {
        "summary": "The SME withdraws its case (open statuses only; repeating it changes nothing)",
        "tags": ["public"], "parameters": [_CASE, *_TOKEN],
        "requestBody": body_ref("CaseWithdraw", required=False),
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
    "/cases/{case_id}/merge-request": {"post": {
        "summary": "The SME says this case is the same problem as an earlier case of its company "
                   "(a coordinator confirms the merge)",
        "tags": ["public"], "parameters": [_CASE, *_TOKEN], "requestBody": body_ref("CaseMergeRequest"),
        "responses": {"200": _OK, "404": _err("Unknown case or wrong token"),
                      "409": _err("The case is no longer open"),
                      "415": {"description": "Unsupported media type"},
                      "422": _err("Invalid fields, or not an earlier case number of the same company")}}},
    "/coordinator/companies/{business_number}": {"get": {
        "summary": "Every case of one company from any channel, newest first (counselor+)",
        "tags": ["coordinators"],
        "parameters": [_AUTH, {"name": "business_number", "in": "path", "required": True,
                               "schema": {"type": "string"},
                               "description": "The business number, or the case's company_key (keeps the "
                                             "number out of access logs)"}],
        "responses": {"200": _OK, **_STAFF_ERRORS, "422": _err("Not a business number or company key")}}},
    "/coordinator/cases/{case_id}/merge": {"post": {
        "summary": "Merge this case into an earlier case of the same company (coordinator+)",
        "tags": ["coordinators"], "parameters": [_AUTH, _CASE], "requestBody": body_ref("CoordinatorMerge"),
        "responses": {"200": _OK, **_STAFF_ERRORS, "404": _err("Unknown case"),
                      "409": _err("Different companies, already merged, or the kept case is closed"),
                      "415": {"description": "Unsupported media type"}, "422": _err("Invalid fields")}}},
    "/cases/{case_id}/follow-up": {"post": {
        "summary": "The SME answers a follow-up check-in (once per stage); next_service_type opens the next "
                   "stage as a linked case",
        "tags": ["public"], "parameters": [_CASE, *_TOKEN],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["stage", "result"], "additionalProperties": False,
            "properties": {"stage": {"type": "string", "enum": ["d30", "d90"]},
                           "result": {"type": "string", "enum": ["solved", "partly", "not"]},
                           "licensed": {"type": "boolean"}, "funded": {"type": "boolean"},
                           "next_service_type": {"type": "string", "enum": ["tech_consult", "equipment",
                                                                             "tech_transfer", "investment",
                                                                             "tech_upgrade"]},
                           "comment": {"type": "string", "maxLength": 1000}}}}}},
        "responses": {"200": _OK, "404": _err("Unknown case or wrong token"),
                      "409": _err("The check-in was not sent yet, or was already answered"),
                      "415": {"description": "Unsupported media type"}, "422": _err("Invalid fields")}}},
}
