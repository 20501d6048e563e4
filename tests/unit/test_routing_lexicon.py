"""Query expansion from SMEs' everyday words to technical terms, and the leave-site-out evaluation."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from infra.bench.routing_eval import evaluate_leave_site_out
from sos1379.directory import load_directory
from sos1379.routing import Router, RouterConfig, RoutingInput
from sos1379.routing.knowledge import SCHEMA_VERSION as KNOWLEDGE_VERSION
from sos1379.routing.knowledge import Fact, InstituteKnowledge, source_site, without_sites
from sos1379.routing.lexicon import SCHEMA_VERSION, Lexicon, LexiconEntry, LexiconFile, lexicon_path, load_lexicon
from sos1379.routing.profiles import load_profiles
from sos1379.settings import get_settings

HANGUL = ("\uac00", "\ud7a3")


def _has_hangul(text: str) -> bool:
    return any(HANGUL[0] <= ch <= HANGUL[1] for ch in text)


def test_the_packaged_lexicon_loads_and_every_entry_leads_to_korean_terms():
    lexicon = load_lexicon()
    assert len(lexicon) >= 50
    for entry in lexicon.entries:
        # English words must bridge to the Korean vocabulary of the profiles and facts
        assert any(_has_hangul(t) for t in entry.terms), entry.words
    text = lexicon_path().read_text(encoding="utf-8")
    assert "../shared" not in text and "/shared/" not in text


def test_hangul_forms_match_across_spacing_and_inflection():
    lexicon = load_lexicon()
    for text in ("배관이 녹이 슬어서 교체했어요", "배관이 녹슬었어요", "녹 슨 배관"):
        expansion = lexicon.expand(text)
        assert "부식" in expansion.terms, text
    assert "균열" in lexicon.expand("벽면에 금이 가요").terms
    assert "악취" in lexicon.expand("공장 냄새 때문에 민원이 들어와요").terms


def test_latin_forms_match_whole_words_with_light_inflection_only():
    lexicon = Lexicon([LexiconEntry(words=["rust"], terms=["부식", "corrosion"])])
    for text in ("Rusty pipes", "the rust is back", "pipes rusting fast", "RUSTS"):
        assert lexicon.expand(text).terms == ("부식", "corrosion"), text
    for text in ("we trust our supplier", "rustproof", "crust on the surface"):
        assert not lexicon.expand(text), text


def test_terms_are_listed_once_with_the_forms_that_matched():
    lexicon = Lexicon([
        LexiconEntry(words=["금가", "crack"], terms=["균열", "파괴"]),
        LexiconEntry(words=["깨지"], terms=["파손", "파괴"]),
    ])
    expansion = lexicon.expand("모서리가 금가고 깨지고, cracks everywhere")
    assert expansion.matched == ("금가", "깨지")
    assert expansion.terms == ("균열", "파괴", "파손")
    assert not Lexicon().expand("아무 말")


def test_the_loader_rejects_unknown_versions_keys_and_empty_entries(tmp_path: Path):
    with pytest.raises(ValidationError):
        LexiconFile(schema_version=SCHEMA_VERSION + 1)
    with pytest.raises(ValidationError):
        LexiconEntry(words=[], terms=["부식"])
    with pytest.raises(ValidationError):
        LexiconEntry(words=["녹슬"], terms=["부식"], note="x")
    with pytest.raises(ValidationError):
        LexiconEntry(words=["  "], terms=["부식"])
    with pytest.raises(FileNotFoundError):
        load_lexicon(tmp_path / "missing.toml")


def test_an_operator_copy_replaces_the_package_lexicon(tmp_path: Path, monkeypatch):
    path = tmp_path / "lexicon.toml"
    path.write_text(f'schema_version = {SCHEMA_VERSION}\n[[entries]]\nwords = ["삐걱"]\nterms = ["마찰", "소음"]\n',
                    encoding="utf-8")
    monkeypatch.setenv("SOS1379_LEXICON_PATH", str(path))
    get_settings.cache_clear()  # settings are read once per process
    lexicon = load_lexicon()
    assert len(lexicon) == 1
    assert lexicon.expand("문이 삐걱거려요").terms == ("마찰", "소음")


def _small_router(lexicon: Lexicon, **config) -> Router:
    codes = {"KIMS", "KFRI", "KITECH", "ETRI"}
    profiles = {c: p for c, p in load_profiles().items() if c in codes}
    directory = {c: i for c, i in load_directory().items() if c in codes}
    return Router(profiles, directory, knowledge={}, lexicon=lexicon, config=RouterConfig(**config))


def test_expansion_adds_the_technical_terms_with_a_reduced_weight_and_says_so():
    lexicon = Lexicon([LexiconEntry(words=["녹슬", "녹이슬"], terms=["부식", "내식성"])])
    case = RoutingInput(title="배관이 녹슬어요", text="공장 배관이 몇 달 만에 녹이 슬어서 자주 바꿉니다")
    def lead(result) -> float:  # the materials institute's lead over the best other institute
        scores = {s.code: s.score for s in result.institutes}
        return scores["KIMS"] - max(v for c, v in scores.items() if c != "KIMS")

    plain = _small_router(Lexicon()).route(case)
    half = _small_router(lexicon).route(case)
    full = _small_router(lexicon, expansion_weight=1.0).route(case)
    assert half.institutes[0].code == "KIMS"
    assert any(r.startswith("matched words:") and "부식" in r for r in half.institutes[0].reasons)
    assert not any(r.startswith("matched words:") and "부식" in r for r in plain.institutes[0].reasons)
    # the technical reading strengthens the materials institute, more so at a higher weight
    assert lead(plain) < lead(half) < lead(full)


def test_expansion_switched_off_or_empty_routes_exactly_as_before():
    case = RoutingInput(title="Rusty pipes", text="Our pipes rust within months and the paint peels off", lang="en")
    lexicon = Lexicon([LexiconEntry(words=["rust"], terms=["부식", "corrosion"])])
    off = _small_router(lexicon, expansion_weight=0.0).route(case)
    empty = _small_router(Lexicon()).route(case)
    assert [(s.code, s.score) for s in off.institutes] == [(s.code, s.score) for s in empty.institutes]


def test_an_everyday_word_no_profile_uses_reaches_an_institute_through_its_technical_reading():
    case = RoutingInput(title="삐걱삐걱", text="삐걱삐걱")
    assert _small_router(Lexicon()).route(case).decision == "coordinator"  # no word matches any profile
    lexicon = Lexicon([LexiconEntry(words=["삐걱삐걱"], terms=["부식", "내식성"])])
    result = _small_router(lexicon).route(case)
    assert result.institutes[0].code == "KIMS"


def test_source_site_folds_hosts_of_one_publisher():
    assert source_site("https://m.etnews.com/20190822000228") == source_site("http://etnews.com/2015") == "etnews.com"
    assert source_site("https://news.heraldcorp.com/view.php?ud=1") == "heraldcorp.com"
    assert source_site("https://www.hankyung.com/article/1") == "hankyung.com"
    assert source_site("http://www.mtnews.net/news/view.php?idx=1") == "mtnews.net"
    assert source_site("https://it.chosun.com/x") == "chosun.com"
    assert source_site("https://www.kiom.re.kr") == "kiom.re.kr"
    assert source_site("https://m.wowtv.co.kr/NewsCenter") == "wowtv.co.kr"


def _fact(source: str) -> Fact:
    return Fact(kind="case", ko="수확한 딸기 곰팡이를 저온 플라즈마 살균으로 줄여 유통 기간 연장",
                en="Cut post-harvest mould on strawberries with cold plasma sterilisation", source=source)


def test_without_sites_drops_only_the_facts_of_those_sites():
    kn = {"KFE": InstituteKnowledge(schema_version=KNOWLEDGE_VERSION, code="KFE",
                                    facts=[_fact("https://a.example.org/1"), _fact("https://www.b.example.net/2")])}
    kept = without_sites(kn, {"example.org"})
    assert [f.source for f in kept["KFE"].facts] == ["https://www.b.example.net/2"]
    assert len(kn["KFE"].facts) == 2  # the input is left alone


def test_leave_site_out_never_lets_a_case_meet_a_fact_from_its_own_site():
    profiles = {c: p for c, p in load_profiles().items() if c in {"KFRI", "KFE", "KITECH"}}
    kn = {"KFE": InstituteKnowledge(schema_version=KNOWLEDGE_VERSION, code="KFE",
                                    facts=[_fact("https://news.example.org/kfe-strawberries")])}
    case = {"id": "X1", "title": "딸기 곰팡이", "text": "수확한 딸기에 곰팡이가 금방 펴서 유통 중에 버리는 양이 많아요",
            "gold": ["KFE"], "expected_decision": "refer"}
    same_site = dict(case, source_url="https://m.example.org/story")
    other_site = dict(case, id="X2", source_url="https://another.example.com/story")
    with_fact = evaluate_leave_site_out([other_site], knowledge=kn, profiles=profiles)
    without_fact = evaluate_leave_site_out([same_site], knowledge=kn, profiles=profiles)
    plain = evaluate_leave_site_out([dict(case, id="X3")], knowledge={}, profiles=profiles)
    assert (with_fact.n, without_fact.n, plain.n) == (1, 1, 1)
    # the fact from another site helps; from the case's own site it is left out: as without facts
    assert without_fact.top1 == plain.top1
    assert [m.predicted for m in without_fact.misses] == [m.predicted for m in plain.misses]
    assert with_fact.top3 >= without_fact.top3
