"""The HTML pages and their static files through Chalice (no browser): headers, languages,
placeholders, page data, caching and the stage prefix."""
from __future__ import annotations

import json
import re

import pytest
from chalice.test import Client

from app import app
from sos1379 import web


@pytest.fixture
def client():
    with Client(app) as c:
        yield c


def page_data(html: str) -> dict:
    match = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


@pytest.mark.parametrize("path", ["/", "/track"])
def test_pages_are_html_with_security_headers_when_requested(client, path):
    resp = client.http.get(path)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "{{" not in resp.body.decode()


def test_tracking_page_is_never_cached_when_it_carries_a_token(client):
    assert client.http.get("/track?case=x&token=y").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("lang,heading,switch", [("ko", "기술지원 신청", "English"),
                                                 ("en", "Request technology support", "한국어")])
def test_intake_page_is_rendered_in_the_asked_language_when_lang_is_given(client, lang, heading, switch):
    html = client.http.get(f"/?lang={lang}").body.decode()
    assert f'<html lang="{lang}">' in html
    assert f'data-i18n="intake.title">{heading}</h1>' in html
    assert re.search(rf'id="lang-switch"[^>]*>{switch}</a>', html)


def test_unknown_language_falls_back_to_korean_when_lang_is_unsupported(client):
    assert '<html lang="ko">' in client.http.get("/?lang=xx").body.decode()


def test_intake_page_embeds_regions_and_services_when_rendered(client):
    data = page_data(client.http.get("/").body.decode())
    assert len(data["regions"]) == 17
    assert {"code": "gangwon", "ko": "강원특별자치도", "en": "Gangwon"} in data["regions"]
    assert {s["code"] for s in data["services"]} == {"tech_consult", "equipment", "tech_transfer", "investment",
                                                     "tech_upgrade"}
    assert set(data["i18n"]) == {"ko", "en"}


def test_page_data_cannot_close_its_script_block_when_strings_contain_markup():
    assert "</script>" not in web._json_for_script({"x": "</script><script>alert(1)</script>"})
    assert json.loads(web._json_for_script({"x": "</script>"})) == {"x": "</script>"}


def test_privacy_notice_states_purpose_items_retention_and_refusal_when_rendered(client):
    html = client.http.get("/").body.decode()
    for key in ("consent.purpose", "consent.items", "consent.retention", "consent.refuse", "consent.share_to",
                "consent.share_items", "consent.share_refuse"):
        assert web.i18n()["ko"][key] in html
    assert 'id="f-consent-personal_info"' in html and 'id="f-consent-share_with_institutes"' in html


def test_both_languages_have_the_same_strings_when_i18n_is_loaded():
    strings = web.i18n()
    assert set(strings["ko"]) == set(strings["en"])
    assert all(v.strip() for lang in strings.values() for v in lang.values())


def test_every_api_field_has_an_input_and_an_error_slot_when_the_form_is_rendered(client):
    from sos1379.models import CaseSubmission

    html = client.http.get("/").body.decode()

    def leaves(model, prefix=""):
        for name, field in model.model_fields.items():
            sub = getattr(field.annotation, "model_fields", None)
            yield from leaves(field.annotation, f"{prefix}{name}.") if sub else [f"{prefix}{name}"]

    for path in leaves(CaseSubmission):
        ident = path.replace(".", "-")
        assert f'id="f-{ident}"' in html, path
        if path != "channel":  # set by the page, not typed
            assert f'id="e-{ident}"' in html, path


def test_static_files_are_served_with_their_type_and_etag_when_listed(client):
    css = client.http.get("/static/app.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert css.headers["Cache-Control"] == "no-cache"
    js = client.http.get("/static/app.js")
    assert js.headers["Content-Type"].startswith("text/javascript")
    again = client.http.get("/static/app.js", headers={"If-None-Match": js.headers["ETag"]})
    assert again.status_code == 304 and again.body == b""


def test_versioned_static_urls_are_cached_for_good_when_the_hash_matches(client):
    version = web.static_asset("app.css").version
    assert f"static/app.css?v={version}" in client.http.get("/").body.decode()
    resp = client.http.get(f"/static/app.css?v={version}")
    assert "immutable" in resp.headers["Cache-Control"]
    assert client.http.get("/static/app.css?v=old").headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("name", ["index.html", "__init__.py", "..%2Fmodels.py", "nope.css"])
def test_unlisted_static_names_get_404_problem_when_requested(client, name):
    resp = client.http.get(f"/static/{name}")
    assert resp.status_code == 404
    assert resp.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("path,resource,base", [
    ("/", "/", "/"), ("/Prod/", "/", "/Prod/"), ("/Prod", "/", "/Prod/"), ("/track", "/track", "/"),
    ("/Prod/track", "/track", "/Prod/"), (None, None, "/"), ('/"><script>/track', "/track", "/"),
])
def test_base_href_keeps_the_stage_prefix_when_served_under_a_stage(path, resource, base):
    assert web.base_href(path, resource) == base


def test_track_language_switch_keeps_case_and_token_when_rendered():
    html = web.render_page("track", "ko", "/", {"case": "abc", "token": "t&k", "other": "x"})
    assert 'href="track?case=abc&amp;token=t%26k&amp;lang=en"' in html



def test_openapi_document_leaves_the_html_pages_out_when_served(client):
    paths = client.http.get("/openapi.json").json_body["paths"]
    assert not {"/", "/track", "/static/{name}"} & set(paths)
