"""Institute knowledge: public facts per directory code, reviewed as data, used by the router."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sos1379.directory import load_directory
from sos1379.routing import Router, RoutingInput
from sos1379.routing.knowledge import SCHEMA_VERSION, Fact, InstituteKnowledge, knowledge_dir, load_knowledge
from sos1379.routing.profiles import load_profiles
from sos1379.settings import get_settings


def test_every_directory_code_has_knowledge_in_both_languages_with_a_source():
    knowledge = load_knowledge()
    assert set(knowledge) == set(load_directory())
    for code, item in knowledge.items():
        assert item.schema_version == SCHEMA_VERSION, code
        assert item.facts, code
        for fact in item.facts:
            assert fact.ko.strip() and fact.en.strip(), code
            assert any("\uac00" <= ch <= "\ud7a3" for ch in fact.ko), (code, fact.ko)  # Korean text
            assert fact.en.isascii(), (code, fact.en)
            assert fact.source.startswith(("https://", "http://")), (code, fact.source)


def test_research_institutes_carry_several_facts_of_more_than_one_kind():
    directory = load_directory()
    for code, item in load_knowledge().items():
        if directory[code].kind == "gri":
            assert len(item.facts) >= 2, code
            assert len({f.kind for f in item.facts}) >= 2, code


def test_knowledge_files_stand_alone():
    # the product's data must not point at material outside the repository
    for path in knowledge_dir().glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "/shared/" not in text, path.name


def test_unknown_schema_version_keys_and_sourceless_facts_are_rejected(tmp_path: Path):
    with pytest.raises(ValidationError):
        InstituteKnowledge(schema_version=SCHEMA_VERSION + 1, code="KIST")
    with pytest.raises(ValidationError):
        Fact(kind="case", ko="용접 균열 해결", en="weld cracks fixed", source="internal memo")
    with pytest.raises(ValidationError):
        Fact(kind="rumour", ko="용접 균열 해결", en="weld cracks fixed", source="https://example.org")
    (tmp_path / "KIST.toml").write_text(f'schema_version = {SCHEMA_VERSION}\ncode = "KIMS"\n', encoding="utf-8")
    with pytest.raises(ValueError):
        load_knowledge(tmp_path)


def _router(codes: set[str], knowledge) -> Router:
    profiles = {c: p for c, p in load_profiles().items() if c in codes}
    directory = {c: i for c, i in load_directory().items() if c in codes}
    return Router(profiles, directory, knowledge=knowledge)


def test_an_operator_adds_a_fact_and_the_router_uses_and_cites_it(tmp_path: Path, monkeypatch):
    codes = {"KFRI", "KFE", "KITECH"}
    case = RoutingInput(title="딸기 곰팡이", text="수확한 딸기에 곰팡이가 금방 펴서 유통 중에 버리는 양이 많아요")
    # an operator's folder of knowledge files: the router reads it without a code change
    (tmp_path / "KFE.toml").write_text(
        f"schema_version = {SCHEMA_VERSION}\n"
        'code = "KFE"\n'
        "[[facts]]\n"
        'kind = "case"\n'
        'ko = "딸기 농가와 수확 후 딸기 곰팡이를 저온 플라즈마 살균으로 줄여 유통 기간 연장"\n'
        'en = "Cut post-harvest mould on strawberries with cold plasma sterilisation"\n'
        'source = "https://example.org/kfe-strawberries"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SOS1379_KNOWLEDGE_DIR", str(tmp_path))
    get_settings.cache_clear()  # settings are read once per process
    with_facts = _router(codes, None)
    assert set(with_facts.knowledge) == {"KFE"}
    ranked = with_facts.route(case).institutes
    assert [s.code for s in ranked[:2]] == ["KFRI", "KFE"]  # the food institute keeps its clear lead
    cited = [r for r in ranked[1].reasons if r.startswith("knowledge (past case)")]
    assert cited and cited[0].endswith("<https://example.org/kfe-strawberries>")
    without = _router(codes, {}).route(case).institutes
    assert [s.code for s in without] == ["KFRI", "KITECH", "KFE"]
    assert not any(r.startswith("knowledge (") for s in without for r in s.reasons)


def test_a_weak_fact_match_does_not_overturn_a_clear_profile_match():
    router = get_default()
    result = router.route(RoutingInput(title="TIG 용접 크랙", text="스테인리스 배관 TIG 용접부 끝단에 균열이 생깁니다",
                                       service_type="tech_consult"))
    assert result.institutes[0].code == "KITECH"


def get_default() -> Router:
    from sos1379.routing import get_router

    return get_router()


def test_knowledge_switched_off_routes_exactly_as_without_facts():
    from sos1379.routing import RouterConfig

    off = Router(config=RouterConfig(knowledge_weight=0.0, knowledge_in_facets=0.0))
    none = Router(knowledge={})
    for case in (
        RoutingInput(title="파이프 절단 폐수", text="배관을 자를 때 물을 써서 폐수가 많이 나옵니다"),
        RoutingInput(title="Bearing noise", text="Our pump bearings get loud after a month", lang="en"),
    ):
        a, b = off.route(case), none.route(case)
        assert [(s.code, s.score) for s in a.institutes] == [(s.code, s.score) for s in b.institutes]
        assert not any(r.startswith("knowledge (") for s in a.institutes[:3] for r in s.reasons)


def test_reasons_cite_each_matched_fact_once():
    result = get_default().route(RoutingInput(
        title="농산물 저장고 곰팡이", text="저온 저장고에서 과일에 곰팡이가 피고 숙성이 빨라 손실이 큽니다. 약품 없이 살균하고 싶어요"))
    for item in result.institutes[:5]:
        cited = [r for r in item.reasons if r.startswith("knowledge (")]
        assert len(cited) == len(set(cited)), item.code
    kfe = next(s for s in result.institutes if s.code == "KFE")
    assert any(r.startswith("knowledge (") and "<http" in r for r in kfe.reasons)
