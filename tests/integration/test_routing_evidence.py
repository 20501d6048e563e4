"""route_case with the catalog, on moto: the catalog snapshot is loaded lazily from S3, queried once
per routed case, its hits change the router's scores and reasons, and the referral carries the very
hits the router counted; with no snapshot or a failing catalog, routing is what it was before."""
from __future__ import annotations

import json

import boto3
import jsonschema
import pytest
from sos1379 import intake
from sos1379.referrals import fanout as referrals
from sos1379.catalog import service
from sos1379.catalog.index import POINTER_KEY, IndexBuilder, doc_of, index_tokens, pack
from sos1379.catalog.models import EquipmentRecord, PaperRecord, PatentRecord
from sos1379.catalog.store import S3Blobs
from sos1379.routing import get_router
from sos1379.store import CaseStore
from sos1379.text import analyze

from tests.conftest import ROOT

BUCKET = "test-routing-catalog"
RECORDS = [
    PatentRecord(source="patents", source_id="1020180011111", application_number="1020180011111",
                 title="스테인리스 배관 TIG 용접부의 균열 저감 방법", institute="KITECH",
                 institution="한국생산기술연구원", url="https://tech.example/1020180011111"),
    EquipmentRecord(source="zeus", source_id="Z2019000123", title="스테인리스 배관 용접부 균열 탐상 장비",
                    summary="TIG 용접부 미세 크랙 평가", institute="KITECH",
                    institution="한국생산기술연구원 뿌리산업기술연구소", url="https://zeus.example/Z2019000123"),
    # matches one word of the case: below the relevance floor, so never evidence for KIMS
    PatentRecord(source="patents", source_id="1020200022222", application_number="1020200022222",
                 title="이종금속 접합 이음부 검출 시스템 용접", institute="KIMS", institution="한국재료연구원"),
    PaperRecord(source="ntis", source_id="1415000001", title="김치 발효 유산균 스타터 개발", institute="WIKIM"),
    PatentRecord(source="patents", source_id="1020210033333", application_number="1020210033333",
                 title="스테인리스 용접 균열 방지용 용가재", institute=None, institution="(주)한빛소재"),
]


def message_for(store: CaseStore, case_id: str) -> dict:
    e = store.history(case_id)[0]
    return {"version": 1, "event_id": e["event_id"], "case_id": case_id, "type": e["type"], "at": e["at"],
            "actor": e["actor"], "data": e.get("data", {})}


@pytest.fixture
def catalog_env(aws, monkeypatch, tmp_path):
    """CATALOG_BUCKET set and nothing loaded yet: what a cold route_case process sees."""
    monkeypatch.setenv("CATALOG_BUCKET", BUCKET)
    monkeypatch.setenv("CATALOG_SCRATCH_DIR", str(tmp_path / "scratch"))
    boto3.client("s3", region_name="ap-northeast-2").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    service.get_catalog_settings.cache_clear()
    service.set_index(None)
    yield tmp_path
    service.set_index(None)
    service.get_catalog_settings.cache_clear()


@pytest.fixture
def snapshot(catalog_env):
    """A published snapshot of RECORDS in the bucket (pointer written last, as rebuild_index does)."""
    builder = IndexBuilder()
    for record in RECORDS:
        builder.upsert(doc_of(record, index_tokens(record, analyze)))
    directory = catalog_env / "build"
    builder.write(directory)
    s3 = boto3.client("s3", region_name="ap-northeast-2")
    s3.put_object(Bucket=BUCKET, Key="index/snapshots/b1.tar", Body=pack(directory, "search"))
    S3Blobs(s3, BUCKET).put_json(POINTER_KEY, {"build_id": "b1", "key": "index/snapshots/b1.tar",
                                             "tokens_key": "index/snapshots/b1-tokens.tar", "docs": len(RECORDS)})


@pytest.fixture
def counted_queries(monkeypatch) -> list[str]:
    """Every catalog query the process makes (the real function runs underneath)."""
    calls: list[str] = []
    real = service.evidence

    def counting(text: str, limit: int = 10) -> list[dict]:
        calls.append(text)
        return real(text, limit)

    monkeypatch.setattr(service, "evidence", counting)
    return calls


def route(store: CaseStore, sample_case: dict) -> tuple[str, dict]:
    receipt, _ = intake.submit_case(store, sample_case)
    message = message_for(store, receipt["case_id"])
    outcome = referrals.route_case_event(store, message)  # exactly what functions/route_case calls
    assert outcome.decision == "refer" and outcome.targets[0] == "KITECH"
    return receipt["case_id"], message


