"""The shared Korean-first analyzer: what it keeps, drops and normalises."""
from __future__ import annotations

import subprocess
import sys
import threading
import unicodedata

import pytest

from sos1379 import text


def test_particles_and_endings_are_dropped_when_analyzing_korean():
    terms = text.get_analyzer("kiwi")("용접부에 크랙이 생겼어요")
    assert "용접" in terms
    assert "크랙" in terms
    assert "이" not in terms and "어요" not in terms


def test_decomposed_hangul_matches_composed_when_normalized():
    composed = "도금 불량"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    for name in text.analyzer_names():
        assert text.get_analyzer(name)(decomposed) == text.get_analyzer(name)(composed)


def test_english_is_lowercased_and_lightly_stemmed_when_analyzing():
    terms = text.analyze("Stamping PUNCHES are chipping; batteries drilled")
    assert {"stamp", "punch", "chip", "battery", "drill"} <= set(terms)
    assert "are" not in terms


def test_model_codes_stay_whole_and_split_when_joined():
    terms = text.get_analyzer("ngram")("SUS304 and Wi-Fi, IP67")
    assert "sus304" in terms and "ip67" in terms
    assert {"wi-fi", "wi", "fi"} <= set(terms)


def test_fullwidth_ascii_is_folded_when_normalized():
    assert text.normalize("ＮＭＲ") == "nmr"


def test_jamo_emoticons_are_ignored_when_analyzing():
    for name in text.analyzer_names():
        terms = text.get_analyzer(name)("ㅠㅠ 도와주세요 ㅋㅋ")
        assert not any(t.strip("#") in {"ㅠㅠ", "ㅋㅋ"} for t in terms)


def test_ngram_analyzer_gives_hangul_bigrams_when_word_is_long():
    assert text.get_analyzer("ngram")("열처리") == ["열처", "처리"]


def test_hybrid_combines_morphemes_and_prefixed_bigrams():
    terms = text.get_analyzer("hybrid")("열처리 변형")
    assert "#열처" in terms and "#처리" in terms
    assert "변형" in terms


def test_unknown_analyzer_raises_key_error_when_requested():
    with pytest.raises(KeyError):
        text.get_analyzer("nope")


def test_empty_text_gives_no_terms():
    for name in text.analyzer_names():
        assert text.get_analyzer(name)("") == []


def test_import_does_not_load_kiwi_when_module_is_imported():
    code = "import sys, sos1379.text; print('kiwipiepy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_concurrent_calls_give_the_same_terms_when_threaded():
    sample = "금형 수명이 짧아서 표면처리를 알아보고 있습니다"
    expected = text.analyze(sample)
    results: list[list[str]] = []

    def work() -> None:
        for _ in range(20):
            results.append(text.analyze(sample))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 160
    assert all(r == expected for r in results)


def test_analyze_many_gives_each_texts_own_terms_when_texts_are_batched():
    samples = ["금형 수명이 짧아서 표면처리를 알아보고 있습니다", "", "SUS304 용접부에 균열이 생깁니다",
               "NMR spectra of polymers", "ＮＭＲ 분석", "ㅠㅠ 도와주세요", "열처리 변형\n주조 결함"]
    for name in text.analyzer_names():
        assert text.analyze_many(samples, name) == [text.get_analyzer(name)(s) for s in samples]
    assert text.analyze_many(samples) == [text.analyze(s) for s in samples]
    assert text.analyze_many([]) == []


def test_ngram_terms_are_the_hybrid_terms_without_morphemes_when_text_mixes_scripts():
    sample = "열처리 변형 heat-treated ＳＵＳ３０４ parts 열처리"
    hybrid = text.get_analyzer("hybrid")(sample)
    assert text.ngram_terms(sample) == ["#열처", "#처리", "#변형", "heat-treated", "heat", "treat", "sus304",
                                        "part", "#열처", "#처리"]
    assert set(text.ngram_terms(sample)) <= set(hybrid)
