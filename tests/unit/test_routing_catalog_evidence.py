"""Catalog hits as routing evidence: relevance floor, rank shares, the bound on what evidence can
add, reasons, and routing left exactly as it was when the catalog has nothing or fails."""
from __future__ import annotations

import logging

import pytest
from sos1379.routing import Router, RoutingInput, get_router
from sos1379.routing.evidence import catalog_hits, counted_hits, evidence_by_institute

WELD = RoutingInput(title="스테인리스 배관 용접부 균열", text="TIG 용접 후 용접부 주변에 미세한 크랙이 생겨요",
                    service_type="tech_consult")


def hit(institute: str, score: float, id_: str | None = None, type_: str = "patent") -> dict:
    return {"institute": institute, "id": id_ or f"{institute}-{score}", "type": type_,
            "title": f"{institute} 기술 {score}", "score": score}


def by_code(result) -> dict:
    return {s.code: s for s in result.institutes}


@pytest.fixture(scope="module")
def router() -> Router:
    return get_router()


def test_only_hits_above_the_relevance_floor_count_when_scores_spread():
    hits = [hit("KITECH", 10.0), hit("KIMS", 6.0), hit("KBSI", 4.9), hit("ETRI", 1.0)]
    counted = counted_hits(hits, floor=0.5, depth=10)
    assert [h["institute"] for h in counted] == ["KITECH", "KIMS"]


def test_only_the_best_hits_count_when_there_are_more_than_the_depth():
    hits = [hit("KITECH", 10.0 - i * 0.1, id_=f"k{i}") for i in range(15)]
    assert len(counted_hits(hits, floor=0.0, depth=10)) == 10


def test_shares_follow_rank_and_sum_to_one_when_hits_count():
    hits = [hit("KBSI", 3.0), hit("KITECH", 9.0), hit("KIMS", 8.0), hit("KITECH", 7.0)]
    evidence = evidence_by_institute(hits, floor=0.0, depth=10)
    assert sum(e.share for e in evidence.values()) == pytest.approx(1.0)
    # ranks 0 and 2 for KITECH (1 + 1/3), rank 1 for KIMS (1/2), rank 3 for KBSI (1/4); total 25/12
    assert evidence["KITECH"].share == pytest.approx((1 + 1 / 3) / (25 / 12))
    assert evidence["KIMS"].share == pytest.approx(0.5 / (25 / 12))
    assert [h["score"] for h in evidence["KITECH"].hits] == [9.0, 7.0]


def test_hits_of_unknown_or_missing_institutes_are_ignored_when_counted():
    hits = [hit("NOPE", 9.0), {"id": "x", "type": "paper", "title": "t", "score": 8.0}, hit("KIMS", 5.0)]
    evidence = evidence_by_institute(hits, floor=0.0, depth=10, known={"KIMS", "KITECH"})
    assert list(evidence) == ["KIMS"] and evidence["KIMS"].share == pytest.approx(1.0)


def test_passed_hits_raise_the_owner_and_name_the_items_in_its_reasons_when_given(router: Router):
    hits = [hit("KRISS", 9.0, "EQ-77", "equipment"), hit("KRISS", 8.0, "1020190001234")]
    plain, scored = router.route(WELD), router.route(WELD, evidence=hits)
    before, after = by_code(plain)["KRISS"], by_code(scored)["KRISS"]
    assert after.score == pytest.approx(before.score + router.config.evidence_weight, abs=1e-3)
    assert "catalog: equipment EQ-77: KRISS 기술 9.0; patent 1020190001234: KRISS 기술 8.0" in after.reasons
    assert not any(r.startswith("catalog") for r in by_code(scored)["KITECH"].reasons)


def test_evidence_adds_at_most_its_weight_and_never_overturns_a_clear_lead_when_all_hits_favour_another(router):
    plain = router.route(WELD)
    leader, runner = plain.institutes[0], plain.institutes[1]
    assert leader.code == "KITECH" and runner.score < leader.score - router.config.evidence_weight
    scored = router.route(WELD, evidence=[hit(runner.code, 20.0 - i, id_=str(i)) for i in range(20)])
    gained = {s.code: s.score - by_code(plain)[s.code].score for s in scored.institutes}
    assert max(gained.values()) <= router.config.evidence_weight + 1e-3
    # the lead holds; the runner may become a co-target (within 90 %), which depends on the shipped
    # knowledge, not on the evidence bound this test is about
    assert scored.institutes[0].code == "KITECH" and scored.targets[0] == plain.targets[0] == "KITECH"


def test_passed_hits_are_used_instead_of_the_router_lookup_when_given():
    calls: list[str] = []

    def lookup(query: str) -> list[dict]:
        calls.append(query)
        return [hit("KBSI", 5.0)]

    with_lookup = Router(evidence=lookup)
    with_lookup.route(WELD, evidence=[hit("KIMS", 5.0)])
    assert calls == []
    with_lookup.route(WELD)
    assert len(calls) == 1 and "용접" in calls[0]


def test_routing_is_unchanged_when_the_catalog_has_no_hits(router: Router):
    assert router.route(WELD, evidence=[]).model_dump() == router.route(WELD).model_dump()
    zero = [hit("KIMS", 0.0)]  # a "hit" with no relevance is no evidence
    assert router.route(WELD, evidence=zero).model_dump() == router.route(WELD).model_dump()


def test_catalog_hits_are_empty_and_routing_unchanged_when_the_catalog_fails(router: Router, monkeypatch):
    from sos1379.catalog import service
    from sos1379.routing import evidence as evidence_module

    def broken(text: str, limit: int = 10) -> list[dict]:
        raise OSError("snapshot unreadable")

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    evidence_module.logger.addHandler(handler)
    monkeypatch.setattr(service, "evidence", broken)
    try:
        hits = catalog_hits("용접부 균열", 20)
    finally:
        evidence_module.logger.removeHandler(handler)
    assert hits == []
    [record] = records
    assert record.getMessage() == "catalog evidence unavailable" and record.error == "OSError"
    assert "용접" not in str(record.__dict__)  # the case text never reaches the logs
    assert router.route(WELD, evidence=hits).model_dump() == router.route(WELD).model_dump()


def test_catalog_hits_are_empty_when_no_snapshot_is_configured(monkeypatch):
    from sos1379.catalog import service

    monkeypatch.delenv("CATALOG_BUCKET", raising=False)
    service.get_catalog_settings.cache_clear()
    service.set_index(None)
    try:
        assert catalog_hits("용접부 균열", 20) == []
    finally:
        service.get_catalog_settings.cache_clear()

