"""Learning from outcomes (sos1379.routing.learning): masking, labelled examples from referral
outcomes, the case memory's vote and its blend into the router, the versioned S3 artefact and its
cheap pick-up by a running process, and the replay behind the learning curve."""
from __future__ import annotations

import json

import boto3
import pytest

from sos1379.routing import Router, RouterConfig, RoutingInput
from sos1379.routing import learning
from sos1379.routing.learning import CaseMemory, Example, ModelSource, mask_personal_data


def test_masking_removes_contact_details_and_the_cases_own_names():
    text = ("담당 김철수 과장 010-1234-5678, kim.cs@acme.co.kr 로 연락 주세요. (주)에이스정밀 공장 "
            "사업자 123-45-67890, 홈페이지 https://acme.co.kr/about 참고. 전화 +82 10 9876 5432")
    out = mask_personal_data(text, names=["김철수", "에이스정밀"])
    for leaked in ("김철수", "010-1234-5678", "kim.cs@", "acme.co.kr", "에이스정밀", "123-45-67890", "9876"):
        assert leaked not in out
    assert "[phone]" in out and "[email]" in out and "[name]" in out and "공장" in out


def test_case_text_never_reads_contact_fields():
    case = {"title": "용접 크랙", "description": "TIG 용접부 균열, 문의는 이영희(010-2222-3333)",
            "contact": {"name": "이영희", "phone": "+821022223333", "email": "lee@x.kr"},
            "company": {"name": "대한정밀"}}
    out = learning.case_text(case)
    assert "이영희" not in out and "2222" not in out and "lee@x.kr" not in out and "균열" in out


def _analyze(text: str) -> list[str]:
    return [w for w in text.lower().split() if len(w) > 1 and not w.startswith("[")]


def test_outcomes_become_labelled_examples():
    case = {"case_number": "2026-000123", "title": "weld crack", "description": "tig weld cracks stainless pipe"}
    refs = [{"institute": "KIMS", "status": "declined", "decline_reason": "out_of_scope", "updated_at": "2026-01-02"},
            {"institute": "KITECH", "status": "resolved", "updated_at": "2026-01-05"},
            {"institute": "KIMM", "status": "superseded", "updated_at": "2026-01-03"},
            {"institute": "ETRI", "status": "referred"}]
    ex = learning.examples_from_referrals(case, refs, _analyze)
    assert ex.case_number == "2026-000123" and ex.at == "2026-01-05"
    assert ex.positive == {"KITECH": 1.0}
    assert ex.negative == {"KIMS": 1.0, "KIMM": 0.6}
    assert ex.reasons == {"KIMS": "out_of_scope", "KIMM": "coordinator_reroute"}
    # a coordinator's forced pick that was accepted is a correction: stronger than a plain acceptance
    forced = learning.examples_from_referrals(case, [{"institute": "KIMS", "status": "accepted",
                                                      "routing": {"forced": True}}], _analyze)
    assert forced.positive == {"KIMS": learning.OUTCOME_WEIGHTS["corrected"]}
    assert learning.examples_from_referrals(case, [{"institute": "KIMS", "status": "referred"}], _analyze) is None


def _memory() -> CaseMemory:
    return CaseMemory([
        Example("2026-000001", "kimchi film white yeast export shipping".split(), positive={"WIKIM": 1.0}),
        Example("2026-000002", "kimchi sour fast export".split(), positive={"WIKIM": 1.0}, negative={"KFRI": 1.0}),
        Example("2026-000003", "weld crack stainless pipe".split(), positive={"KITECH": 1.0}),
    ], analyzer="hybrid")


def test_memory_votes_for_the_institutes_that_solved_similar_cases_and_against_decliners():
    votes = _memory().vote("white film on kimchi during export".split())
    assert votes["WIKIM"].score > 0 and votes["WIKIM"].cases[0] == "2026-000001"
    assert votes["KFRI"].score < 0 and votes["KFRI"].declined == ["2026-000002"]
    assert "KITECH" not in votes  # an unrelated past case does not vote
    assert _memory().vote(["unrelated"]) == {} and CaseMemory([]).vote(["kimchi"]) == {}


def test_artefact_round_trip_keeps_the_votes():
    memory = _memory()
    again = CaseMemory.from_json(json.loads(json.dumps(memory.to_json())))
    terms = "kimchi export film".split()
    assert {k: v.score for k, v in again.vote(terms).items()} == {k: v.score for k, v in memory.vote(terms).items()}
    with pytest.raises(ValueError):
        CaseMemory.from_json({"format": "something else"})


