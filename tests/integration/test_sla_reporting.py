"""Monthly statistics, the S3 report, the scheduled handlers and the terminal report (moto)."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
from datetime import datetime, timedelta

import boto3
import pytest

from sos1379 import intake, korea
from sos1379.coordinators.reporting import compute_stats, previous_month, to_svg, write_monthly_report
from sos1379.settings import get_settings
from sos1379.events import Actor, CaseEvent, iso
from tests.conftest import ROOT

KST = korea.SEOUL
DAY = datetime(2026, 11, 9, 10, 0, tzinfo=KST)  # Monday


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "fn", 128, "req-1"
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:fn"


@pytest.fixture
def month_of_cases(store, sample_case):
    """Three November cases: one answered on time and rated, one answered late, one unanswered;
    plus one October case that must not be counted."""
    ids = []
    for offset, channel in ((0, "web"), (1, "call_center"), (2, "visit")):
        receipt, _ = intake.submit_case(store, {**sample_case, "channel": channel}, now=DAY + timedelta(days=offset))
        ids.append(receipt["case_id"])
    intake.submit_case(store, sample_case, now=datetime(2026, 10, 30, 10, 0, tzinfo=KST))
    on_time = store.get_case(ids[0])
    event = CaseEvent(case_id=ids[0], type="case.resolved", at=iso(DAY + timedelta(days=1)),
                      actor=Actor(kind="institute", id="KITECH"), data={"summary": "done"})
    store.update_case(on_time, {"status": "resolved", "outcome": {"summary": "done"}, "referred_to": ["KITECH"],
                                "rating": {"score": 4}}, events=[event])
    late = store.get_case(ids[1])
    event = CaseEvent(case_id=ids[1], type="case.guidance_given", at=iso(DAY + timedelta(days=8)),
                      actor=Actor(kind="counselor", id="carol"), data={"summary": "late"})
    store.update_case(late, {"status": "triaged"}, events=[event])
    return ids


def test_stats_count_only_the_month_and_score_sla_when_cases_mixed(store, month_of_cases):
    stats = compute_stats(store, "2026-11", now=datetime(2026, 11, 30, 12, 0, tzinfo=KST))
    assert stats["total"] == 3
    assert stats["by_channel"] == {"web": 1, "call_center": 1, "visit": 1}
    assert stats["by_institute"] == {"(none)": 2, "KITECH": 1}
    fg = stats["sla"]["first_guidance"]
    assert (fg["on_time"], fg["late"], fg["breached_open"]) == (1, 1, 1)
    assert fg["compliance"] == pytest.approx(1 / 3, abs=1e-3)
    assert stats["first_guidance_business_days"]["count"] == 2
    assert stats["satisfaction"] == {"count": 1, "mean": 4.0, "distribution": {"1": 0, "2": 0, "3": 0, "4": 1,
                                                                               "5": 0}}


def test_monthly_report_writes_csv_chart_and_json_when_scheduled(store, month_of_cases, monkeypatch):
    s3 = boto3.client("s3", region_name="ap-northeast-2")
    s3.create_bucket(Bucket="reports", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    monkeypatch.setenv("REPORTS_BUCKET", "reports")
    get_settings.cache_clear()
    spec = importlib.util.spec_from_file_location("monthly_report_handler",
                                                  ROOT / "functions" / "monthly_report" / "handler.py")
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    result = handler.lambda_handler({"time": "2026-12-01T00:00:00Z"}, Context())
    assert result["month"] == "2026-11" and result["total"] == 3
    body = s3.get_object(Bucket="reports", Key="reports/2026-11/stats.csv")["Body"].read().decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {"month": "2026-11", "section": "total", "key": "cases", "value": "3"} in rows
    svg = s3.get_object(Bucket="reports", Key="reports/2026-11/chart.svg")
    assert svg["ContentType"] == "image/svg+xml" and svg["Body"].read().startswith(b"<svg")
    assert json.loads(s3.get_object(Bucket="reports", Key="reports/2026-11/stats.json")["Body"].read())["total"] == 3
    assert s3.head_object(Bucket="reports", Key="reports/2026-11/stats.csv")["ServerSideEncryption"] == "AES256"
    get_settings.cache_clear()
    assert write_monthly_report(store, "reports", "2026-11", s3=s3)["keys"] == result["keys"]  # rerun: same keys


def test_flag_handler_uses_the_scheduled_time_when_invoked(store, sample_case):
    intake.submit_case(store, sample_case, now=DAY)
    spec = importlib.util.spec_from_file_location("flag_handler", ROOT / "functions" / "flag_sla_breaches" / "handler.py")
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)

    result = handler.lambda_handler({"time": iso(DAY + timedelta(days=5))}, Context())
    assert (result["examined"], result["breached"]) == (1, 1)
    again = handler.lambda_handler({"time": iso(DAY + timedelta(days=5, minutes=15))}, Context())
    assert (again["breached"], again["alerts"]) == (0, 0)


def test_report_prints_tables_when_asked_in_the_terminal(store, month_of_cases, capsys):
    from infra.cli.coordinators import print_report

    print_report(compute_stats(store, "2026-11", now=datetime(2026, 11, 30, tzinfo=KST)))
    out = capsys.readouterr().out
    assert "monthly report 2026-11" in out and "call_center" in out and "SLA compliance" in out
    assert "33.3%" in out


def test_previous_month_is_taken_in_seoul_when_run_at_midnight_utc():
    assert previous_month(datetime.fromisoformat("2026-12-01T00:00:00+00:00")) == "2026-11"
    assert previous_month(datetime.fromisoformat("2026-01-01T00:00:00+00:00")) == "2025-12"


def test_chart_escapes_labels_when_rendering():
    stats = {"month": "2026-11", "total": 1, "by_channel": {"<web>": 1}, "by_service_type": {}, "by_region": {},
             "by_institute": {}, "sla": {"first_guidance": {"compliance": None}, "resolution": {"compliance": 0.5}},
             "satisfaction": {"mean": None}}
    svg = to_svg(stats)
    assert "&lt;web&gt;" in svg and "<web>" not in svg
