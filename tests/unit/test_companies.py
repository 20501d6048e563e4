"""Duplicate similarity (character bigram cosine) and the company key: pure functions."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sos1379 import companies

SAMPLE = json.loads((Path(__file__).resolve().parents[2] / "events/cases/weld_crack_ko.json").read_text("utf-8"))

SAME_PROBLEM = [
    ("용접 크랙 문의 (재접수)", "SUS304 배관 TIG 용접부에 며칠 뒤 미세 크랙이 발생합니다. 열처리나 용접 방법 조언 부탁드립니다."),
    ("배관 용접 균열", "스테인리스 배관 용접하고 나면 며칠 후에 균열이 생겨요. 어떻게 해야 하나요?"),
    ("SUS 배관 용접 후 균열 발생", "식품설비 배관(스테인리스) 용접 부위에 시간이 지나면 크랙이 보입니다. 용접 조건 개선 방법을 알고 싶습니다."),
]
OTHER_PROBLEM = [
    ("스테인리스 배관 열처리 장비 사용", "용접한 스테인리스 배관의 잔류응력 제거 열처리를 할 수 있는 장비를 빌리고 싶습니다."),
    ("사출 금형 냉각 불량", "사출 금형의 냉각 채널이 막혀서 사이클 타임이 길어집니다. 해결 방법이 필요합니다."),
    ("제품 포장 디자인 개선", "식품 설비 제품의 포장 디자인을 바꾸고 싶은데 지원 사업이 있을까요?"),
]


@pytest.mark.parametrize("title,description", SAME_PROBLEM)
def test_reworded_report_of_the_same_problem_scores_above_threshold(title, description):
    assert companies.similarity(SAMPLE["title"], SAMPLE["description"], title, description) >= \
        companies.DUPLICATE_THRESHOLD


@pytest.mark.parametrize("title,description", OTHER_PROBLEM)
def test_different_problem_scores_below_threshold(title, description):
    assert companies.similarity(SAMPLE["title"], SAMPLE["description"], title, description) < \
        companies.DUPLICATE_THRESHOLD


def test_similarity_ignores_spacing_punctuation_and_width_when_text_is_the_same():
    assert companies.similarity("용접 균열!", "배관 용접부 균열", "용접균열", "배관용접부 균열...") == pytest.approx(1.0)
    assert companies.similarity("ＡＢＣ weld", "", "abc WELD", "") == pytest.approx(1.0)
    assert companies.similarity("", "", "용접", "") == 0.0


def test_company_key_is_keyed_stable_and_spelling_independent(monkeypatch):
    key = companies.company_key("116-82-00276")
    assert key == companies.company_key("1168200276") == companies.resolve_company_key("116 82 00276")
    assert len(key) == 32 and "00276" not in key
    assert companies.resolve_company_key(key) == key
    monkeypatch.setenv("COMPANY_INDEX_KEY", "another-secret")
    assert companies.company_key("116-82-00276") != key