def tiny_router(**config) -> Router:
    """Three hand-written profiles and no knowledge facts: what the profiles alone say is fixed
    here, so the tests see only what the memory changes."""
    from sos1379.directory import load_directory
    from sos1379.routing.profiles import Profile

    directory = {c: i for c, i in load_directory().items() if c in ("KFRI", "KFE", "WIKIM")}
    profiles = {
        "KFRI": Profile(code="KFRI", keywords_ko=["식품 저장 곰팡이 숙성 살균 유통기한 보관", "배추 절임 염수 세척"]),
        "KFE": Profile(code="KFE", keywords_ko=["핵융합 플라즈마 진공 초전도 자석"]),
        "WIKIM": Profile(code="WIKIM", keywords_ko=["김치 발효 유산균 젓갈"]),
    }
    return Router(profiles, directory, knowledge={}, config=RouterConfig(analyzer="ngram", **config))


@pytest.fixture(scope="module")
def router() -> Router:
    return tiny_router()


def test_router_blends_the_memory_and_names_past_cases(router):
    inp = RoutingInput(title="배추 절임 염수", text="절임 염수를 여러 번 재사용해도 되는지 궁금합니다")
    before = {s.code: s.score for s in router.route(inp).institutes}
    assert before["KFRI"] > before["WIKIM"]
    analyze = router._analyze
    memory = CaseMemory([Example("2026-000777", analyze("배추 절임 염수 재사용 문의"), positive={"KFRI": 1.0},
                                 negative={"WIKIM": 1.0})], analyzer="ngram")
    router.memory = memory
    try:
        result = router.route(inp)
    finally:
        router.memory = None
    after = {s.code: s for s in result.institutes}
    assert after["KFRI"].score > before["KFRI"] and after["WIKIM"].score < before["WIKIM"]
    assert "similar past cases: 2026-000777" in after["KFRI"].reasons
    assert "declined similar cases: 2026-000777" in after["WIKIM"].reasons


def test_a_memory_of_another_analyzer_is_ignored(router):
    router.memory = CaseMemory([Example("x", ["kimchi"], positive={"KFRI": 1.0})], analyzer="kiwi")
    try:
        assert router.current_memory() is None
    finally:
        router.memory = None


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _CountingS3:
    def __init__(self, s3) -> None:
        self.s3, self.heads, self.gets = s3, 0, 0

    def head_object(self, **kw):
        self.heads += 1
        return self.s3.head_object(**kw)

    def get_object(self, **kw):
        self.gets += 1
        return self.s3.get_object(**kw)


def test_published_model_is_picked_up_without_a_redeploy_and_checked_cheaply():
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="ap-northeast-2")
        s3.create_bucket(Bucket="models", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
        clock, counting = _Clock(), _CountingS3(s3)
        source = ModelSource("models", s3=counting, refresh_seconds=300, clock=clock)
        assert source.current() is None  # nothing published yet: routing goes on without a memory
        first = learning.build_memory(_memory().examples, "hybrid")
        out = learning.publish(s3, "models", first)
        assert out["key"].startswith(learning.MODEL_PREFIX) and s3.head_object(Bucket="models", Key=out["key"])
        assert source.current() is None  # still within the refresh interval: no S3 call
        assert counting.heads == 1
        clock.now += 301
        assert source.current().version == first.version and counting.gets == 1
        clock.now += 301
        assert source.current().version == first.version
        assert counting.heads == 3 and counting.gets == 1  # same ETag: HeadObject only
        second = CaseMemory(first.examples[:1], analyzer="hybrid", version="v2")
        learning.publish(s3, "models", second)
        clock.now += 301
        assert source.current().version == "v2" and counting.gets == 2


def test_replay_learns_a_recurring_problem(router):
    """The profiles send cold-storage mould to the food institute; each outcome (the food
    institute declined, the fusion institute's plasma sterilisation solved it) counts, and after
    two the same problem goes to the right institute."""
    case = {"id": "r0", "title": "농산물 저장창고 곰팡이",
            "text": "저장 중에 곰팡이가 피고 숙성이 빨리 진행돼 손실이 큽니다. 약품 없이 살균하는 장치가 필요해요",
            "gold": ["KFE"]}
    assert router.route(RoutingInput(title=case["title"], text=case["text"])).institutes[0].code != "KFE"
    rows = list(learning.replay(router, [dict(case, id=f"r{i}") for i in range(3)], rebuild_every=1))
    assert [r["seen"] for r in rows] == [1, 2, 3]
    assert [r["block_top1"] for r in rows] == [0.0, 0.0, 1.0]
    assert router.memory is None  # the replay leaves the router as it found it


def test_memory_votes_do_not_depend_on_how_many_cases_it_holds():
    near = Example("2026-000010", "kimchi white film export".split(), positive={"WIKIM": 1.0})
    filler = [Example(f"2026-1{i:05d}", f"unrelated topic {i} gear shaft".split(), positive={"KIMM": 1.0})
              for i in range(50)]
    small = CaseMemory([near]).vote("kimchi white film export".split())["WIKIM"].score
    large = CaseMemory([near, *filler]).vote("kimchi white film export".split())["WIKIM"].score
    assert small == large > 0.7
