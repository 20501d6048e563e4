"""Outcomes in the case table become the router's case memory (RetrainRouterFunction on moto), the
artefact is versioned in S3, and a running router picks it up without a redeploy."""
from __future__ import annotations

import copy
import importlib.util
import json

import boto3
import pytest

from sos1379.institutes import service as institute_service
from sos1379.referrals import fanout as referrals
from sos1379.routing import RoutingInput, learning
from tests.conftest import ROOT
from tests.integration.test_referrals import FixedRouter, intake_message, submit
from tests.unit.test_routing_learning import tiny_router

BUCKET = "test-catalog"


@pytest.fixture
def bucket(aws, monkeypatch) -> str:
    boto3.client("s3", region_name="ap-northeast-2").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    monkeypatch.setenv("ROUTER_MODEL_BUCKET", BUCKET)
    from sos1379.settings import get_settings

    get_settings.cache_clear()  # settings are read once per process
    return BUCKET


def _settle(store, sample_case, *, title: str, description: str, decline: str | None, resolve: str) -> str:
    case = copy.deepcopy(sample_case)
    case["title"], case["description"] = title, description
    case_id = submit(store, case)
    ranking = [c for c in (decline, resolve) if c]
    referrals.route_case_event(store, intake_message(store, case_id), router=FixedRouter(ranking),
                               sender=_NoSend())
    if decline:
        institute_service.decline(store, decline, case_id, {"reason": "not our field"})
        # the coordinator (or the re-route) sends it to the institute that solves it
        referrals.route_case_event(store, {"event_id": f"reroute-{case_id}", "case_id": case_id,
                                           "type": "case.route_requested", "at": "2026-11-26T01:00:00.000Z",
                                           "data": {"targets": [resolve]}},
                                   router=FixedRouter([resolve]), sender=_NoSend())
    institute_service.accept(store, resolve, case_id)
    institute_service.resolve(store, resolve, case_id, {"summary": "플라즈마 살균 장치로 해결했습니다"})
    return case_id


class _NoSend:
    def send(self, message) -> None:
        pass


def test_retrain_turns_outcomes_into_a_published_memory_the_router_uses(aws, store, bucket, sample_case):
    mould = ("농산물 저장창고 곰팡이", "저장 중에 곰팡이가 피고 숙성이 빨리 진행돼 손실이 큽니다. "
             "약품 없이 살균하는 장치가 필요해요. 담당 김민수 010-1234-5678")
    # two SMEs with the same problem: the food institute declined both, the fusion institute's
    # plasma sterilisation solved both
    case_id = _settle(store, sample_case, title=mould[0], description=mould[1], decline="KFRI", resolve="KFE")
    _settle(store, sample_case, title="저장고 곰팡이 살균", description="농산물 저장고에 곰팡이가 피고 숙성이 빨라요. "
            "약품 없이 살균하는 장치를 찾습니다", decline="KFRI", resolve="KFE")
    s3 = boto3.client("s3", region_name="ap-northeast-2")
    out = learning.retrain(store, s3, bucket, analyzer="ngram")
    assert out["examples"] == 2 and out["positives"] == 2 and out["negatives"] == 2
    artefact = json.loads(s3.get_object(Bucket=bucket, Key=learning.CURRENT_KEY)["Body"].read())
    assert s3.get_object(Bucket=bucket, Key=out["key"])["Body"].read()  # the versioned copy
    number = store.get_case(case_id)["case_number"]
    example = next(e for e in artefact["examples"] if e["case_number"] == number)
    assert example["case_number"] == number
    assert example["positive"] == {"KFE": learning.OUTCOME_WEIGHTS["corrected"]}
    assert example["negative"] == {"KFRI": 1.0} and example["reasons"] == {"KFRI": "not our field"}
    text = json.dumps(artefact, ensure_ascii=False)
    for personal in ("김민수", "1234", "5678", "minsu", "한빛정밀", "116-82"):
        assert personal not in text  # masked text only, never contact or company fields

    router = tiny_router()
    router.memory = learning.ModelSource(bucket, s3=s3)
    # the same problem again, from a third SME: the profiles alone would send it to KFRI again
    again = RoutingInput(title=mould[0], text="저장 중에 곰팡이가 피고 숙성이 빨리 진행돼 손실이 커요. 약품 없이 살균하는 장치가 필요합니다")
    assert tiny_router().route(again).institutes[0].code == "KFRI"
    result = router.route(again)
    top = result.institutes[0]
    assert top.code == "KFE" and any(r.startswith("similar past cases: ") and number in r for r in top.reasons)
    kfri = next(s for s in result.institutes if s.code == "KFRI")
    assert any(r.startswith("declined similar cases: ") for r in kfri.reasons)


def test_retrain_function_handler_publishes_on_schedule_and_on_demand(aws, store, bucket, sample_case):
    _settle(store, sample_case, title="배추 절임 염수", description="절임 염수를 여러 번 재사용해도 되는지 궁금합니다",
            decline=None, resolve="WIKIM")
    spec = importlib.util.spec_from_file_location("retrain_handler", ROOT / "functions/retrain_router/handler.py")
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)

    class Context:
        function_name = "RetrainRouterFunction"
        memory_limit_in_mb = 2048
        invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:RetrainRouterFunction"
        aws_request_id = "req"

    first = handler.lambda_handler({"time": "2026-12-05T18:00:00Z"}, Context())
    second = handler.lambda_handler({}, Context())
    assert first["examples"] == second["examples"] == 1
    assert first["version"].startswith("20261205T180000Z") and first["version"] != second["version"]
    keys = [o["Key"] for o in boto3.client("s3", region_name="ap-northeast-2").list_objects_v2(
        Bucket=bucket, Prefix=learning.MODEL_PREFIX)["Contents"]]
    assert len(keys) == 2  # every run keeps its own immutable version


def test_route_learn_cli_runs_the_same_job(aws, store, bucket, sample_case, capsys):
    from infra.cli import main

    _settle(store, sample_case, title="배추 절임 염수", description="절임 염수를 여러 번 재사용해도 되는지 궁금합니다",
            decline="KFRI", resolve="WIKIM")
    assert main(["route", "learn", "--analyzer", "ngram"]) == 0  # CASES_TABLE and the bucket from the env
    out = json.loads(capsys.readouterr().out)
    assert out["examples"] == 1 and out["negatives"] == 1
    body = boto3.client("s3", region_name="ap-northeast-2").get_object(Bucket=bucket, Key=learning.CURRENT_KEY)["Body"]
    assert json.loads(body.read())["version"] == out["version"]
