"""GET /catalog/search through Chalice's test client (blueprint mounted on a bare app)."""
from __future__ import annotations

import pytest
from chalice import Chalice
from chalice.test import Client

from sos1379.api import catalog as catalog_api
from sos1379.catalog import service
from sos1379.catalog.index import CatalogIndex, IndexBuilder, doc_of, index_tokens
from sos1379.catalog.models import EquipmentRecord, PatentRecord
from sos1379.text import analyze


@pytest.fixture(scope="module")
def built_index(tmp_path_factory):
    builder = IndexBuilder()
    records = [
        PatentRecord(source="patents", source_id="1020120086766", application_number="1020120086766",
                     title="레이저 용접 이음부의 균열 저감 방법", institute="KITECH", institution="한국생산기술연구원",
                     region="chungnam", url="https://tech.example/1020120086766"),
        EquipmentRecord(source="zeus", source_id="Z1", title="파이버 레이저 용접기", institute="KITECH",
                        institution="한국생산기술연구원", region="incheon", url="https://zeus.example/Z1"),
        EquipmentRecord(source="zeus", source_id="Z2", title="투과전자현미경", institute="KBSI", region="daejeon"),
    ]
    for r in records:
        builder.upsert(doc_of(r, index_tokens(r, analyze)))
    directory = tmp_path_factory.mktemp("api-index")
    builder.write(directory)
    return CatalogIndex(directory, "api-test")


@pytest.fixture
def client(built_index):
    app = Chalice(app_name="catalog-test")
    app.register_blueprint(catalog_api.bp)
    service.set_index(built_index)
    with Client(app) as c:
        yield c
    service.set_index(None)


def test_search_returns_ranked_hits_with_links_institutes_and_highlights_when_asked_in_korean(client):
    resp = client.http.get("/catalog/search?q=%EC%9A%A9%EC%A0%91%20%EB%B6%80%EC%9C%84%EC%97%90%20%EA%B7%A0%EC%97%B4")  # 용접 부위에 균열
    assert resp.status_code == 200
    body = resp.json_body
    assert body["total"] == 2 and body["hits"][0]["id"] == "1020120086766"
    assert body["hits"][0]["institute"] == "KITECH" and body["hits"][0]["url"].startswith("https://")
    assert "<mark>" in body["hits"][0]["highlight"]["title"] and body["index"]["build_id"] == "api-test"


def test_search_filters_by_type_and_region_when_given(client):
    body = client.http.get("/catalog/search?q=%EC%9A%A9%EC%A0%91&type=equipment&region=%EC%9D%B8%EC%B2%9C").json_body
    assert [h["id"] for h in body["hits"]] == ["Z1"]


def test_bad_parameters_are_422_problems_in_both_languages_when_invalid(client):
    resp = client.http.get("/catalog/search?type=book&page_size=500")
    assert resp.status_code == 422 and resp.headers["Content-Type"] == "application/problem+json"
    fields = {e["field"] for e in resp.json_body["errors"]}
    assert fields == {"q", "type", "page_size"}
    assert all(e["message_ko"] and e["message_en"] for e in resp.json_body["errors"])


def test_search_is_empty_with_no_index_when_nothing_was_synced_yet(client, monkeypatch):
    service.set_index(None)
    monkeypatch.delenv("CATALOG_BUCKET", raising=False)
    service.get_catalog_settings.cache_clear()
    body = client.http.get("/catalog/search?q=%EC%9A%A9%EC%A0%91").json_body
    assert body["total"] == 0 and body["index"] is None
    assert service.evidence("용접") == []
