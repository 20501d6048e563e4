"""The search index: Korean ranking, filters, pagination, highlighting, snapshot round trip."""
from __future__ import annotations

import pytest

from sos1379.catalog.index import CatalogIndex, IndexBuilder, doc_of, highlight, index_tokens, pack, unpack
from sos1379.catalog.models import EquipmentRecord, PaperRecord, PatentRecord
from sos1379.catalog.service import SearchQuery, parse_search_params, search
from sos1379.errors import ValidationFailed
from sos1379.text import analyze

RECORDS = [
    PatentRecord(source="patents", source_id="1020120086766", application_number="1020120086766",
                 title="진공 주조를 이용한 알루미늄 다이캐스팅 부품의 기공 결함 저감 방법", institute="KITECH",
                 institution="한국생산기술연구원", region="chungnam", summary="용탕 탈가스로 주조품 기공을 줄인다."),
    PatentRecord(source="patents", source_id="1020150000002", application_number="1020150000002",
                 title="레이저 용접 이음부의 균열 검출 시스템", institute="KIMS", institution="한국재료연구원",
                 region="gyeongnam"),
    EquipmentRecord(source="zeus", source_id="Z1", title="산업용 X선 CT", title_en="industrial X-ray CT",
                    summary="주조품 내부 기공 결함 비파괴 분석", institute="KITECH", institution="한국생산기술연구원",
                    region="incheon"),
    EquipmentRecord(source="zeus", source_id="Z2", title="진공 다이캐스팅기", summary="알루미늄 다이캐스팅 시제품 제작",
                    institute=None, institution="(주)한빛소재", region="gyeonggi"),
    PaperRecord(source="ntis", source_id="P1", title="김치 유산균 스타터 개발 <script>", institute="WIKIM",
                institution="세계김치연구소", summary="발효 식품 과숙성 억제"),
] + [PatentRecord(source="patents", source_id=f"F{i}", application_number=f"F{i}", title=f"다이캐스팅 금형 {i}호 냉각 구조",
                  institute="KITECH") for i in range(25)]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    builder = IndexBuilder()
    for record in RECORDS:
        builder.upsert(doc_of(record, index_tokens(record, analyze)))
    directory = tmp_path_factory.mktemp("snap")
    builder.write(directory)
    return CatalogIndex(directory, "test-build")


def test_korean_problem_finds_the_matching_patent_and_equipment_with_institutes_when_searched(index):
    result = search(SearchQuery("알루미늄 다이캐스팅 부품 내부에 기공이 생겨요"), index)
    top = result["hits"][:3]
    assert top[0]["id"] == "1020120086766" and top[0]["institute"] == "KITECH"
    assert top[0]["institute_name"]["ko"] == "한국생산기술연구원"
    assert {"patent", "equipment"} <= {h["type"] for h in result["hits"][:6]}
    assert "<mark>기공</mark>" in top[0]["highlight"]["title"]


def test_filters_keep_only_matching_type_institute_and_region_when_given(index):
    only_equipment = search(SearchQuery("기공 결함", type="equipment"), index)["hits"]
    assert only_equipment and all(h["type"] == "equipment" for h in only_equipment)
    kitech_incheon = search(SearchQuery("기공 결함", institute="KITECH", region="incheon"), index)["hits"]
    assert [h["id"] for h in kitech_incheon] == ["Z1"]
    assert search(SearchQuery("기공", institute="KRISS"), index)["total"] == 0


def test_pages_are_disjoint_and_cover_every_match_when_paginated(index):
    first = search(SearchQuery("다이캐스팅 금형", page=1, page_size=10), index)
    pages = [search(SearchQuery("다이캐스팅 금형", page=p, page_size=10), index)["hits"] for p in (1, 2, 3, 4)]
    ids = [h["id"] for page in pages for h in page]
    assert len(ids) == len(set(ids)) == first["total"]
    scores = [h["score"] for page in pages for h in page]
    assert scores == sorted(scores, reverse=True)


def test_highlight_escapes_html_when_titles_contain_markup(index):
    hit = search(SearchQuery("김치 유산균"), index)["hits"][0]
    assert "&lt;script&gt;" in hit["highlight"]["title"] and "<script>" not in hit["highlight"]["title"]
    assert highlight("a<b>기공</b>", ["기공"]) == "a&lt;b&gt;<mark>기공</mark>&lt;/b&gt;"


def test_unknown_words_give_no_hits_when_nothing_matches(index):
    assert search(SearchQuery("zzqx qqzz"), index)["total"] == 0


def test_snapshot_round_trip_applies_upserts_and_removals_when_rebuilt(index, tmp_path):
    unpack(pack(index.directory, "search"), tmp_path / "copy")
    assert not (tmp_path / "copy" / "tokens.npy").exists()  # the API never downloads token ids
    unpack(pack(index.directory, "rebuild"), tmp_path / "copy")
    builder = IndexBuilder.from_snapshot(tmp_path / "copy")
    builder.remove("zeus:Z1")
    changed = EquipmentRecord(source="zeus", source_id="Z9", title="초정밀 3차원 좌표측정기", institute="KRISS")
    builder.apply({"upserts": [doc_of(changed, index_tokens(changed, analyze))], "removes": ["patents:F0"]})
    builder.write(tmp_path / "next")
    rebuilt = CatalogIndex(tmp_path / "next", "next")
    assert rebuilt.size == index.size - 1
    assert search(SearchQuery("좌표측정기"), rebuilt)["hits"][0]["institute"] == "KRISS"
    assert all(h["id"] != "Z1" for h in search(SearchQuery("기공 결함"), rebuilt)["hits"])


def test_bad_search_parameters_are_all_reported_when_invalid():
    with pytest.raises(ValidationFailed) as err:
        parse_search_params({"q": "", "type": "book", "institute": "NOPE", "region": "Mars", "page": "0",
                             "page_size": "x"})
    assert {e.field for e in err.value.errors} == {"q", "type", "institute", "region", "page", "page_size"}


def test_region_and_institute_parameters_are_normalised_when_valid():
    query = parse_search_params({"q": "용접", "region": "강원도", "institute": "kitech", "page_size": "20"})
    assert (query.region, query.institute, query.page_size) == ("gangwon", "KITECH", 20)


def test_content_hash_keeps_the_stored_value_when_only_the_modification_stamp_moves():
    # Stored hashes decide what an incremental sync rewrites: the hashed bytes must never drift
    # (sorted compact JSON, UTF-8, as json.dumps wrote them when these hashes were first stored).
    record = PatentRecord(source="patents", source_id="1020120086766", application_number="1020120086766",
                          title="알루미늄 다이캐스팅 \"기공\" 저감\t방법", title_en="Reducing porosity",
                          summary="줄바꿈\n포함 😀 요약", keywords=["다이캐스팅", "B22D 17/00"], ipc=["B22D 17/00"],
                          institution="한국생산기술연구원", institute="KITECH", region="chungnam",
                          url="https://example.org/t/1", modified="2026-11-01T00:00:00Z", trl=6)
    assert record.content_hash() == "9bbbf57a2bd313ea5552f837006b493a"
    assert record.model_copy(update={"modified": "2027-01-01T00:00:00Z"}).content_hash() == record.content_hash()
    assert record.model_copy(update={"trl": 7}).content_hash() != record.content_hash()
