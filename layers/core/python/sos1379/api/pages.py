"""Public HTML pages: the intake form at ``/``, the tracking page at ``/track`` and their static
files. These are not JSON API operations, so this module has no OPENAPI_PATHS and is not in
openapi.MODULES (tests/unit/test_template.py leaves ``/``, ``/track`` and ``/static/*`` out of the
document on purpose); they are still API Gateway resources in template.yaml like every route."""
from __future__ import annotations

from chalice import Blueprint, Response

from .. import web
from .common import header, problem, route

bp = Blueprint(__name__)


def _html(page: str, cache: str) -> Response:
    request = bp.current_request
    query = request.query_params or {}
    context = request.context or {}
    base = web.base_href(context.get("path"), context.get("resourcePath"))
    body = web.render_page(page, web.language(query.get("lang")), base, query)
    return Response(body=body, status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": cache, **web.SECURITY_HEADERS,
        "Content-Security-Policy": _page_policy()})


def _page_policy() -> str:
    """The pages' policy, plus the attachments bucket's origin: the browser POSTs files there."""
    from ..attachments import upload_origin

    policy = web.SECURITY_HEADERS["Content-Security-Policy"]
    try:
        origin = upload_origin()
    except Exception:  # noqa: BLE001 - no upload origin: the pages still work, uploads are refused by CSP
        origin = None
    return policy.replace("connect-src 'self'", f"connect-src 'self' {origin}") if origin else policy


@route(bp, "/", methods=["GET"])
def intake_page():
    return _html("intake", "no-cache")


@route(bp, "/track", methods=["GET"])
def track_page():
    # The URL carries the tracking token: keep the page out of every cache.
    return _html("track", "no-store")


@route(bp, "/static/{name}", methods=["GET"])
def static_file(name: str):
    asset = web.static_asset(name)
    if asset is None:
        return problem(404, "not-found", "Not found", "찾을 수 없습니다", "No such file.", "파일이 없습니다.")
    request = bp.current_request
    # Pages link assets as ?v=<content hash>: such URLs never change content, so cache them for good.
    versioned = (request.query_params or {}).get("v") == asset.version
    headers = {"Content-Type": asset.content_type, "ETag": asset.etag, "X-Content-Type-Options": "nosniff",
               "Cache-Control": "public, max-age=31536000, immutable" if versioned else "no-cache"}
    if header(request, "If-None-Match") == asset.etag:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=asset.body, status_code=200, headers=headers)

