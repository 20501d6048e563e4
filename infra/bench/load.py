"""``sos1379 bench load``: a bounded load test against the local stack on 127.0.0.1.

Starts ``python -m infra.localstack`` on free ports (its own state folder, so a stack the
developer runs is left alone), runs ``clients`` concurrent SMEs posting cases for ``seconds``
(each with its own Idempotency-Key, retrying a 5xx once with the same key), then polls the stack's
cases table until every accepted case was routed (a ``case.routed`` event in its history) and
its receipt sent by SMS and email (the notifier's ``sent`` markers), or ``drain_seconds`` pass,
and finally counts duplicate texts in the providers' own records of what they accepted. Reports throughput, latency
percentiles, errors and the routed/notified counts. The floor is ``GET /health`` latency measured
in the same run, so the POST figures read as a multiple of the stack's bare request cost.

Knobs: ``SOS1379_LOAD_CLIENTS`` (50), ``SOS1379_LOAD_SECONDS`` (60), ``SOS1379_LOAD_DRAIN`` (1500).
Everything binds to 127.0.0.1; nothing leaves the machine.
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency_summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"n": len(ordered), "p50_ms": round(_percentile(ordered, 0.50) * 1000, 1),
            "p90_ms": round(_percentile(ordered, 0.90) * 1000, 1), "p99_ms": round(_percentile(ordered, 0.99) * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1) if ordered else 0.0,
            "mean_ms": round(statistics.fmean(ordered) * 1000, 1) if ordered else 0.0}


class LocalStack:
    """The local stack as a child process on free 127.0.0.1 ports."""

    def __init__(self, workdir: Path, startup_timeout: float = 180.0) -> None:
        self.workdir = workdir
        self.log_path = workdir / "stack.log"
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self.state: dict = {}

    def __enter__(self) -> "LocalStack":
        env = dict(os.environ)
        for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            env.pop(key, None)
        # port 0: the stack binds free ports itself and names them in its state file
        env.update(API_PORT="0", MOTO_PORT="0", SOS1379_STATE_DIR=str(self.workdir / "state"),
                   SOS1379_RETRY_VISIBILITY="2", PYTHONUNBUFFERED="1")
        # a load test is one client (127.0.0.1) naming a few phones: the abuse limits would be the
        # only thing measured
        env.setdefault("SOS1379_RATE_LIMITS", "off")
        env.setdefault("SOS1379_NOTIFY_RECIPIENT_DAILY_CAP", "0")
        env.setdefault("SOS1379_NOTIFY_VERIFY_CONTACTS", "off")
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen([sys.executable, "-m", "infra.localstack"], cwd=ROOT, env=env,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        state_file = self.workdir / "state" / "stack.json"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if state_file.exists():
                try:
                    state = json.loads(state_file.read_text(encoding="utf-8"))
                except ValueError:
                    state = {}
                if state.get("status") == "ready" and state.get("pid") == self.process.pid:
                    self.state = state
                    return self
            time.sleep(0.25)
        self.__exit__()
        raise RuntimeError(f"local stack did not become ready; see {self.log_path}")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()

    def client(self, service: str):
        import boto3

        return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                     region_name=self.state["region"]).client(service,
                                                                             endpoint_url=self.state["moto_url"])


def _submission(index: int, run: str) -> dict:
    from infra.reliability.pipeline import sample_submission

    body = sample_submission(index)
    body["title"] = f"{body['title']} ({run})"
    return body


def drive(api_url: str, clients: int, seconds: float) -> dict:
    """``clients`` threads posting cases for ``seconds``; returns latencies, statuses, receipts."""
    import requests

    run = uuid.uuid4().hex[:6]
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter = Counter()
    accepted: list[dict] = []
    errors: Counter = Counter()
    counter = iter(range(10**9))
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        session = requests.Session()
        while time.monotonic() < stop_at:
            with lock:
                index = next(counter)
            body = _submission(index, run)
            key = uuid.uuid4().hex
            for attempt in range(2):
                started = time.perf_counter()
                try:
                    response = session.post(f"{api_url}/cases", json=body, timeout=30,
                                            headers={"Idempotency-Key": key})
                except requests.RequestException as exc:
                    with lock:
                        errors[type(exc).__name__] += 1
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status_code] += 1
                    if response.status_code == 201:
                        accepted.append({**response.json(), "phone": body["contact"]["phone"]})
                if response.status_code < 500:
                    break

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    wall = time.monotonic() - started
    return {"latencies": latencies, "statuses": statuses, "accepted": accepted, "errors": errors, "wall": wall}


def floor(api_url: str, n: int = 200) -> dict:
    import requests

    session = requests.Session()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        session.get(f"{api_url}/health", timeout=10)
        samples.append(time.perf_counter() - started)
    return latency_summary(samples)


def _case_progress(items: list[dict]) -> tuple[bool, bool]:
    """(routed, notified) from one case partition: a ``case.routed`` event, and the receipt's
    SMS and email markers in state ``sent`` (the notifier writes them after the provider took it)."""
    events = {i["SK"]: i for i in items if i["SK"].startswith("EVENT#")}
    types = {i.get("type") for i in events.values()}
    submitted = [i.get("event_id") for i in events.values() if i.get("type") == "case.submitted"]
    sent = {i["SK"] for i in items if i["SK"].startswith("NOTIFY#") and i.get("state") == "sent"}
    notified = bool(submitted) and all(f"NOTIFY#{submitted[0]}#{ch}" in sent for ch in ("sms", "email"))
    return "case.routed" in types, notified


def completion(stack: LocalStack, accepted: list[dict], drain_seconds: float) -> dict:
    """Poll the cases table until every accepted case is routed and its receipt sent on both
    channels, or time runs out; then audit the providers' own records of the texts they accepted
    (the messaging stand-in's AlimTalk/SMS/LMS, and moto's SNS SMS through the stack's record,
    :mod:`infra.localstack.sent`) for copies."""
    from boto3.dynamodb.types import TypeDeserializer

    from infra.cli.outbox import fetch, fetch_deliveries

    table = stack.client("dynamodb")
    cases_table = stack.state["resources"]["CasesTable"]["physical_id"]
    des = TypeDeserializer()
    pending_route = {r["case_id"] for r in accepted}
    pending_notify = set(pending_route)
    started = time.monotonic()
    while (pending_route or pending_notify) and time.monotonic() - started < drain_seconds:
        for case_id in list(pending_route | pending_notify):
            out = table.query(TableName=cases_table, KeyConditionExpression="PK = :pk",
                              ExpressionAttributeValues={":pk": {"S": f"CASE#{case_id}"}})
            items = [{k: des.deserialize(v) for k, v in i.items()} for i in out.get("Items", [])]
            routed, notified = _case_progress(items)
            if routed:
                pending_route.discard(case_id)
            if notified:
                pending_notify.discard(case_id)
        if pending_route or pending_notify:
            time.sleep(2)
    drained = round(time.monotonic() - started, 1)
    texts = [((m["recipient"],), m["content"]) for m in fetch_deliveries((stack.state.get("services") or {}).get("messaging"))]
    texts += [(tuple(m["recipients"]), m["text"]) for m in fetch(stack.state["moto_url"]) if m["channel"] == "sms"]
    copies = Counter(texts)
    return {"accepted": len(accepted), "routed": len(accepted) - len(pending_route),
            "notified": len(accepted) - len(pending_notify), "not_routed": len(pending_route),
            "not_notified": len(pending_notify), "drain_seconds": drained,
            "texts_sent": len(texts), "duplicate_sms": sum(n - 1 for n in copies.values())}


def run(clients: int | None = None, seconds: float | None = None, drain_seconds: float | None = None) -> dict:
    clients = clients or int(os.environ.get("SOS1379_LOAD_CLIENTS", "50"))
    seconds = seconds or float(os.environ.get("SOS1379_LOAD_SECONDS", "60"))
    drain_seconds = drain_seconds or float(os.environ.get("SOS1379_LOAD_DRAIN", "1500"))
    with tempfile.TemporaryDirectory(prefix="sos1379-load-") as tmp, LocalStack(Path(tmp)) as stack:
        base = floor(stack.state["api_url"])
        result = drive(stack.state["api_url"], clients, seconds)
        done = completion(stack, result["accepted"], drain_seconds)
        latency = latency_summary(result["latencies"])
        statuses = result["statuses"]
        errors = sum(n for s, n in statuses.items() if s >= 400) + sum(result["errors"].values())
        figures = {
            "clients": clients, "seconds": seconds, "requests": sum(statuses.values()),
            "throughput_rps": round(sum(statuses.values()) / result["wall"], 1),
            "accepted_per_s": round(len(result["accepted"]) / result["wall"], 1),
            "latency_post_cases": latency, "floor_get_health": base,
            "p50_ratio_vs_floor": round(latency["p50_ms"] / base["p50_ms"], 1) if base["p50_ms"] else None,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "errors": errors, "transport_errors": dict(result["errors"]), **done,
        }
        log_copy = ROOT / "artifacts" / "reliability" / "load-stack.log"
        log_copy.parent.mkdir(parents=True, exist_ok=True)
        log_copy.write_text(stack.log_path.read_text(encoding="utf-8", errors="replace"), encoding="utf-8")
    (ROOT / "artifacts" / "reliability" / "load.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return figures
