"""Catalog benchmark: sync into moto (server mode) against the floor of bare batch writes, an
incremental sync after 1 % changed, search latency against bm25s's raw query, index footprint.

    from infra.bench.catalog import run
    run("full")   # or "medium" / "small"; returns a dict of figures

Everything talks to 127.0.0.1 only (a ThreadedMotoServer and the stand-in sources).
"""
from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import moto_server, summarize

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("zeus", "ntis", "patents", "library")


class _Timed:
    """Wraps a callable and adds up the time spent in it (to split a sync into its parts): wall
    time, and the process's CPU time (every thread: moto and the stand-ins serve in this process,
    so a write's CPU includes moto's handling of it)."""

    def __init__(self, fn):
        self.fn, self.seconds, self.cpu_seconds, self.calls = fn, 0.0, 0.0, 0

    def __call__(self, *args, **kwargs):
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            self.cpu_seconds += time.process_time() - cpu
            self.calls += 1


def _create_resources(table: str, bucket: str) -> None:
    import boto3

    from infra.template import load_template

    props = load_template(ROOT / "template.yaml")["Resources"]["CatalogTable"]["Properties"]
    ddb = boto3.client("dynamodb")
    for name in (table, table + "-floor", table + "-floor2"):
        ddb.create_table(TableName=name, AttributeDefinitions=props["AttributeDefinitions"],
                         KeySchema=props["KeySchema"], BillingMode=props["BillingMode"])
    boto3.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})


class _InterleavedFloor:
    """The floor, measured page by page between the sync's own pages: right after the sync has
    written a page, the exact items it wrote go again, bare, one thread, into empty tables of the
    same schema on the same moto, once through boto3's ``batch_writer`` on the Table resource
    (the usual way, and the floor the sync is held to: ``seconds``) and once as BatchWriteItem
    calls of 25 pre-serialised items on a plain client without parameter validation (the least
    any client can send: ``low_level_seconds``), the two in alternating order. The sync's time
    excludes these writes. A load spike on this shared machine therefore lands on the sync and
    its floor alike, where a floor run after the whole sync would see another load."""

    def __init__(self, table: str) -> None:
        import boto3
        from botocore.config import Config

        from sos1379 import aws

        self.table = aws.resource("dynamodb").Table(table + "-floor")
        self.low_table = table + "-floor2"
        self.client = boto3.client("dynamodb", config=Config(parameter_validation=False))
        self.items = self.pages = 0
        self.seconds = self.low_level_seconds = self.cpu_seconds = self.low_level_cpu_seconds = 0.0
        self.paused = self.paused_cpu = 0.0  # time spent here (taken out of the sync's time)

    def write(self, written: list[tuple]) -> None:
        from sos1379.catalog.store import DynamoCatalogStore

        paused, paused_cpu = time.perf_counter(), time.process_time()
        items = [DynamoCatalogStore.item_of(r, h, at) for r, h, at in written]
        wire = [{"PutRequest": {"Item": DynamoCatalogStore.wire_item_of(r, h, at)}} for r, h, at in written]
        order = (self._batch_writer, self._low_level) if self.pages % 2 == 0 else (self._low_level, self._batch_writer)
        for step in order:
            step(items, wire)
        self.items += len(items)
        self.pages += 1
        self.paused += time.perf_counter() - paused
        self.paused_cpu += time.process_time() - paused_cpu

    def _batch_writer(self, items: list[dict], wire: list[dict]) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        with self.table.batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.process_time() - c0

    def _low_level(self, items: list[dict], wire: list[dict]) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        for start in range(0, len(wire), 25):
            pending = {self.low_table: wire[start:start + 25]}
            while pending:
                pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        self.low_level_seconds += time.perf_counter() - t0
        self.low_level_cpu_seconds += time.process_time() - c0

    def figures(self) -> dict:
        return {"items": self.items, "pages": self.pages, "seconds": round(self.seconds, 2),
                "low_level_seconds": round(self.low_level_seconds, 2), "cpu_seconds": round(self.cpu_seconds, 2),
                "low_level_cpu_seconds": round(self.low_level_cpu_seconds, 2), "method": "interleaved page by page"}


