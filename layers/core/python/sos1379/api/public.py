"""Public SME endpoints: submit a case, track it, the service types and the institute directory."""
from __future__ import annotations

from chalice import Blueprint

from .. import intake
from ..directory import load_directory, load_services
from .common import get_store, header, json_body, json_response, route

bp = Blueprint(__name__)


@route(bp, "/cases", methods=["POST"], content_types=["application/json"])
def submit_case():
    request = bp.current_request
    receipt, created = intake.submit_case(get_store(), json_body(request),
                                          idempotency_key=header(request, "Idempotency-Key"))
    return json_response(receipt, 201, {"Location": f"/cases/{receipt['case_id']}",
                                        "Idempotent-Replayed": "false" if created else "true"})


@route(bp, "/cases/{case_id}", methods=["GET"])
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
