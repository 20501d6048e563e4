"""The router: ranking, decisions, re-routing, optional catalog evidence, and quality on the
project's own labelled cases (tests/data/routing_cases.jsonl)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sos1379.routing import Router, RouterConfig, RoutingInput, get_router
from infra.bench.routing_eval import evaluate, load_cases

CASES = Path(__file__).resolve().parents[1] / "data" / "routing_cases.jsonl"


@pytest.fixture(scope="module")
def router() -> Router:
    return get_router()


def _route(router: Router, title: str, text: str = "", **kw):
    return router.route(RoutingInput(title=title, text=text, **kw))


def test_ranking_covers_every_institute_best_first(router: Router):
    result = _route(router, "금형 수명이 짧아요", "프레스 금형이 자꾸 깨지고 마모가 심합니다", service_type="tech_consult")
    scores = [s.score for s in result.institutes]
    assert scores == sorted(scores, reverse=True)
    assert {s.code for s in result.institutes} == set(router.codes)
    assert result.decision == "refer"
    assert result.targets[0] == result.institutes[0].code == "KITECH"


def test_top_institute_reasons_name_the_matched_words(router: Router):
    result = _route(router, "도금 박리", "아연 도금이 벗겨지고 밀착력이 약해요", service_type="tech_consult")
    top = result.institutes[0]
    assert any(r.startswith("matched words:") and "도금" in r for r in top.reasons)
    assert any("service type tech_consult" in r for r in top.reasons)


def test_loans_and_exports_are_handed_off_to_bizinfo_when_not_technical(router: Router):
    result = _route(router, "운전자금 대출", "매출이 줄어서 정책자금 융자를 받고 싶어요. 보증서 발급도 궁금합니다")
    assert result.decision == "handoff"
    assert result.targets == ["BIZINFO1357"]
    result = _route(router, "Export voucher", "We want funding to exhibit at an overseas trade fair and meet buyers", lang="en")
    assert result.decision == "handoff"
    assert result.targets == ["BIZINFO1357"]


def test_early_stage_startup_is_handed_off_to_the_regional_centre(router: Router):
    result = _route(router, "예비창업자 사무공간", "아직 사업자도 없는 예비창업자인데 입주 공간과 멘토링이 필요해요", region="부산")
    assert result.decision == "handoff"
    assert result.targets == ["CCEI"]


def test_a_tech_service_is_referred_not_handed_off_when_a_partner_words_match(router: Router):
    result = _route(router, "창업 아이템 시제품 소재", "창업한 회사인데 세라믹 소재가 소결하면 깨져요", service_type="tech_consult")
    assert result.decision == "refer"
    assert result.targets and all(not router.profiles[c].handoff for c in result.targets)


def test_a_plain_loan_request_is_handed_off_even_when_filed_as_a_tech_service(router: Router):
    result = _route(router, "운영자금 대출 문의", "정책자금 융자와 보증 지원을 받고 싶습니다. 신청 방법을 알려주세요",
                    service_type="tech_consult")
    assert result.decision == "handoff"
    assert result.targets == ["BIZINFO1357"] and result.institutes[0].code == "BIZINFO1357"


def test_equipment_service_type_leans_to_equipment_owners(router: Router):
    text = "시료를 측정해 볼 곳을 찾습니다"
    plain = _route(router, "측정", text, service_type="tech_consult")
    equip = _route(router, "측정", text, service_type="equipment")

    def rank(result, code):
        return [s.code for s in result.institutes].index(code)

    assert rank(equip, "KBSI") < rank(plain, "KBSI") or rank(equip, "KBSI") == 0
    assert equip.institutes[0].code in {"KBSI", "NFEC", "KRISS"}


def test_region_is_weak_evidence_when_given(router: Router):
    base = _route(router, "열처리 변형", "침탄 후 변형이 커요", service_type="tech_consult")
    local = _route(router, "열처리 변형", "침탄 후 변형이 커요", service_type="tech_consult", region="충남")
    kitech = lambda r: next(s for s in r.institutes if s.code == "KITECH")  # noqa: E731
    assert 0 < kitech(local).score - kitech(base).score <= 0.05
    assert any("region" in reason for reason in kitech(local).reasons)


def test_naming_an_institute_is_evidence_for_it(router: Router):
    text = "{} 기술을 이전받아 센서에 적용하고 싶습니다"
    named = _route(router, "기술이전", text.format("기계연이 개발한"), service_type="tech_transfer")
    plain = _route(router, "기술이전", text.format("공공기관이 개발한"), service_type="tech_transfer")
    kimm = lambda r: next(s for s in r.institutes if s.code == "KIMM")  # noqa: E731
    assert kimm(named).score > kimm(plain).score
    assert any("names the institute (기계연)" in reason for reason in kimm(named).reasons)


def test_an_ordinary_word_is_not_taken_for_an_institute_name(router: Router):
    result = _route(router, "기계연구 단계", "기계연구 단계의 KAIST 기술입니다")
    assert not any("names the institute" in r for s in result.institutes for r in s.reasons)


def test_declined_institutes_are_excluded_when_re_routing(router: Router):
    inp = RoutingInput(title="용접 균열", text="TIG 용접부에 균열이 생깁니다", service_type="tech_consult")
    first = router.route(inp)
    again = router.route(inp, exclude={first.institutes[0].code})
    assert first.institutes[0].code not in {s.code for s in again.institutes}
    assert again.institutes[0].code == first.institutes[1].code
    assert again.decision == "refer"


def test_coordinator_decides_when_every_institute_declined(router: Router):
    inp = RoutingInput(title="용접 균열", text="용접부 균열", service_type="tech_consult")
    result = router.route(inp, exclude=set(router.codes))
    assert result.decision == "coordinator"
    assert result.institutes == [] and result.targets == []


def test_coordinator_decides_when_nothing_matches(router: Router):
    result = _route(router, "ㅁㄴㅇㄹ", "qwzx vbnm", service_type="tech_consult")
    assert result.decision == "coordinator"
    assert result.confidence == 0.0


@pytest.mark.parametrize("title,text", [("", ""), ("hello", "can you help me"), ("   ", "ㅠㅠ")])
def test_coordinator_decides_when_the_case_has_no_content_words(router: Router, title: str, text: str):
    result = _route(router, title, text)
    assert result.decision == "coordinator"
    assert result.targets == [] and result.confidence == 0.0


def test_confidence_is_higher_when_the_case_is_specific(router: Router):
    vague = _route(router, "문의", "안녕하세요 문의드립니다", service_type="tech_consult")
    specific = _route(router, "다이캐스팅 기공", "알루미늄 다이캐스팅 주물에 기공과 수축공이 생겨요", service_type="tech_consult")
    assert specific.confidence > vague.confidence


def test_catalog_evidence_adds_score_and_appears_in_reasons():
    calls: list[str] = []

    def evidence(query: str) -> list[dict]:
        calls.append(query)
        return [{"institute": "KRISS", "id": "EQ-1", "type": "equipment", "title": "토크 표준기", "score": 9.0}]

    plain = Router(config=RouterConfig())
    with_catalog = Router(config=RouterConfig(), evidence=evidence)
    inp = RoutingInput(title="토크 측정", text="토크 렌치 값이 이상해요", service_type="equipment")
    kriss = lambda r: next(s for s in r.institutes if s.code == "KRISS")  # noqa: E731
    a, b = plain.route(inp), with_catalog.route(inp)
    assert calls and "토크" in calls[0]
    assert kriss(b).score > kriss(a).score
    assert any("EQ-1" in reason for reason in kriss(b).reasons)


def test_failing_evidence_never_fails_routing():
    def broken(query: str) -> list[dict]:
        raise RuntimeError("catalog down")

    result = Router(evidence=broken).route(RoutingInput(title="도금 박리", text="도금이 벗겨져요"))
    assert result.decision == "refer"


def test_get_router_is_built_once_and_shared():
    assert get_router() is get_router()


def test_concurrent_routing_gives_identical_results(router: Router):
    inp = RoutingInput(title="배터리 발열", text="배터리팩 셀 온도 편차가 커요", service_type="tech_consult")
    expected = router.route(inp).model_dump()
    results: list[dict] = []

    def work() -> None:
        for _ in range(10):
            results.append(router.route(inp).model_dump())

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 60 and all(r == expected for r in results)


def test_project_cases_meet_the_quality_floor(router: Router):
    report = evaluate(router, load_cases(CASES))
    assert report.n >= 40
    assert report.rate(report.top1) >= 0.85, report.misses
    assert report.rate(report.top3) >= 0.9, report.misses


def test_every_project_handoff_case_gets_handoff(router: Router):
    cases = [c for c in load_cases(CASES) if c["expected_decision"] == "handoff"]
    assert len(cases) >= 5
    for case in cases:
        result = router.route(RoutingInput(**{k: v for k, v in case.items() if k != "gold"}))
        assert result.decision == "handoff", case["id"]
        assert result.targets == case["gold"][:1], case["id"]


def test_no_project_refer_case_is_handed_off(router: Router):
    for case in load_cases(CASES):
        if case["expected_decision"] == "refer":
            result = router.route(RoutingInput(**{k: v for k, v in case.items() if k != "gold"}))
            assert result.decision != "handoff", case["id"]
