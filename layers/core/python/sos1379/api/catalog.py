"""Catalog search: ``GET /catalog/search?q=...&type=&institute=&region=&page=&page_size=``."""
from __future__ import annotations

from chalice import Blueprint

from ..lazy import lazy_module
from .common import json_response, route

bp = Blueprint(__name__)
catalog = lazy_module("sos1379.catalog.service")


@route(bp, "/catalog/search", methods=["GET"])
def catalog_search():
    return json_response(catalog.search_catalog(bp.current_request.query_params), headers={"Cache-Control": "max-age=60"})


_PROBLEM_REF = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_STR = {"type": "string"}
_HIT = {"type": "object", "required": ["id", "type", "title", "score"], "properties": {
    "key": _STR, "id": _STR, "source": {"enum": ["zeus", "ntis", "patents", "library"]},
    "type": {"enum": ["patent", "paper", "equipment"]}, "title": _STR, "title_en": {"type": ["string", "null"]},
    "snippet": _STR, "institute": {"type": ["string", "null"]}, "institution": {"type": ["string", "null"]},
    "institute_name": {"type": ["object", "null"]}, "region": {"type": ["string", "null"]},
    "url": {"type": ["string", "null"]}, "score": {"type": "number"},
    "highlight": {"type": "object", "description": "HTML-escaped title/snippet with <mark> around matches"}}}
OPENAPI_PATHS = {
    "/catalog/search": {"get": {
        "summary": "Search patents, papers and research equipment (Korean-aware ranking)",
        "parameters": [
            {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 500}},
            {"name": "type", "in": "query", "schema": {"enum": ["patent", "paper", "equipment"]}},
            {"name": "institute", "in": "query", "schema": {"type": "string"}, "description": "institute code, e.g. KITECH"},
            {"name": "region", "in": "query", "schema": {"type": "string"}, "description": "시·도 name or code, e.g. 대전 / daejeon"},
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
            {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50}},
        ],
        "responses": {
            "200": {"description": "Ranked hits (empty with index null while no snapshot exists)",
                    "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "query": _STR, "total": {"type": "integer"}, "page": {"type": "integer"},
                        "page_size": {"type": "integer"}, "hits": {"type": "array", "items": _HIT},
                        "index": {"type": ["object", "null"]}}}}}},
            "422": {"description": "Invalid parameters", **_PROBLEM_REF}}}},
}
