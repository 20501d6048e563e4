"""Attachment routes (sos1379.attachments): upload slots (presigned POST), listings and short-lived
presigned GETs. The SME uses its tracking token, institutes their key or staff token, coordinators
their JWT; a file the caller may not open answers 404 like a file that does not exist."""
from __future__ import annotations

from functools import cache

from chalice import Blueprint

from ..lazy import lazy_module
from .common import get_store, header, json_body, json_response, route
from .openapi import body_ref

bp = Blueprint(__name__)
attachments = lazy_module("sos1379.attachments")  # loaded by the first file request, not at cold start

_JSON_TYPES = ["application/json"]
_NO_STORE = {"Cache-Control": "no-store"}


def _token() -> str | None:
    request = bp.current_request
    return header(request, "X-Tracking-Token") or (request.query_params or {}).get("token")


def _institute() -> str:
    from .institutes import institute_of

    return institute_of(bp.current_request)


def _staff_counselor() -> None:
    from ..coordinators import auth

    auth.require(auth.authenticate(header(bp.current_request, "Authorization")), "counselor")


@route(bp, "/cases/{case_id}/attachments", methods=["POST"], content_types=_JSON_TYPES, limit="lookup")
def sme_upload(case_id: str):
    body = json_body(bp.current_request)
    return json_response(attachments.create_sme_upload(get_store(), case_id, _token(), body), 201, _NO_STORE)


@route(bp, "/cases/{case_id}/attachments", methods=["GET"], limit="lookup")
def sme_list(case_id: str):
    return json_response(attachments.list_for_sme(get_store(), case_id, _token()), headers=_NO_STORE)


@route(bp, "/cases/{case_id}/attachments/{attachment_id}", methods=["GET"], limit="lookup")
def sme_open(case_id: str, attachment_id: str):
    return json_response(attachments.open_for_sme(get_store(), case_id, _token(), attachment_id), headers=_NO_STORE)


@route(bp, "/institute/referrals/{case_id}/attachments", methods=["POST"], content_types=_JSON_TYPES,
       limit="institute")
def institute_upload(case_id: str):
    code = _institute()
    body = json_body(bp.current_request)
    return json_response(attachments.create_institute_upload(get_store(), code, case_id, body), 201, _NO_STORE)


@route(bp, "/institute/referrals/{case_id}/attachments", methods=["GET"], limit="institute")
def institute_list(case_id: str):
    return json_response(attachments.list_for_institute(get_store(), _institute(), case_id), headers=_NO_STORE)


@route(bp, "/institute/referrals/{case_id}/attachments/{attachment_id}", methods=["GET"], limit="institute")
def institute_open(case_id: str, attachment_id: str):
    code = _institute()
    return json_response(attachments.open_for_institute(get_store(), code, case_id, attachment_id),
                         headers=_NO_STORE)


@route(bp, "/coordinator/cases/{case_id}/attachments", methods=["GET"], limit="staff")
def staff_list(case_id: str):
    _staff_counselor()
    return json_response(attachments.list_for_staff(get_store(), case_id), headers=_NO_STORE)


@route(bp, "/coordinator/cases/{case_id}/attachments/{attachment_id}", methods=["GET"], limit="staff")
def staff_open(case_id: str, attachment_id: str):
    _staff_counselor()
    return json_response(attachments.open_for_staff(get_store(), case_id, attachment_id), headers=_NO_STORE)


# --------------------------------------------------------------------------- OpenAPI

_PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_CASE = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
_ATTACHMENT = {"name": "attachment_id", "in": "path", "required": True, "schema": {"type": "string"}}
_TOKEN = [{"name": "X-Tracking-Token", "in": "header", "required": False, "schema": {"type": "string"}},
          {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}}]
_KEY = {"name": "X-Api-Key", "in": "header", "required": False, "schema": {"type": "string"},
        "description": "The institute's API key (or an institute user's Authorization: Bearer token)"}
_AUTH = {"name": "Authorization", "in": "header", "required": True, "schema": {"type": "string"},
         "description": "Bearer <JWT> (Cognito; locally `sos1379 token`)"}


def _err(description: str) -> dict:
    return {"description": description, **_PROBLEM}


_ITEM = {"type": "object", "properties": {
    "attachment_id": {"type": "string"}, "filename": {"type": "string"}, "content_type": {"type": "string"},
    "size": {"type": ["integer", "null"]}, "message": {"type": "string"},
    "status": {"type": "string", "enum": ["awaiting_upload", "processing", "scanning", "available", "rejected",
                                          "blocked"]},
    "uploaded_by": {"type": "object"}, "created_at": {"type": "string"}, "can_open": {"type": "boolean"}}}
