"""Monthly statistics counters fed by the outbox relay (moto): the same figures as the exact
recomputation, once per contribution however often the stream redelivers, one read to answer."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sos1379 import intake, korea
from sos1379.coordinators import counters
from sos1379.coordinators.reporting import compute_stats
from sos1379.events import Actor, CaseEvent, iso
from sos1379.outbox import relay_record
from tests.integration.test_outbox import stream_records

KST = korea.SEOUL
DAY = datetime(2026, 11, 9, 10, 0, tzinfo=KST)  # Monday
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=KST)


@pytest.fixture
def november(store, sample_case):
    """Three November cases (answered on time and rated 4, answered late, unanswered) and one
    October case."""
    ids = []
    for offset, channel in ((0, "web"), (1, "call_center"), (2, "visit")):
        receipt, _ = intake.submit_case(store, {**sample_case, "channel": channel}, now=DAY + timedelta(days=offset))
        ids.append(receipt["case_id"])
    intake.submit_case(store, sample_case, now=datetime(2026, 10, 30, 10, 0, tzinfo=KST))
    case = store.get_case(ids[0])
    referred = CaseEvent(case_id=ids[0], type="case.referred", at=iso(DAY + timedelta(hours=1)),
                         actor=Actor(kind="system", id="router"), data={"institutes": [{"code": "KITECH"}]})
    case = store.update_case(case, {"status": "referred", "referred_to": ["KITECH"]}, events=[referred])
    resolved = CaseEvent(case_id=ids[0], type="case.resolved", at=iso(DAY + timedelta(days=1)),
                         actor=Actor(kind="institute", id="KITECH"), data={"summary": "done"})
    case = store.update_case(case, {"status": "resolved", "outcome": {"summary": "done"}}, events=[resolved])
    rated = CaseEvent(case_id=ids[0], type="case.rated", at=iso(DAY + timedelta(days=2)),
                      actor=Actor(kind="sme", id="public"), data={"rating": 4})
    store.update_case(case, {"rating": {"score": 4}}, events=[rated])
    late = store.get_case(ids[1])
    given = CaseEvent(case_id=ids[1], type="case.guidance_given", at=iso(DAY + timedelta(days=8)),
                      actor=Actor(kind="counselor", id="carol"), data={"summary": "late"})
    store.update_case(late, {"status": "triaged"}, events=[given])
    return ids


def relay_all(table: str) -> int:
    records = stream_records(table)
    for record in records:
        relay_record(record)
    return len(records)


def test_counters_match_the_exact_recomputation_when_the_stream_is_relayed(aws, store, november):
    from sos1379.sla import MemoryAlertSink, flag_due_cases

    flag_due_cases(store, NOW, MemoryAlertSink())  # the SLA pass flags the unanswered case
    relay_all(aws.tables["CasesTable"])
    fast = counters.month_stats(store, "2026-11", NOW)
    exact = compute_stats(store, "2026-11", now=NOW)
    assert fast["total"] == exact["total"] == 3
    for key in ("by_channel", "by_service_type", "by_region", "by_status", "by_institute"):
        assert fast[key] == {k: v for k, v in exact[key].items() if k != "(none)"}, key
    for figure in ("on_time", "late", "compliance"):
        assert fast["sla"]["first_guidance"][figure] == exact["sla"]["first_guidance"][figure], figure
    assert fast["satisfaction"] == exact["satisfaction"]
    assert fast["first_guidance_business_days"]["count"] == exact["first_guidance_business_days"]["count"] == 2
    # median of 1.0 and ~6 business days, read from 0.1-day buckets: within a bucket of the truth
    assert abs(fast["first_guidance_business_days"]["median"] - exact["first_guidance_business_days"]["median"]) <= 0.1
    assert counters.month_stats(store, "2026-10", NOW)["total"] == 1


def test_counters_count_each_contribution_once_when_the_stream_redelivers(aws, store, november):
    relay_all(aws.tables["CasesTable"])
    first = counters.month_stats(store, "2026-11", NOW)
    relay_all(aws.tables["CasesTable"])  # every record again, in order: at-least-once delivery
    for record in reversed(stream_records(aws.tables["CasesTable"])):  # and out of order
        relay_record(record)
    again = counters.month_stats(store, "2026-11", NOW)
    assert {k: v for k, v in again.items() if k != "generated_at"} == \
        {k: v for k, v in first.items() if k != "generated_at"}
    assert again["total"] == 3 and again["by_status"] == {"resolved": 1, "triaged": 1, "received": 1}


def test_month_stats_reads_one_item_when_asked(aws, store, november):
    relay_all(aws.tables["CasesTable"])
    calls = []
    store.client.meta.events.register("before-call.dynamodb.*", lambda model, **kw: calls.append(model.name))
    store.table.meta.client.meta.events.register("before-call.dynamodb.*", lambda model, **kw: calls.append(model.name))
    store.raw.meta.events.register("before-call.dynamodb.*", lambda model, **kw: calls.append(model.name))
    counters.month_stats(store, "2026-11", NOW)
    assert calls in (["GetItem"], ["GetItem", "GetItem"])  # client and resource share one client
    calls.clear()
    months = counters.series(store, "2026-11", 12, NOW)
    assert [m["month"] for m in months][-2:] == ["2026-10", "2026-11"] and len(months) == 12
    assert set(calls) == {"BatchGetItem"}


def test_rebuild_month_counts_a_month_that_predates_the_counters_once(aws, store, november):
    assert counters.month_stats(store, "2026-11", NOW)["total"] == 0  # nothing relayed yet
    counters.rebuild_month(store, "2026-11", NOW)
    counters.rebuild_month(store, "2026-11", NOW)
    relay_all(aws.tables["CasesTable"])  # the stream arriving afterwards adds nothing more
    stats = counters.month_stats(store, "2026-11", NOW)
    assert stats["total"] == 3 and stats["by_channel"] == {"call_center": 1, "visit": 1, "web": 1}
    assert stats["satisfaction"]["count"] == 1


@pytest.mark.parametrize("values, median", [({}, None), ({10: 1}, 1.05), ({10: 1, 30: 1}, 2.05),
                                            ({0: 2, 50: 1}, 0.05)])
def test_median_is_read_from_the_histogram_when_buckets_given(values, median):
    assert counters.median_from_histogram(values) == median
