"""``GET /stats`` and ``/statistics`` for a month of 10,000 cases (``STATS_BENCH_CASES``), served by
the Chalice app against a moto server (the local stack's moto, with its fixes), next to the floor
of one bare GetItem of the month's counter item in the same run, and the exact recomputation over
every case (``reporting.compute_stats``, what ``GET /stats`` did before the counters) once when
``STATS_BENCH_EXACT=1``.

The counters of the first ``STATS_BENCH_RELAYED`` cases (default 300) are fed the way the stack
feeds them: each case's status image and events (``case.submitted``; 60 % a first guidance, a
quarter of those a rating) go through ``counters.record_item`` (what the outbox relay calls per
stream record): that measures the counting cost per event, and the counters must equal the exact
recomputation of those cases. The other cases' contributions (same events, same counter names) are
summed in this process and added with one UpdateItem, their marks batch-written: moto prices
every TransactWriteItems at the table's size, so 28,000 transactions would take hours here and
measure moto, not the read that ``GET /stats`` makes. The table then holds 10,000 cases, their
events and marks, and one month item, as it would after the relay counted them one by one."""
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
    relayed = min(n, int(os.environ.get("STATS_BENCH_RELAYED", "300")))
    start = time.perf_counter()
    for case, events in cases[:relayed]:
        counters.record_case_status(store, case)
        for event in events:
            counters.record_item(store, {**event.as_dict(), "kind": "event"})
            fed["events"] += 1
    counting = time.perf_counter() - start
    exact_sample = _sample_check(store, cases[:relayed])
    _add_in_bulk(store, cases[relayed:])
    return {"cases": n, "relayed_cases": relayed, "events_counted_one_by_one": fed["events"],
            "write_s": round(written, 1), "counting_s": round(counting, 1),
            "counting_ms_per_event": round(counting * 1000 / max(1, fed["events"]), 2), **exact_sample}


def _contributions(case: dict, events: list) -> list[tuple[str, dict]]:
    """What ``counters`` adds for these events, computed here (same rules, no transactions)."""
    from sos1379 import korea
    from sos1379.coordinators import counters
    from sos1379.events import parse_iso
    from sos1379.sla import GUIDANCE_BUSINESS_DAYS

    out = [("STATUS", {f"status:{case['status']}": 1}),
           ("submitted", {"total": 1, f"channel:{case['channel']}": 1, f"service:{case['service_type']}": 1,
                          f"region:{case['company']['region']}": 1})]
    start = parse_iso(case["created_at"])
    for event in events:
        if event.type == "case.guidance_given":
            days = korea.business_days_between(start, parse_iso(event.at))
            on_time = days <= GUIDANCE_BUSINESS_DAYS
            out.append(("first_guidance", {f"fg:{'on_time' if on_time else 'late'}": 1,
                                           f"fg_days:{counters.day_bucket(days)}": 1, "fg_days:count": 1}))
        if event.type == "case.rated":
            score = event.data["rating"]
            out.append(("rating", {"rating:count": 1, "rating:sum": score, f"rating:{score}": 1}))
    return out


def _add_in_bulk(store, cases: list) -> None:
    from collections import Counter

    from sos1379.store.items import stats_mark_key, stats_month_key

    totals: Counter = Counter()
    with store.table.batch_writer() as batch:
        for case, events in cases:
            for contribution, counts in _contributions(case, events):
                totals.update(counts)
                batch.put_item(Item={**stats_mark_key(case["case_id"], contribution), "month": "bench"})
    names = {f"#c{i}": k for i, k in enumerate(totals)}
    values = {f":c{i}": v for i, v in enumerate(totals.values())}
    store.table.update_item(Key=stats_month_key("2026-10"),
                            UpdateExpression="ADD " + ", ".join(f"{n} {v}" for n, v in zip(names, values)),
                            ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def _sample_check(store, cases: list) -> dict:
    """The relayed cases alone: the counters must equal this process's sums of the same rules."""
    from collections import Counter

    from sos1379.coordinators import counters

    expected: Counter = Counter()
    for case, events in cases:
        for _, counts in _contributions(case, events):
            expected.update(counts)
    item = counters.month_stats(store, "2026-10")
    fg = item["sla"]["first_guidance"]
    return {"sample_total_ok": item["total"] == expected["total"],
            "sample_fg_ok": (fg["on_time"], fg["late"]) == (expected["fg:on_time"], expected["fg:late"]),
            "sample_ratings_ok": item["satisfaction"]["count"] == expected["rating:count"]}


def run() -> dict:
    import boto3
    from chalice.test import Client

    from sos1379 import korea
    from sos1379.api.common import get_store
    from sos1379.coordinators import auth
    from sos1379.coordinators.reporting import compute_stats
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
        exact, exact_s = None, None
        if os.environ.get("STATS_BENCH_EXACT"):  # every case's history: minutes at 10,000 on moto
            start = time.perf_counter()
            exact = compute_stats(store, month, now=month_start + timedelta(days=40))
            exact_s = time.perf_counter() - start
    api, pg, fl = summarize(api_s), summarize(page_s), summarize(floor_s)
    return {
        "fill": filled, "month": month,
        "get_stats": api, "statistics_page": pg, "floor_get_item": fl,
        "get_stats_vs_floor_median": round(api["median_ms"] / fl["median_ms"], 2),
        "statistics_page_vs_floor_median": round(pg["median_ms"] / fl["median_ms"], 2),
        "counters_total": answer["total"],
        "counters_fg_on_time": answer["sla"]["first_guidance"]["on_time"],
        "counters_median_days": answer["first_guidance_business_days"]["median"],
        **({} if exact is None else {
            "exact_recomputation_s": round(exact_s, 2),
            "exact_vs_counters_median": round(exact_s * 1000 / api["median_ms"], 1),
            "exact_total": exact["total"], "exact_fg_on_time": exact["sla"]["first_guidance"]["on_time"],
            "exact_median_days": exact["first_guidance_business_days"]["median"]}),
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=2))