class _ReadAhead:
    """Tracks the sync's worker thread, which prepares page n+1 while page n is written, so the
    floor's writes can wait until it is idle: the floor then runs with nothing of the sync beside
    it (the wait itself counts as the sync's time). SyncService submits page n+1's preparation
    before it writes page n exactly when page n has a next cursor; pages are prepared in order."""

    def __init__(self, service) -> None:
        self.done = self.taken = self.target = 0
        self.more: collections.deque[bool] = collections.deque()  # per prepared page, in order
        self.cond = threading.Condition()
        prepare_page, commit_page = service._prepare, service._commit

        def prepare(*args, **kwargs):
            try:
                page, plan = prepare_page(*args, **kwargs)
                with self.cond:
                    self.more.append(service.read_ahead and page.next_cursor is not None)
                return page, plan
            finally:
                with self.cond:
                    self.done += 1
                    self.cond.notify_all()

        def commit(plan):
            with self.cond:  # pages 1..n prepared and taken; n+1 submitted when page n has more
                self.taken += 1
                self.target = self.taken + (self.more.popleft() if self.more else False)
            return commit_page(plan)

        service._prepare, service._commit = prepare, commit

    def wait_idle(self) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.done >= self.target)


def _with_floor(put_records, floor: _InterleavedFloor | None, ahead: list):
    """put_records followed, outside the sync's timing, by the floor's writes of the same items
    (once the sync's read-ahead is idle)."""

    def wrapped(records, synced_at):
        records = list(records)
        try:
            return put_records(records, synced_at)
        finally:
            if floor is not None:
                for tracker in ahead:
                    tracker.wait_idle()
                floor.write([(r, h, synced_at) for r, h in records])

    return wrapped


_printed: dict[str, int] = {}


def _progress(source, metrics, total) -> None:
    step = metrics.fetched // 10_000
    if step > _printed.get(source, 0) or metrics.fetched == total:
        _printed[source] = step
        print(f"  {source}: {metrics.fetched}/{total} fetched, {metrics.changed} changed", file=sys.stderr, flush=True)


def _sync_all(handle, mode: str, floor: _InterleavedFloor | None = None, read_ahead: bool = True) -> dict:
    """Sync every source through SyncService with its parts timed (and, when given, the floor
    interleaved page by page); then publish the index."""
    from sos1379 import aws
    from sos1379.catalog import service
    from sos1379.catalog.store import DynamoCatalogStore, S3Blobs
    from sos1379.catalog.sync import SyncService
    from sos1379.text import analyze, analyze_many

    settings = service.get_catalog_settings()
    out: dict = {"sources": {}}
    analyzer, many = _Timed(analyze), _Timed(analyze_many)
    started, started_cpu = time.perf_counter(), time.process_time()
    for source in SOURCES:
        adapter = service.build_adapter(source, settings, base_delay=0.05)
        adapter.fetch = fetch = _Timed(adapter.fetch)
        store = DynamoCatalogStore(aws.resource("dynamodb").Table(settings.table))
        ahead: list[_ReadAhead] = []
        hashes, puts = _Timed(store.hashes), _Timed(store.put_records)
        store.hashes, store.put_records = hashes, _with_floor(puts, floor, ahead)
        sync = SyncService(adapter, store, S3Blobs(aws.client("s3"), settings.bucket), analyzer=analyzer,
                           analyze_many=many, read_ahead=read_ahead)
        ahead.append(_ReadAhead(sync))
        t0, a0, f0 = time.perf_counter(), analyzer.seconds + many.seconds, floor.paused if floor else 0.0
        c0, ac0, fc0 = time.process_time(), analyzer.cpu_seconds + many.cpu_seconds, floor.paused_cpu if floor else 0.0
        result = sync.run(mode=mode, progress=_progress)
        seconds = time.perf_counter() - t0 - (floor.paused - f0 if floor else 0.0)
        cpu = time.process_time() - c0 - (floor.paused_cpu - fc0 if floor else 0.0)
        out["sources"][source] = {**result.metrics.model_dump(), "status": result.status, "pages": result.pages,
                                  "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                                  "fetch_s": round(fetch.seconds, 2), "hash_lookup_s": round(hashes.seconds, 2),
                                  "writes_s": round(puts.seconds, 2), "analysis_s": round(analyzer.seconds + many.seconds - a0, 2),
                                  "fetch_cpu_s": round(fetch.cpu_seconds, 2), "writes_cpu_s": round(puts.cpu_seconds, 2),
                                  "analysis_cpu_s": round(analyzer.cpu_seconds + many.cpu_seconds - ac0, 2),
                                  "source_retries": adapter.http.retries}
    out["sync_seconds"] = round(time.perf_counter() - started - (floor.paused if floor else 0.0), 2)
    out["sync_cpu_seconds"] = round(time.process_time() - started_cpu - (floor.paused_cpu if floor else 0.0), 2)
    t0 = time.perf_counter()
    pointer = service.rebuild_index()
    out["index_publish_seconds"] = round(time.perf_counter() - t0, 2)
    out["index_bytes"] = (pointer or {}).get("bytes")
    out["index_tokens_bytes"] = (pointer or {}).get("tokens_bytes")
    out["index_docs"] = (pointer or {}).get("docs")
    totals = {k: sum(s[k] for s in out["sources"].values()) for k in ("fetched", "changed", "unchanged", "removed", "failed")}
    out["totals"] = totals
    return out


