"""``sos1379 bench routed``: how long a case takes on the local stack from ``POST /cases`` to
routed (its ``case.routed`` history event), and what the stack costs while idle.

Starts ``python -m infra.localstack`` on free ports (like ``bench load``), routes two warm-up cases
(the first invocation of each function is a cold start), then submits ``SOS1379_ROUTED_CASES``
(30) cases one at a time, each after the previous one was routed and a random pause of up to
0.3 s (so the submissions fall at every phase of the pollers). A case's time is the ``at`` of its
``case.routed`` event minus the moment before its POST (one machine, one clock), so the figure
does not include how often this script looks; it is also split into the POST itself and the
pipeline (the ``case.submitted`` event to ``case.routed``).

The path is: API -> CasesTable -> stream -> RelayOutboxFunction -> IntakeQueue -> RouteCaseFunction,
so the floor it is read against is the configured batching windows of the two mappings on that
path (read from template.yaml) plus an SQS round trip (send + long-poll receive on the stack's own
moto), both reported. Idle CPU is the stack's process and its function workers (``/proc``), in
percent of one core, over ``SOS1379_ROUTED_IDLE_SECONDS`` (10) after the warm-up."""
from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from infra.bench.load import ROOT, LocalStack, _submission

PATH_MAPPINGS = ("RelayOutboxFunctionCaseStream", "RouteCaseFunctionIntake")


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def _cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a worker that exited
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / tick


def idle_cpu(pid: int, seconds: float) -> dict:
    """CPU used by the stack (process tree of ``pid``) while nothing is sent to it."""
    pids = _descendants(pid)
    before, started = _cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)
    used, wall = _cpu_seconds(pids) - before, time.monotonic() - started
    return {"seconds": round(wall, 1), "processes": len(pids), "cpu_seconds": round(used, 2),
            "percent_of_one_core": round(100 * used / wall, 1)}


def sqs_round_trip_ms(stack: LocalStack, n: int = 20) -> float:
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"bench-routed-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    samples = []
    for i in range(n):
        started = time.perf_counter()
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
        for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        samples.append(time.perf_counter() - started)
    sqs.delete_queue(QueueUrl=url)
    return round(statistics.median(samples) * 1000, 1)


def configured_windows() -> dict[str, int]:
    from infra.template import load_template

    resources = load_template(ROOT / "template.yaml")["Resources"]
    return {name: int(resources[name]["Properties"].get("MaximumBatchingWindowInSeconds") or 0)
            for name in PATH_MAPPINGS}


def _event_times(table, table_name: str, case_id: str) -> dict[str, float]:
    items = table.query(TableName=table_name, KeyConditionExpression="PK = :pk",
                        ExpressionAttributeValues={":pk": {"S": f"CASE#{case_id}"}})["Items"]
    return {item["type"]["S"]: datetime.fromisoformat(item["at"]["S"].replace("Z", "+00:00")).timestamp()
            for item in items if item.get("type", {}).get("S") in ("case.submitted", "case.routed")}


def submit_and_wait(stack: LocalStack, session, index: int, run: str, timeout: float = 60.0) -> dict[str, float]:
    """Seconds from just before the POST to the case's ``case.routed`` event (``total``), of which
    the POST itself (``post``) and the pipeline from the ``case.submitted`` event (``pipeline``)."""
    table, table_name = stack.client("dynamodb"), stack.state["resources"]["CasesTable"]["physical_id"]
    started = time.time()
    response = session.post(f"{stack.state['api_url']}/cases", json=_submission(index, run), timeout=30,
                            headers={"Idempotency-Key": uuid.uuid4().hex})
    posted = time.time()
    response.raise_for_status()
    case_id = response.json()["case_id"]
    deadline = time.monotonic() + timeout
    while "case.routed" not in (times := _event_times(table, table_name, case_id)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"case {case_id} was not routed within {timeout} s; see {stack.log_path}")
        time.sleep(0.1)
    return {"total": times["case.routed"] - started, "post": posted - started,
            "pipeline": times["case.routed"] - times.get("case.submitted", started)}


def _summary(samples: list[float]) -> dict[str, int]:
    ordered = sorted(samples)
    return {"p50": round(_percentile(ordered, 0.5) * 1000), "p95": round(_percentile(ordered, 0.95) * 1000),
            "min": round(ordered[0] * 1000), "max": round(ordered[-1] * 1000)}


def run(cases: int | None = None, idle_seconds: float | None = None) -> dict:
    import requests

    cases = cases or int(os.environ.get("SOS1379_ROUTED_CASES", "30"))
    idle_seconds = idle_seconds or float(os.environ.get("SOS1379_ROUTED_IDLE_SECONDS", "10"))
    run_id = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory(prefix="sos1379-routed-") as tmp, LocalStack(Path(tmp)) as stack:
        session = requests.Session()
        warm = [submit_and_wait(stack, session, i, run_id) for i in range(2)]
        idle = idle_cpu(stack.process.pid, idle_seconds)
        floor_ms = sqs_round_trip_ms(stack)
        samples = []
        for i in range(cases):
            time.sleep(random.uniform(0, 0.3))
            samples.append(submit_and_wait(stack, session, 2 + i, run_id))
    windows = configured_windows()
    return {
        "cases": cases, "warm_up_s": [round(s["total"], 2) for s in warm],
        "submit_to_routed_ms": _summary([s["total"] for s in samples]),
        "post_cases_ms": _summary([s["post"] for s in samples]),
        "submitted_event_to_routed_ms": _summary([s["pipeline"] for s in samples]),
        "batching_windows_s": windows, "sqs_round_trip_ms": floor_ms,
        "floor_ms": sum(windows.values()) * 1000 + floor_ms,
        "idle": idle,
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=2))
