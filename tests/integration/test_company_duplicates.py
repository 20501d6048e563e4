"""The duplicate check at intake stays bounded whatever the company's history (sos1379.companies):
one Query of at most MAX_COMPARED + 1 entries, and case reads only for the few best candidates."""
from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from sos1379 import companies, intake
from sos1379.store import CaseStore

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
REWORDED = {"title": "SUS 배관 용접 후 균열 발생",
            "description": "식품설비 배관(스테인리스) 용접 부위에 시간이 지나면 크랙이 보입니다. 용접 조건 개선 방법을 알고 싶습니다."}


def variant(case: dict, **changes) -> dict:
    out = copy.deepcopy(case)
    out.update(changes)
    return out


class Reads:
    """Counts what the duplicate check reads through the store."""

    def __init__(self, store: CaseStore, monkeypatch) -> None:
        self.entries: list[int] = []
        self.case_reads: list[tuple[int, tuple]] = []
        company_cases, get_cases = store.company_cases, store.get_cases

        def counted_company_cases(*args, **kwargs):
            out = company_cases(*args, **kwargs)
            self.entries.append(len(out))
            return out

        def counted_get_cases(ids, fields=None):
            self.case_reads.append((len(ids), tuple(fields or ())))
            return get_cases(ids, fields)

        monkeypatch.setattr(store, "company_cases", counted_company_cases)
        monkeypatch.setattr(store, "get_cases", counted_get_cases)


def _old_history(store: CaseStore, key: str, sample: dict, count: int) -> None:
    """``count`` cases of the same text, all older than the duplicate window."""
    with store.table.batch_writer() as batch:
        for i in range(count):
            case = {"case_id": uuid.uuid4().hex, "case_number": f"251001-{i:04d}", "channel": "web",
                    "created_at": (NOW - timedelta(days=companies.DUPLICATE_WINDOW_DAYS + 1 + i)).isoformat()}
            batch.put_item(Item=store.company_case_item(
                key, case, companies.match_text(sample["title"], sample["description"])))
            batch.put_item(Item={"PK": f"CASE#{case['case_id']}", "SK": "META", **case,
                                 "title": sample["title"], "description": sample["description"]})


def test_recent_duplicate_is_found_with_bounded_reads_when_the_company_has_hundreds_of_older_cases(
        store, sample_case, monkeypatch):
    key = companies.company_key(sample_case["company"]["business_number"])
    _old_history(store, key, sample_case, 250)
    first, _ = intake.submit_case(store, sample_case, now=NOW - timedelta(days=3))
    for i in range(companies.MAX_COMPARED - 1):  # unrelated recent cases, newer than the similar one
        intake.submit_case(store, variant(sample_case, title=f"포장 디자인 문의 {i}",
                                          description=f"제품 상자 인쇄 색상 변경 건 {i}번입니다."),
                           now=NOW - timedelta(days=2, minutes=i))
    reads = Reads(store, monkeypatch)
    receipt, _ = intake.submit_case(store, variant(sample_case, **REWORDED), now=NOW)
    assert [d["case_number"] for d in receipt["possible_duplicates"]] == [first["case_number"]]
    assert reads.entries == [companies.MAX_COMPARED]  # one Query, only the window's newest entries
    assert reads.case_reads == [(1, ("merged_into",))]  # only the candidate, only its merge mark


def test_company_without_recent_cases_costs_one_empty_query_when_its_history_is_old(
        store, sample_case, monkeypatch):
    _old_history(store, companies.company_key(sample_case["company"]["business_number"]), sample_case, 40)
    reads = Reads(store, monkeypatch)
    receipt, _ = intake.submit_case(store, sample_case, now=NOW)
    assert receipt["possible_duplicates"] == []
    assert reads.entries == [0] and reads.case_reads == []


def test_merged_candidate_is_skipped_and_the_next_best_suggested_when_the_best_was_merged(store, sample_case):
    first, _ = intake.submit_case(store, sample_case, now=NOW - timedelta(days=2))
    second, _ = intake.submit_case(store, variant(sample_case, **REWORDED), now=NOW - timedelta(days=1))
    case = store.get_case(second["case_id"])
    store.update_case(case, {"merged_into": first["case_number"]})
    receipt, _ = intake.submit_case(store, variant(sample_case, **REWORDED), now=NOW)
    assert [d["case_number"] for d in receipt["possible_duplicates"]] == [first["case_number"]]


def test_entries_written_without_match_text_are_compared_from_their_cases(store, sample_case):
    first, _ = intake.submit_case(store, sample_case, now=NOW - timedelta(days=1))
    entry = store.company_cases(companies.company_key(sample_case["company"]["business_number"]))[0]
    store.table.update_item(Key={"PK": entry["PK"], "SK": entry["SK"]}, UpdateExpression="REMOVE match_text")
    receipt, _ = intake.submit_case(store, variant(sample_case, **REWORDED), now=NOW)
    [dup] = receipt["possible_duplicates"]
    assert dup["case_number"] == first["case_number"]
    assert dup["title_similarity"] == round(companies.similarity(
        sample_case["title"], sample_case["description"], REWORDED["title"], REWORDED["description"]), 2)
