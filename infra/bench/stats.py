"""``GET /stats`` and ``/statistics`` for a month of 10,000 cases (``STATS_BENCH_CASES``), served by
the Chalice app against a moto server (the local stack's moto, with its fixes), next to the floor
of one bare GetItem of the month's counter item in the same run, and the exact recomputation over
every case (``reporting.compute_stats``, what ``GET /stats`` did before the counters) once.

The counters are fed the way the stack feeds them: every case's ``case.submitted`` event, 60 % of
them a first guidance and 25 % a rating go through ``counters.record_item`` (what the outbox relay
calls for each stream record), so the month item holds real contributions, marks included."""
from __future__ import annotations

import os
import random
import time
import uuid
from datetime import datetime, timedelta

from . import moto_server, summarize, timed


def _table() -> str:
    import boto3

    from infra.template import load_template
    from pathlib import Path

    props = load_template(Path(__file__).resolve().parents[2] / "template.yaml")["Resources"]["CasesTable"]["Properties"]
    name = f"bench-stats-{uuid.uuid4().hex[:6]}"
    boto3.client("dynamodb").create_table(
        TableName=name, AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"], BillingMode="PAY_PER_REQUEST")
    return name


def _fill(store, n: int, month_start: datetime, rng: random.Random) -> dict:
    """``n`` cases received in the month, their events, and the counters fed event by event."""
    from sos1379 import korea
    from sos1379.coordinators import counters
    from sos1379.events import Actor, CaseEvent, iso
    from sos1379.store import event_item, to_dynamo

    channels = ["web", "mobile", "call_center", "visit", "partner"]
    services = ["tech_consult", "equipment", "tech_transfer", "investment", "tech_upgrade"]
    regions = [r.code for r in korea.REGIONS]
    per_day: dict[str, int] = {}
    fed = {"events": 0}
    start = time.perf_counter()
    with store.table.batch_writer() as batch:
        cases = []
        for i in range(n):
            at = month_start + timedelta(minutes=int(i * 28 * 24 * 60 / n))
            day = at.astimezone(korea.SEOUL).strftime("%y%m%d")
            per_day[day] = per_day.get(day, 0) + 1
            case_id = uuid.uuid4().hex
            case = {"case_id": case_id, "case_number": f"{day}-{per_day[day]:04d}", "status": "received", "version": 1,
                    "created_at": iso(at), "guidance_due_at": iso(korea.add_business_days(at, 3)),
                    "channel": rng.choice(channels), "service_type": rng.choice(services), "title": "bench",
                    "company": {"region": rng.choice(regions), "size": "small", "name": "bench"}}
            batch.put_item(Item=to_dynamo({**case, "PK": f"CASE#{case_id}", "SK": "META", "kind": "case"}))
            batch.put_item(Item={"PK": f"CASENO#{case['case_number']}", "SK": "META", "case_id": case_id})
            submitted = CaseEvent(case_id=case_id, type="case.submitted", at=iso(at), actor=Actor(kind="sme", id="public"),
                                  data={"channel": case["channel"]})
            batch.put_item(Item=event_item(submitted))
            events = [submitted]
            if rng.random() < 0.6:
                given = CaseEvent(case_id=case_id, type="case.guidance_given",
                                  at=iso(at + timedelta(hours=rng.choice([3, 20, 50, 90, 130]))),
                                  actor=Actor(kind="counselor", id="bench"), data={"summary": "x"})
                batch.put_item(Item=event_item(given))
                events.append(given)
                if rng.random() < 0.4:
                    rated = CaseEvent(case_id=case_id, type="case.rated", at=iso(at + timedelta(days=6)),
                                      actor=Actor(kind="sme", id="public"), data={"rating": rng.randint(3, 5)})
                    case["rating"] = {"score": rated.data["rating"]}
                    batch.put_item(Item=event_item(rated))
                    events.append(rated)
            cases.append((case, events))
        for day, count in per_day.items():
            batch.put_item(Item={"PK": f"COUNTER#{day}", "SK": "META", "value": count})
    written = time.perf_counter() - start
    start = time.perf_counter()
    for case, events in cases:
        counters.record_case_status(store, case)
        for event in events:
            counters.record_item(store, {**event.model_dump(mode="json"), "kind": "event"})
            fed["events"] += 1
    return {"cases": n, "events_counted": fed["events"], "write_s": round(written, 1),
            "counting_s": round(time.perf_counter() - start, 1),
            "counting_ms_per_event": round((time.perf_counter() - start) * 1000 / max(1, fed["events"]), 2)}


def run() -> dict:
    import boto3
    from chalice.test import Client

    from sos1379 import korea
    from sos1379.api.common import get_store
    from sos1379.coordinators import auth
    from sos1379.coordinators.reporting import compute_stats
    from sos1379.coordinators.settings import get_staff_settings
    from sos1379.settings import get_settings

    n = int(os.environ.get("STATS_BENCH_CASES", "10000"))
    repeat = int(os.environ.get("STATS_BENCH_REPEAT", "200"))
    rng = random.Random(1379)
    month_start = datetime(2026, 10, 1, 0, 30, tzinfo=korea.SEOUL)
    month = "2026-10"
    secret = "b" * 40
    with moto_server():
        os.environ["CASES_TABLE"] = table = _table()
        os.environ["COORDINATOR_DEV_JWT_SECRET"] = secret
        get_settings.cache_clear()
        get_store.cache_clear()
        get_staff_settings.cache_clear()
        store = get_store()
        filled = _fill(store, n, month_start, rng)
        from app import app

        headers = {"Authorization": f"Bearer {auth.mint_dev_token(secret, 'bench', 'coordinator')}"}
        ddb = boto3.client("dynamodb")
        with Client(app) as client:
            def stats():
                resp = client.http.get(f"/stats?month={month}", headers=headers)
                assert resp.status_code == 200, resp.body

            def page():
                resp = client.http.get(f"/statistics?month={month}")
                assert resp.status_code == 200, resp.body

            def floor():
                ddb.get_item(TableName=table, Key={"PK": {"S": f"STATS#{month}"}, "SK": {"S": "META"}})

            for fn in (stats, page, floor):
                timed(fn, 10)
            api_s, page_s, floor_s = [], [], []
            for _ in range(repeat):  # interleaved: all three see the same machine load
                api_s += timed(stats, 1)
                page_s += timed(page, 1)
                floor_s += timed(floor, 1)
            answer = client.http.get(f"/stats?month={month}", headers=headers).json_body
        start = time.perf_counter()
        exact = compute_stats(store, month, now=month_start + timedelta(days=40))
        exact_s = time.perf_counter() - start
    api, pg, fl = summarize(api_s), summarize(page_s), summarize(floor_s)
    return {
        "fill": filled, "month": month,
        "get_stats": api, "statistics_page": pg, "floor_get_item": fl,
        "get_stats_vs_floor_median": round(api["median_ms"] / fl["median_ms"], 2),
        "statistics_page_vs_floor_median": round(pg["median_ms"] / fl["median_ms"], 2),
        "exact_recomputation_s": round(exact_s, 2),
        "exact_vs_counters_median": round(exact_s * 1000 / api["median_ms"], 1),
        "counters_total": answer["total"], "exact_total": exact["total"],
        "counters_fg_on_time": answer["sla"]["first_guidance"]["on_time"],
        "exact_fg_on_time": exact["sla"]["first_guidance"]["on_time"],
        "counters_median_days": answer["first_guidance_business_days"]["median"],
        "exact_median_days": exact["first_guidance_business_days"]["median"],
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=2))
