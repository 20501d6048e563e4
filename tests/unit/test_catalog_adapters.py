"""Each source adapter parses its source's own format, paging and error conventions."""
from __future__ import annotations

from pathlib import Path

import pytest

from sos1379.catalog.institutes import InstituteResolver, region_of
from sos1379.catalog.sources import (HttpSource, LibraryAdapter, NtisAdapter, PatentsAdapter, SourceRejected,
                                     SourceThrottled, ZeusAdapter)

EVENTS = Path(__file__).resolve().parents[2] / "events" / "catalog"


def body(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


class ScriptedHttp(HttpSource):
    """HttpSource whose GETs answer from a script (bytes, or an exception to raise), no network."""

    def __init__(self, *answers):
        self.sleeps: list[float] = []
        super().__init__("http://source.test", sleep=self.sleeps.append, base_delay=0.01, max_attempts=4)
        self.answers = list(answers)
        self.requests: list[tuple[str, dict]] = []

    def get(self, path, params):
        self.requests.append((path, dict(params)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture(scope="module")
def resolver():
    from sos1379.directory import load_directory

    return InstituteResolver((i.code, i.name_ko, i.name_en) for i in load_directory().values() if i.kind != "partner")


def test_zeus_page_maps_equipment_withdrawals_and_malformed_items_when_parsed(resolver):
    http = ScriptedHttp(body("zeus_page.xml"))
    page = ZeusAdapter(http, "key", resolver, page_size=3).fetch("2024-01-01T00:00:00Z", None)
    assert [r.source_id for r in page.records] == ["Z20150000001"]
    lcms = page.records[0]
    assert (lcms.institute, lcms.region, lcms.class_code, lcms.price_krw) == ("KBSI", "seoul", "EQ00020004", 850_000_000)
    assert [w.source_id for w in page.withdrawals] == ["Z20070000003"]  # 불용: disposed
    assert [f[0] for f in page.failures] == ["Z20090000002"]  # no name in either language
    assert page.next_cursor == "2" and page.max_modified == "2024-01-07T09:30:00Z"
    assert http.requests[0][1]["modifiedSince"] == "20240101000000"


def test_zeus_throttle_code_is_retried_when_the_next_answer_is_good(resolver):
    http = ScriptedHttp(body("zeus_throttled.xml"), body("zeus_page.xml"))
    page = ZeusAdapter(http, "key", resolver, page_size=3).fetch(None, None)
    assert len(page.records) == 1 and http.retries == 1 and len(http.sleeps) == 1


def test_ntis_error_inside_http_200_is_permanent_when_the_key_is_refused(resolver):
    http = ScriptedHttp(body("ntis_error_key.xml"))
    with pytest.raises(SourceRejected):
        NtisAdapter(http, "bad", resolver).fetch(None, None)
    assert http.retries == 0


def test_ntis_rate_error_inside_http_200_is_retried_then_gives_up_when_it_persists(resolver):
    http = ScriptedHttp(*[body("ntis_error_rate.xml")] * 4)
    with pytest.raises(SourceThrottled):
        NtisAdapter(http, "key", resolver).fetch(None, None)
    assert len(http.sleeps) == 3  # max_attempts 4: three waits, growing but capped


def test_ntis_page_keeps_display_count_at_100_and_drops_personal_data_when_parsed(resolver):
    http = ScriptedHttp(body("ntis_page.xml"))
    page = NtisAdapter(http, "key", resolver, page_size=500).fetch(None, "101")
    assert http.requests[0][1]["displayCnt"] == "100" and http.requests[0][1]["startPosition"] == "101"
    (paper,) = page.records
    assert paper.institute == "KITECH" and paper.year == 2021 and "홍길동" not in paper.model_dump_json()
    assert [w.source_id for w in page.withdrawals] == ["1415000003"]
    assert [f[0] for f in page.failures] == ["1415000002"]
    assert page.next_cursor == "104" and page.total == 250


def test_patent_listing_maps_ipc_trl_and_institute_when_parsed(resolver):
    page = PatentsAdapter(ScriptedHttp(body("patents_page.json")), resolver).fetch(None, None)
    (patent,) = page.records
    assert patent.application_number == "1020120086766" and patent.trl == 6
    assert patent.ipc == ["B22D 17/00", "B22D 27/15"] and patent.institute == "KITECH" and patent.region == "chungnam"
    assert patent.url == "http://source.test/tech/1020120086766"
    assert [f[0] for f in page.failures] == ["1020130000001"]  # TRL "높음" is not a level
    assert [w.source_id for w in page.withdrawals] == ["1020140000002"]
    assert page.next_cursor == "fDM="


def test_library_oai_page_maps_dublin_core_deletions_and_token_when_parsed(resolver):
    http = ScriptedHttp(body("library_page.xml"))
    page = LibraryAdapter(http, resolver).fetch("2024-01-01T00:00:00Z", None)
    assert http.requests[0][1] == {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-01-01T00:00:00Z"}
    (paper,) = page.records
    assert paper.institute == "KITECH" and paper.kind == "article" and paper.title_en == paper.title
    assert "김연구" not in paper.model_dump_json()  # dc:creator is never read
    assert [w.source_id for w in page.withdrawals] == ["100003"] and [f[0] for f in page.failures] == ["100002"]
    assert page.next_cursor == "!200" and page.total == 450


def test_library_no_records_match_is_an_empty_last_page_when_nothing_changed(resolver):
    page = LibraryAdapter(ScriptedHttp(body("library_no_records.xml")), resolver).fetch("2030-01-01T00:00:00Z", None)
    assert page.records == [] and page.next_cursor is None


def test_retry_waits_at_least_the_retry_after_hint_when_the_source_gives_one():
    http = ScriptedHttp()
    calls = iter([SourceThrottled("429", retry_after=7.0), "ok"])

    def attempt():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert http.call(attempt) == "ok" and http.sleeps == [7.0]


@pytest.mark.parametrize("name, code", [
    ("한국생산기술연구원 뿌리산업기술연구소", "KITECH"), ("Korea Basic Science Institute (KBSI) 서울센터", "KBSI"),
    ("재료연구소", "KIMS"), ("KIT", "KIT"), ("KITECH 대경본부", "KITECH"), ("한국과학기술원", None),
    ("한국과학기술연구원 강릉분원", "KIST"), ("한국과학기술정보연구원", "KISTI"), ("(주)한빛소재", None), (None, None)])
def test_institution_names_map_to_our_codes_when_they_are_ours(resolver, name, code):
    assert resolver.resolve(name) == code


def test_region_comes_from_the_address_when_it_names_a_province():
    assert region_of("강원도 춘천시 강원대학길 1") == "gangwon"
    assert region_of("전라북도 전주시") == "jeonbuk"
    assert region_of("대전광역시 유성구 과학로 169-148") == "daejeon"
    assert region_of("unknown place") is None
