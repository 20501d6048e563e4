"""Short tracking links sent in SMS: ``GET /t/{token}`` redirects to the tracking page (the link
token is also accepted by ``intake.load_case_for_sme``)."""
from __future__ import annotations

from chalice import Blueprint, Response

from ..lazy import lazy_module
from .common import get_store, route

bp = Blueprint(__name__)
links = lazy_module("sos1379.notify.links")


@route(bp, "/t/{token}", methods=["GET"], limit="lookup")
def short_link(token: str):
    query = bp.current_request.query_params or {}
    lang = query.get("lang") if query.get("lang") in ("ko", "en") else None
    target = links.redirect_target(get_store(), token, survey=query.get("s") == "1", language=lang)
    return Response(body="", status_code=302, headers={"Location": target, "Cache-Control": "no-store",
                                                       "Referrer-Policy": "no-referrer"})


OPENAPI_PATHS = {
    "/t/{token}": {"get": {
        "tags": ["public"], "summary": "Short tracking link from an SMS: redirects to the tracking page",
        "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}},
                       {"name": "s", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["1"]}, "description": "1: open the satisfaction survey"},
                       {"name": "lang", "in": "query", "required": False, "schema": {"type": "string", "enum": ["ko", "en"]},
                        "description": "page language (default: the case's language)"}],
        "responses": {"302": {"description": "Redirect to ../track?case=...&token=...&lang=..."},
                      "404": {"description": "Unknown or expired link",
                              "content": {"application/problem+json": {
                                  "schema": {"$ref": "#/components/schemas/Problem"}}}}}}},
}
