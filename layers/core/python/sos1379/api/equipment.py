"""Shared research equipment: search with fees and free slots, reservations from a case (tracking
token), the owning institute's answers (API key or institute user's JWT) and the calendar file.
Domain rules live in sos1379.equipment.service."""
from __future__ import annotations

from chalice import Blueprint, Response

from ..lazy import lazy_module
from .common import NOSNIFF, get_store, header, json_body, json_response, route
from .openapi import body_ref

bp = Blueprint(__name__)
svc = lazy_module("sos1379.equipment.service")  # loaded by the first equipment request, not at cold start

_JSON_TYPES = ["application/json"]


def _ctx() -> svc.EquipmentContext:
    return svc.default_context(get_store())


def _token() -> str | None:
    request = bp.current_request
    return header(request, "X-Tracking-Token") or (request.query_params or {}).get("token")


def _optional_body() -> object:
    return json_body(bp.current_request) if bp.current_request.raw_body else {}


def _institute() -> str:
    from .institutes import institute_of

    return institute_of(bp.current_request)


@route(bp, "/equipment", methods=["GET"])
def search_equipment():
    return json_response(svc.search(_ctx(), bp.current_request.query_params), headers={"Cache-Control": "no-store"})


@route(bp, "/cases/{case_id}/reservations", methods=["POST"], content_types=_JSON_TYPES, limit="lookup")
def create_reservation(case_id: str):
    reservation = svc.reserve(_ctx(), case_id, _token(), json_body(bp.current_request))
    return json_response(reservation, 201, {"Location": f"/cases/{case_id}/reservations/{reservation['reservation_id']}"})


@route(bp, "/cases/{case_id}/reservations/{reservation_id}/cancel", methods=["POST"], content_types=_JSON_TYPES,
       limit="lookup")
def cancel_reservation(case_id: str, reservation_id: str):
    return json_response(svc.sme_cancel(_ctx(), case_id, _token(), reservation_id, _optional_body()))


@route(bp, "/cases/{case_id}/reservations/{reservation_id}/accept", methods=["POST"], content_types=_JSON_TYPES,
       limit="lookup")
def accept_proposal(case_id: str, reservation_id: str):
    return json_response(svc.sme_accept(_ctx(), case_id, _token(), reservation_id))


@route(bp, "/cases/{case_id}/reservations/{reservation_id}/calendar.ics", methods=["GET"], limit="lookup")
def reservation_calendar(case_id: str, reservation_id: str):
    body = svc.calendar_file(_ctx(), case_id, _token(), reservation_id)
    return Response(body=body.decode("utf-8"), status_code=200,
                    headers={"Content-Type": "text/calendar; charset=utf-8", "Cache-Control": "no-store",
                             "Content-Disposition": f'attachment; filename="{reservation_id}.ics"', **NOSNIFF})


@route(bp, "/institute/reservations", methods=["GET"], limit="institute")
def institute_reservations():
    code = _institute()
    status = (bp.current_request.query_params or {}).get("status")
    return json_response(svc.institute_list(_ctx(), code, status), headers={"Cache-Control": "no-store"})


def _answer_route(action: str) -> None:
    """``POST /institute/reservations/{reservation_id}/<action>``: one view a path (API Gateway
    has one resource a path), all the same answer."""
    def answer(reservation_id: str):
        code = _institute()
        return json_response(svc.institute_answer(_ctx(), code, reservation_id, action, _optional_body()))

    answer.__name__ = answer.__qualname__ = f"institute_{action}_reservation"
    route(bp, f"/institute/reservations/{{reservation_id}}/{action}", methods=["POST"], content_types=_JSON_TYPES,
          limit="institute")(answer)


for _action in ("confirm", "propose", "decline", "cancel"):
    _answer_route(_action)


# --------------------------------------------------------------------------- OpenAPI

_PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_STR = {"type": "string"}
_CASE = {"name": "case_id", "in": "path", "required": True, "schema": _STR}
_RID = {"name": "reservation_id", "in": "path", "required": True, "schema": _STR}
_TOKEN = [{"name": "X-Tracking-Token", "in": "header", "required": False, "schema": _STR},
          {"name": "token", "in": "query", "required": False, "schema": _STR}]
_KEY = {"name": "X-Api-Key", "in": "header", "required": False, "schema": _STR,
        "description": "The institute's API key (or `Authorization: Bearer <ID token>` of an institute user)"}
_SLOT = {"type": "object", "required": ["start", "end"], "properties": {"start": _STR, "end": _STR}}
_FEE = {"type": ["object", "null"], "properties": {"unit": {"enum": ["hour", "sample"]},
                                                   "amount_krw": {"type": "integer"}}}
_RESERVATION = {"type": "object", "required": ["reservation_id", "equipment_id", "status", "slot_start", "slot_end"],
                "properties": {"reservation_id": _STR, "equipment_id": _STR, "equipment_name": _STR,
                               "institute": _STR, "fee": _FEE, "slot_start": _STR, "slot_end": _STR,
                               "status": {"enum": ["pending", "proposed", "confirmed", "declined", "cancelled"]},
                               "samples": {"type": "integer"}}}
_ITEM = {"type": "object", "required": ["equipment_id", "name", "institute", "fee", "available_slots"],
         "properties": {"equipment_id": _STR, "name": _STR, "name_en": {"type": ["string", "null"]},
                        "institute": _STR, "institute_name": {"type": ["object", "null"]},
                        "location": {"type": ["string", "null"]}, "region": {"type": ["string", "null"]},
                        "fee": _FEE, "available_slots": {"type": "array", "items": _SLOT}}}