_LIST = {"description": "The case's files (metadata only)", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"attachments": {"type": "array", "items": _ITEM}}}}}}
_SLOT = {"description": "Upload slot: POST the file to `upload.url` as multipart/form-data with every "
                        "`upload.fields` entry and the file last, under `file` (S3 checks type, size and key)",
         "content": {"application/json": {"schema": {"type": "object", "properties": {
             "attachment_id": {"type": "string"}, "status": {"type": "string"}, "message": {"type": "string"},
             "upload": {"type": "object", "properties": {
                 "method": {"type": "string"}, "url": {"type": "string"}, "fields": {"type": "object"},
                 "file_field": {"type": "string"}, "max_bytes": {"type": "integer"},
                 "expires_at": {"type": "string"}}}}}}}}


def openapi_models() -> dict:
    from ..models import UploadRequest

    return {"AttachmentUpload": UploadRequest}


def __getattr__(name: str):
    # OPENAPI_PATHS quotes the service's limits, so it is built with the document, not at import
    if name == "OPENAPI_PATHS":
        return _openapi_paths()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _openapi_paths() -> dict:
    opened = {"description": f"A presigned GET, valid {attachments.DOWNLOAD_SECONDS} s",
             "content": {"application/json": {"schema": {"type": "object", "properties": {
                 "attachment_id": {"type": "string"}, "filename": {"type": "string"},
                 "content_type": {"type": "string"}, "url": {"type": "string"}, "expires_in": {"type": "integer"}}}}}}
    limits = (f"Types: {', '.join(attachments.TYPES)}; images up to 10 MB, PDF up to 20 MB; at most "
               f"{attachments.MAX_PER_MESSAGE} files a message and {attachments.MAX_PER_CASE} a case. Images are "
               "re-encoded without EXIF/GPS; every file is malware-scanned before anyone can open it.")
    return {
        "/cases/{case_id}/attachments": {
            "post": {"summary": "The SME asks for an upload slot (intake, or a reply to an information request). "
                                + limits,
                     "tags": ["public"], "parameters": [_CASE, *_TOKEN], "requestBody": body_ref("AttachmentUpload"),
                     "responses": {"201": _SLOT, "404": _err("Unknown case or wrong token"),
                                   "409": _err("The case is not open for files"),
                                   "422": _err("Type, size, count or purpose refused")}},
            "get": {"summary": "The case's files as the SME sees them (names and states; institute answers can be "
                               "opened)", "tags": ["public"], "parameters": [_CASE, *_TOKEN],
                    "responses": {"200": _LIST, "404": _err("Unknown case or wrong token")}}},
        "/cases/{case_id}/attachments/{attachment_id}": {"get": {
            "summary": "Open a file an institute sent with its answer (presigned GET)", "tags": ["public"],
            "parameters": [_CASE, _ATTACHMENT, *_TOKEN],
            "responses": {"200": opened, "404": _err("Unknown, not yet scanned, refused, or not the SME's to open")}}},
        "/institute/referrals/{case_id}/attachments": {
            "post": {"summary": "Upload slot for a file with the institute's answer (accepted referrals). " + limits,
                     "tags": ["institutes"], "parameters": [_KEY, _CASE], "requestBody": body_ref("AttachmentUpload"),
                     "responses": {"201": _SLOT, "401": _err("Missing, unknown or revoked API key"),
                                   "404": _err("No such referral for this institute"),
                                   "409": _err("The referral is not accepted"),
                                   "422": _err("Type, size or count refused")}},
            "get": {"summary": "The case's files this institute may open (the SME's and its own)", "tags": ["institutes"],
                    "parameters": [_KEY, _CASE],
                    "responses": {"200": _LIST, "401": _err("Missing, unknown or revoked API key"),
                                  "404": _err("No such referral for this institute")}}},
        "/institute/referrals/{case_id}/attachments/{attachment_id}": {"get": {
            "summary": "Open a file of the case (presigned GET)", "tags": ["institutes"],
            "parameters": [_KEY, _CASE, _ATTACHMENT],
            "responses": {"200": opened, "401": _err("Missing, unknown or revoked API key"),
                          "404": _err("No such referral or file, or the file is not scanned clean")}}},
        "/coordinator/cases/{case_id}/attachments": {"get": {
            "summary": "Every file of the case with its state (counselor+)", "tags": ["coordinators"],
            "parameters": [_AUTH, _CASE],
            "responses": {"200": _LIST, "401": _err("Missing or invalid token"), "403": _err("Role too low"),
                          "404": _err("Unknown case")}}},
        "/coordinator/cases/{case_id}/attachments/{attachment_id}": {"get": {
            "summary": "Open a file of the case (counselor+; presigned GET)", "tags": ["coordinators"],
            "parameters": [_AUTH, _CASE, _ATTACHMENT],
            "responses": {"200": opened, "401": _err("Missing or invalid token"), "403": _err("Role too low"),
                          "404": _err("Unknown file, or not scanned clean")}}},
    }