def plain_top(store: CaseStore, case_id: str) -> list[dict]:
    """The ranking the router gives this case without any catalog, as route_case records it."""
    result = get_router().route(referrals.routing_input(store.get_case(case_id)))
    return [{"code": s.code, "score": round(s.score, 4), "reasons": s.reasons[:6]}
            for s in result.institutes[: referrals.RANKING_RECORDED]]


def test_referral_carries_the_hits_the_router_scored_when_a_snapshot_is_loaded(aws, store, sample_case, snapshot,
                                                                               counted_queries):
    case_id, message = route(store, sample_case)
    assert len(counted_queries) == 1  # one catalog query for routing and referral together

    routing = store.get_case(case_id)["routing"]
    kitech = next(s for s in routing["institutes"] if s["code"] == "KITECH")
    plain = next(s for s in plain_top(store, case_id) if s["code"] == "KITECH")
    assert kitech["score"] > plain["score"]
    [catalog_reason] = [r for r in kitech["reasons"] if r.startswith("catalog: ")]
    assert "patent 1020180011111" in catalog_reason and "equipment Z2019000123" in catalog_reason
    assert not any(r.startswith("catalog") for s in routing["institutes"] if s["code"] != "KITECH"
                   for r in s["reasons"])

    [msg] = aws.drain("ReferralQueueKITECH")
    schema = json.loads((ROOT / "events/schemas/referral.v1.json").read_text(encoding="utf-8"))
    jsonschema.validate(msg, schema, cls=jsonschema.Draft202012Validator)
    evidence = {e["id"]: e for e in msg["evidence"]}
    assert set(evidence) == {"1020180011111", "Z2019000123"}  # KITECH's own items, nobody else's
    assert evidence["1020180011111"]["type"] == "patent" and "균열" in evidence["1020180011111"]["title"]
    assert evidence["Z2019000123"]["type"] == "equipment"
    assert evidence["Z2019000123"]["link"] == "https://zeus.example/Z2019000123"  # the source page to open
    [referral] = store.referrals(case_id)
    assert [e["id"] for e in referral["evidence"]] == [e["id"] for e in msg["evidence"]]

    replay = referrals.route_case_event(store, message)
    assert replay.replay is True and len(counted_queries) == 1  # a redelivery queries nothing


def test_routing_is_unchanged_and_referral_has_no_evidence_when_no_snapshot_was_published(aws, store, sample_case,
                                                                                      catalog_env, counted_queries):
    case_id, _ = route(store, sample_case)
    assert len(counted_queries) == 1
    assert store.get_case(case_id)["routing"]["institutes"] == plain_top(store, case_id)
    [msg] = aws.drain("ReferralQueueKITECH")
    assert msg["evidence"] == []


def test_routing_is_unchanged_and_referral_has_no_evidence_when_the_catalog_fails(aws, store, sample_case, snapshot,
                                                                              monkeypatch):
    calls: list[str] = []

    def broken(text: str, limit: int = 10) -> list[dict]:
        calls.append(text)
        raise ConnectionError("S3 unreachable")

    monkeypatch.setattr(service, "evidence", broken)
    case_id, _ = route(store, sample_case)
    assert len(calls) == 1
    assert store.get_case(case_id)["routing"]["institutes"] == plain_top(store, case_id)
    [msg] = aws.drain("ReferralQueueKITECH")
    assert msg["evidence"] == []


def test_routing_works_without_a_catalog_bucket_when_the_catalog_is_not_deployed(aws, store, sample_case, monkeypatch):
    monkeypatch.delenv("CATALOG_BUCKET", raising=False)
    service.get_catalog_settings.cache_clear()
    service.set_index(None)
    try:
        case_id, _ = route(store, sample_case)
    finally:
        service.get_catalog_settings.cache_clear()
    assert store.get_case(case_id)["routing"]["institutes"] == plain_top(store, case_id)
    [msg] = aws.drain("ReferralQueueKITECH")
    assert msg["evidence"] == []


def test_missing_snapshot_is_asked_of_s3_once_a_minute_not_per_case_when_none_was_published(catalog_env, monkeypatch):
    asked: list[str] = []
    real = S3Blobs.get_json

    def counting(self, key):
        asked.append(key)
        return real(self, key)

    monkeypatch.setattr(S3Blobs, "get_json", counting)
    assert [service.current_index() for _ in range(5)] == [None] * 5
    assert asked == [POINTER_KEY]
    service._loaded["checked"] -= 61  # a minute later the bucket is asked again
    service.current_index()
    assert asked == [POINTER_KEY, POINTER_KEY]