def _ok(schema: dict) -> dict:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict:
    return {"description": description, **_PROBLEM}


def openapi_models() -> dict:
    return {"ReservationRequest": svc.ReservationInput, "ReservationProposal": svc.ProposalInput,
            "ReservationReason": svc.ReasonInput}


_SME_ERRORS = {"404": _err("Unknown case or reservation, or wrong token"),
               "409": _err("The reservation's status does not allow this"),
               "415": {"description": "Unsupported media type"}}
_INSTITUTE_ERRORS = {"401": _err("Missing, unknown or revoked API key"),
                     "404": _err("No such reservation for this institute"),
                     "409": _err("The reservation's status does not allow this, or the slot is taken"),
                     "415": {"description": "Unsupported media type"}}

OPENAPI_PATHS = {
    "/equipment": {"get": {
        "summary": "Find shared research equipment (Korean-aware), with fee and free one-hour slots",
        "tags": ["public"],
        "parameters": [
            {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 500}},
            {"name": "region", "in": "query", "schema": _STR, "description": "시·도 name or code"},
            {"name": "institute", "in": "query", "schema": _STR, "description": "institute code, e.g. KBSI"},
            {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 28}},
            {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 20}}],
        "responses": {"200": _ok({"type": "object", "required": ["items"], "properties": {
            "query": _STR, "total": {"type": "integer"}, "items": {"type": "array", "items": _ITEM}}}),
            "422": _err("Invalid parameters")}}},
    "/cases/{case_id}/reservations": {"post": {
        "summary": "Reserve equipment for a case: 201 pending, 409 when the slot is taken", "tags": ["public"],
        "parameters": [_CASE, *_TOKEN], "requestBody": body_ref("ReservationRequest"),
        "responses": {"201": _ok(_RESERVATION), "404": _err("Unknown case or wrong token"),
                      "409": _err("The slot is taken, or the case is no longer open"),
                      "415": {"description": "Unsupported media type"},
                      "422": _err("Invalid fields (unknown equipment, closed hours, not on the hour ...)"),
                      "503": _err("The equipment source could not be asked; retry")}}},
    "/cases/{case_id}/reservations/{reservation_id}/cancel": {"post": {
        "summary": "The SME cancels its reservation (repeating it changes nothing)", "tags": ["public"],
        "parameters": [_CASE, _RID, *_TOKEN], "requestBody": body_ref("ReservationReason", required=False),
        "responses": {"200": _ok(_RESERVATION), **_SME_ERRORS, "422": _err("Invalid fields")}}},
    "/cases/{case_id}/reservations/{reservation_id}/accept": {"post": {
        "summary": "The SME takes the slot the institute proposed (the reservation is confirmed)", "tags": ["public"],
        "parameters": [_CASE, _RID, *_TOKEN],
        "responses": {"200": _ok(_RESERVATION), **_SME_ERRORS}}},
    "/cases/{case_id}/reservations/{reservation_id}/calendar.ics": {"get": {
        "summary": "The reservation as an iCalendar file (RFC 5545)", "tags": ["public"],
        "parameters": [_CASE, _RID, *_TOKEN],
        "responses": {"200": {"description": "text/calendar", "content": {"text/calendar": {"schema": _STR}}},
                      "404": _err("Unknown case or reservation, or wrong token")}}},
    "/institute/reservations": {"get": {
        "summary": "The institute's equipment reservations (optionally by status)", "tags": ["institutes"],
        "parameters": [_KEY, {"name": "status", "in": "query", "schema": {
            "enum": ["pending", "proposed", "confirmed", "declined", "cancelled"]}}],
        "responses": {"200": _ok({"type": "object"}), "401": _err("Missing, unknown or revoked API key"),
                      "422": _err("Unknown status")}}},
    "/institute/reservations/{reservation_id}/confirm": {"post": {
        "summary": "Confirm a pending reservation (approved at ZEUS too)", "tags": ["institutes"],
        "parameters": [_KEY, _RID], "responses": {"200": _ok(_RESERVATION), **_INSTITUTE_ERRORS}}},
    "/institute/reservations/{reservation_id}/propose": {"post": {
        "summary": "Offer another slot for a pending reservation (the SME accepts or cancels)", "tags": ["institutes"],
        "parameters": [_KEY, _RID], "requestBody": body_ref("ReservationProposal"),
        "responses": {"200": _ok(_RESERVATION), **_INSTITUTE_ERRORS, "422": _err("Invalid fields")}}},
    "/institute/reservations/{reservation_id}/decline": {"post": {
        "summary": "Decline a pending or proposed reservation", "tags": ["institutes"],
        "parameters": [_KEY, _RID], "requestBody": body_ref("ReservationReason", required=False),
        "responses": {"200": _ok(_RESERVATION), **_INSTITUTE_ERRORS, "422": _err("Invalid fields")}}},
    "/institute/reservations/{reservation_id}/cancel": {"post": {
        "summary": "Cancel a reservation (also a confirmed one)", "tags": ["institutes"],
        "parameters": [_KEY, _RID], "requestBody": body_ref("ReservationReason", required=False),
        "responses": {"200": _ok(_RESERVATION), **_INSTITUTE_ERRORS, "422": _err("Invalid fields")}}},
}
