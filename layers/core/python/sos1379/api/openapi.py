"""The OpenAPI 3.1 document of the public API, assembled from each blueprint's ``OPENAPI_PATHS``
and the pydantic models, so the schema and the validation are the same code."""
from __future__ import annotations

import copy
import importlib
from functools import lru_cache

from chalice import Blueprint

from .common import json_response, route

bp = Blueprint(__name__)

# Blueprint modules whose OPENAPI_PATHS make up the document (app.py registers the same list).
MODULES = ["public", "institutes", "coordinators", "links", "catalog", "journey", "console", "partners", "recover",
           "attachments", "equipment", "verify"]

_PROBLEM = {"description": "Problem details (RFC 9457), Korean and English",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def problem(description: str) -> dict:
    return {**_PROBLEM, "description": description}


def body_ref(name: str, required: bool = True) -> dict:
    """A JSON request body whose schema is the component ``name`` (a model of a blueprint's ``openapi_models()``)."""
    return {"required": required, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def model_schemas() -> dict:
    """Every request model of every blueprint (``openapi_models()``: component name -> the pydantic
    model the service validates with), as JSON Schema components: the document and the
    validation are one definition. A function, not a constant: the models live in the service
    modules, which a blueprint loads only when a request (or this document) needs them."""
    components: dict = {}
    for name in MODULES:
        module = importlib.import_module(f"{__package__}.{name}")
        # ``openapi_models()`` when the models live in a service module the blueprint loads lazily,
        # else a plain ``OPENAPI_MODELS`` dict
        models = module.openapi_models() if hasattr(module, "openapi_models") else getattr(module, "OPENAPI_MODELS", {})
        for component, model in models.items():
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.pop("$defs", {}))
            components[component] = schema
    return components


_EDGE_RESPONSES = {
    "413": "Body larger than the limit",
    "415": "Unsupported media type (send Content-Type: application/json)",
    "422": "Invalid body or fields",
    "429": "Too many requests from this client; see Retry-After",
}


def _with_edge_responses(paths: dict) -> dict:
    """Answers the edge gives any JSON POST before its view runs (body checks, rate limits), and
    429 on every rate-limited operation."""
    from .common import RATE_LIMITED

    limited = {(p, m.lower()) for p, m in RATE_LIMITED}
    for path, ops in paths.items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            codes = ["413", "415", "422"] if method == "post" else []
            if (path, method) in limited:
                codes.append("429")
            for code in codes:
                responses.setdefault(code, problem(_EDGE_RESPONSES[code]))
    return paths


@lru_cache(maxsize=1)
def document() -> dict:
    paths: dict = {}
    for name in MODULES:
        module = importlib.import_module(f"{__package__}.{name}")
        for path, ops in getattr(module, "OPENAPI_PATHS", {}).items():
            paths.setdefault(path, {}).update(copy.deepcopy(ops))
    paths = _with_edge_responses(paths)
    components = model_schemas()
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