def _queries() -> list[str]:
    from infra.standins.generator import TOPICS

    out = []
    for i, topic in enumerate(TOPICS):
        obj, prob, meth = topic.objects[0][0], topic.problems[i % len(topic.problems)][0], topic.methods[0][0]
        out += [f"{obj}에서 {prob} 문제가 계속 발생합니다. 해결 방법이 있을까요?",
                f"{meth} 장비를 써 보고 싶은데 {prob} 분석이 가능한 곳을 찾습니다",
                f"We have {topic.problems[0][1]} in our {topic.objects[0][1]}"]
    return out


def _search_latency(index) -> dict:
    from sos1379.catalog.service import SearchQuery, search
    from sos1379.text import analyze

    queries = _queries()
    tokenized = [analyze(q) for q in queries]
    for q in queries[:5]:  # warm the page cache and Kiwi
        search(SearchQuery(q), index)
    ours, ranking_only, raw = [], [], []
    filters = [{}, {"type": "equipment"}, {"type": "patent", "region": "daejeon"}, {"institute": "KITECH"}]
    for rnd in range(3):
        for i, q in enumerate(queries):
            t0 = time.perf_counter()
            search(SearchQuery(q, **filters[(i + rnd) % len(filters)]), index)
            ours.append(time.perf_counter() - t0)
    for rnd in range(3):
        for tokens in tokenized:
            t0 = time.perf_counter()
            index.top(tokens, limit=10)
            ranking_only.append(time.perf_counter() - t0)
            known = [t for t in tokens if t in index.retriever.vocab_dict]
            t0 = time.perf_counter()
            if known:
                index.retriever.retrieve([known], k=10, show_progress=False)
            raw.append(time.perf_counter() - t0)
    a, r, b = summarize(ours), summarize(ranking_only), summarize(raw)
    return {"queries": len(ours), "search_api": a, "ranking_only": r, "bm25s_raw_retrieve": b,
            "ratio_median_search_vs_raw": round(a["median_ms"] / max(b["median_ms"], 1e-6), 2),
            "ratio_median_ranking_vs_raw": round(r["median_ms"] / max(b["median_ms"], 1e-6), 2)}


_PROBE = r"""
import json, sys, time, resource
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * 4096
import numpy, bm25s, json as _j
from sos1379.catalog.index import CatalogIndex
from sos1379.catalog.service import SearchQuery, search
from sos1379.text import analyze
for q in json.loads(sys.argv[2]):
    analyze(q)  # Kiwi allocates lazily on first use: keep it out of the index's figures
before = rss()
t0 = time.perf_counter()
index = CatalogIndex(sys.argv[1], "probe")
load = time.perf_counter() - t0
after_load = rss()
for q in json.loads(sys.argv[2]):
    search(SearchQuery(q), index)
after_queries = rss()
print(json.dumps({"load_seconds": round(load, 3), "rss_delta_after_load_mb": round((after_load - before) / 2**20, 1),
                  "rss_delta_after_queries_mb": round((after_queries - before) / 2**20, 1),
                  "rss_total_mb": round(after_queries / 2**20, 1)}))
"""


