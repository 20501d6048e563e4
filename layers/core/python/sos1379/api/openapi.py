"""The OpenAPI 3.1 document of the public API, assembled from each blueprint's ``OPENAPI_PATHS``
and the pydantic models, so the schema and the validation are the same code."""
from __future__ import annotations

import importlib
from functools import lru_cache

from chalice import Blueprint

from .common import json_response, route

bp = Blueprint(__name__)

# Blueprint modules whose OPENAPI_PATHS make up the document (app.py registers the same list).
MODULES = ["public", "institutes", "coordinators", "links", "catalog", "journey", "console", "partners", "recover"]

_PROBLEM = {"description": "Problem details (RFC 9457), Korean and English",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def problem(description: str) -> dict:
    return {**_PROBLEM, "description": description}


@lru_cache(maxsize=1)
def document() -> dict:
    from ..models import CaseSubmission

    paths: dict = {}
    for name in MODULES:
        module = importlib.import_module(f"{__package__}.{name}")
        for path, ops in getattr(module, "OPENAPI_PATHS", {}).items():
            paths.setdefault(path, {}).update(ops)
    schemas = CaseSubmission.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schemas.pop("$defs", {})
    components["CaseSubmission"] = schemas
    components["Problem"] = {
        "type": "object", "required": ["type", "title", "status"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "title_ko": {"type": "string"},
                       "status": {"type": "integer"}, "detail": {"type": "string"},
                       "detail_ko": {"type": "string"},
                       "errors": {"type": "array", "items": {"type": "object", "properties": {
                           "field": {"type": "string"}, "code": {"type": "string"},
                           "message_ko": {"type": "string"}, "message_en": {"type": "string"}}}}}}
    return {"openapi": "3.1.0",
            "info": {"title": "SOS 1379 API", "version": "1.0.0",
                     "description": "One-stop technology support for SMEs (기업공감 원스톱서비스 1379)."},
            "paths": paths, "components": {"schemas": components}}


@route(bp, "/openapi.json", methods=["GET"])
def get_openapi():
    return json_response(document())