def _footprint(index) -> dict:
    """Load the snapshot in a fresh interpreter and measure its memory (RSS, mmapped pages included)."""
    size = sum(p.stat().st_size for p in Path(index.directory).rglob("*") if p.is_file())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/core/python"), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", _PROBE, str(index.directory), json.dumps(_queries()[:30], ensure_ascii=False)],
                         capture_output=True, text=True, env=env, timeout=600, check=True)
    return {"disk_bytes": size, "disk_mb": round(size / 2**20, 1), **json.loads(out.stdout.strip().splitlines()[-1])}


def run_default() -> dict:
    """``sos1379 bench catalog``: the scale in ``SOS1379_CATALOG_BENCH_SCALE`` (default ``full``)."""
    return run(os.environ.get("SOS1379_CATALOG_BENCH_SCALE") or "full")


def run(scale: str = "full") -> dict:
    """Run the whole catalog benchmark at ``scale`` and return its figures."""
    from infra.localstack.logs import quieted
    from infra.standins import start_standins
    from infra.standins.generator import SCALES
    from sos1379.catalog import service
    from sos1379.catalog.index import download_snapshot
    from sos1379.catalog.store import S3Blobs

    report: dict = {"scale": scale, "records_at_source": SCALES[scale]}
    wall = time.perf_counter()
    handle = start_standins(scale, throttle_every=50, error_every=0)
    saved = {k: os.environ.get(k) for k in list(handle.env()) + ["CATALOG_TABLE", "CATALOG_BUCKET", "CATALOG_SCRATCH_DIR"]}
    scratch = tempfile.mkdtemp(prefix="sos1379-catalog-bench-")
    os.environ["CATALOG_SCRATCH_DIR"] = scratch
    try:
        with quieted(), moto_server() as url:
            report["moto_url"] = url
            os.environ.update(handle.env(), CATALOG_TABLE="bench-catalog", CATALOG_BUCKET="bench-catalog")
            service.get_catalog_settings.cache_clear()
            _create_resources("bench-catalog", "bench-catalog")
            from sos1379.text import warm_up

            warm_up()
            interleaved = _InterleavedFloor("bench-catalog")
            full = _sync_all(handle, "auto", interleaved)
            floor = interleaved.figures()
            report["full_sync"] = full
            report["floor_batch_write"] = floor
            report["full_sync_vs_floor"] = round(full["sync_seconds"] / max(floor["seconds"], 1e-6), 2)
            writes = sum(s["writes_s"] for s in full["sources"].values())
            report["full_sync_write_part_vs_floor"] = round(writes / max(floor["seconds"], 1e-6), 2)
            report["full_sync_vs_low_level_floor"] = round(full["sync_seconds"] / max(floor["low_level_seconds"], 1e-6), 2)
            # CPU time of the process (every thread) is what this shared machine's load disturbs least
            report["full_sync_cpu_vs_floor_cpu"] = round(full["sync_cpu_seconds"] / max(floor["cpu_seconds"], 1e-6), 2)

            rerun = _sync_all(handle, "auto")
            report["rerun"] = {"totals": rerun["totals"], "sync_seconds": rerun["sync_seconds"]}

            report["mutation"] = handle.mutate(fraction=0.01, withdraw_fraction=0.001)
            incr = _sync_all(handle, "auto")
            report["incremental_sync"] = incr
            changes = incr["totals"]["changed"] + incr["totals"]["removed"]
            report["incremental_vs_full_seconds"] = round(incr["sync_seconds"] / max(full["sync_seconds"], 1e-6), 4)
            report["incremental_changes_vs_catalog"] = round(changes / max(full["totals"]["changed"], 1), 4)
            report["ms_per_change_full"] = round(full["sync_seconds"] * 1000 / max(full["totals"]["changed"], 1), 3)
            report["ms_per_change_incremental"] = round(incr["sync_seconds"] * 1000 / max(changes, 1), 3)

            from sos1379 import aws

            t0 = time.perf_counter()
            index = download_snapshot(S3Blobs(aws.client("s3"), "bench-catalog"))
            report["index_download_and_load_seconds"] = round(time.perf_counter() - t0, 3)
            report["search_latency"] = _search_latency(index)
            report["index_footprint"] = _footprint(index)
    finally:
        handle.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        service.get_catalog_settings.cache_clear()
    report["wall_seconds"] = round(time.perf_counter() - wall, 1)
    return report


def print_report(report: dict) -> None:
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":  # python -m infra.bench.catalog [scale]
    print_report(run(sys.argv[1] if len(sys.argv) > 1 else "full"))
