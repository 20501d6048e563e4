"""Catalog sync against the stand-in sources and moto (in-process): full load, idempotent rerun,
incremental changes and withdrawals, resume after a crash, throttling, a refused key, the lease."""
from __future__ import annotations

import boto3
import pytest

from infra.standins import start_standins
from infra.standins.generator import MALFORMED_EVERY, SCALES
from sos1379.catalog import service
from sos1379.catalog.sources import HttpSource, ZeusAdapter
from sos1379.catalog.store import DynamoCatalogStore, S3Blobs
from sos1379.catalog.sync import SyncService
from sos1379.text import analyze

NO_WAIT = {"sleep": lambda seconds: None}
SCALE = "tiny"


def malformed(count: int) -> int:
    return sum(1 for i in range(count) if i % MALFORMED_EVERY == 13)


@pytest.fixture
def catalog(aws, monkeypatch, tmp_path):
    """Stand-ins (tiny scale, throttling and 5xx on) + CatalogTable/CatalogBucket in moto."""
    monkeypatch.setenv("CATALOG_SCRATCH_DIR", str(tmp_path))  # snapshots unpack here, not in /tmp
    bucket = "test-catalog-bucket"
    boto3.client("s3", region_name="ap-northeast-2").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    handle = start_standins(SCALE)
    for key, value in handle.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CATALOG_TABLE", aws.tables["CatalogTable"])
    monkeypatch.setenv("CATALOG_BUCKET", bucket)
    service.get_catalog_settings.cache_clear()
    service.set_index(None)
    yield handle
    handle.stop()
    service.get_catalog_settings.cache_clear()
    service.set_index(None)


def sync_all(sources=("zeus", "ntis", "patents", "library"), **kwargs) -> dict:
    """Sync the sources; the index is republished once, after the last one (as the CLI does)."""
    return {s: service.sync_source(s, http_options=NO_WAIT, rebuild=s == sources[-1], **kwargs) for s in sources}


def blobs() -> S3Blobs:
    return S3Blobs(boto3.client("s3", region_name="ap-northeast-2"), service.get_catalog_settings().bucket)


def stored_keys() -> dict[str, set[str]]:
    """Record keys in CatalogTable by source (one scan: moto scans are slow)."""
    from sos1379 import aws as sos_aws

    table = sos_aws.resource("dynamodb").Table(service.get_catalog_settings().table)
    out: dict[str, set[str]] = {s: set() for s in ("zeus", "ntis", "patents", "library")}
    for item in DynamoCatalogStore(table)._scan(ProjectionExpression="PK, #s", ExpressionAttributeNames={"#s": "source"}):
        if item["PK"].startswith("REC#"):
            out[item["source"]].add(item["PK"][4:])
    return out


def table_keys(source: str) -> set[str]:
    return stored_keys()[source]


def test_first_sync_loads_every_valid_record_and_publishes_the_index_when_the_catalog_is_empty(catalog):
    results = sync_all()
    for source, result in results.items():
        count = SCALES[SCALE][source]
        m = result.metrics
        assert result.status == "complete" and result.mode == "full"
        assert (m.fetched, m.failed, m.changed, m.unchanged, m.removed) == (count, malformed(count), count - malformed(count), 0, 0)
    stored = stored_keys()
    assert {s: len(k) for s, k in stored.items()} == {s: SCALES[SCALE][s] - malformed(SCALES[SCALE][s]) for s in stored}
    assert results["library"].index_rebuilt
    assert blobs().list(S3Blobs.PENDING) == []  # every delta applied
    hits = service.search_catalog({"q": "용접 부위에 균열이 자주 생깁니다", "page_size": "10"})["hits"]
    assert {"patent", "equipment"} <= {h["type"] for h in hits}
    top_patent = next(h for h in hits if h["type"] == "patent")
    assert "용접" in top_patent["title"] and top_patent["institute"] in {"KITECH", "KIMS"}
    assert all("용접" in h["title"] or "균열" in h["title"] for h in hits[:5]) and all(h["url"] for h in hits)
    evidence = service.evidence("용접 부위에 균열이 자주 생깁니다", limit=5)  # the router's view, loaded from S3
    assert evidence and all(set(e) == {"institute", "id", "type", "title", "url", "score"} and e["institute"]
                            for e in evidence)
    assert all(e["url"].startswith("http") for e in evidence)
    assert {"KITECH", "KIMS"} & {e["institute"] for e in evidence}
    equipment = service.search_catalog({"q": "주조품 내부 기공 결함을 분석할 장비", "type": "equipment"})["hits"]
    assert equipment and all(h["type"] == "equipment" for h in equipment)
    assert equipment[0]["institute"] == "KITECH" and equipment[0]["region"]


def test_rerun_changes_nothing_and_keeps_the_index_when_the_sources_did_not_change(catalog):
    sync_all()
    build = blobs().get_json("index/CURRENT.json")["build_id"]
    again = sync_all()
    for result in again.values():
        assert result.mode == "incremental" and result.metrics.changed == 0 and result.metrics.removed == 0
        assert result.metrics.fetched <= 2  # only the overlap window at the watermark
        assert not result.index_rebuilt
    assert blobs().get_json("index/CURRENT.json")["build_id"] == build


def test_incremental_sync_follows_the_changes_and_removes_withdrawals_when_one_percent_changed(catalog):
    sync_all()
    changes = catalog.mutate(fraction=0.05, withdraw_fraction=0.01)
    again = sync_all()
    for source, result in again.items():
        expected = changes[source]
        m = result.metrics
        # each changed record written once, nothing else (a changed record may come back malformed)
        assert m.changed <= expected["changed"] <= m.changed + m.failed
        assert m.removed == expected["withdrawn"]
        assert m.fetched <= expected["changed"] + expected["withdrawn"] + 2
    withdrawn = next(iter(catalog.states["patents"].withdrawn))
    assert not any(k.endswith(f"{withdrawn:07d}") for k in table_keys("patents"))  # 10 + year + index
    assert service.search_catalog({"q": "개정 1판"})["total"] >= sum(c["changed"] for c in changes.values()) // 2


def test_full_run_sweeps_records_that_vanished_without_a_tombstone_when_asked(catalog):
    sync_all(("zeus",))
    catalog.states["zeus"].mutate(fraction=0, withdraw=0, drop=3)
    incremental = service.sync_source("zeus", http_options=NO_WAIT)
    assert incremental.metrics.removed == 0  # an increment cannot see silent drops
    full = service.sync_source("zeus", mode="full", http_options=NO_WAIT)
    assert full.metrics.removed == 3 and full.metrics.changed == 0
    assert len(table_keys("zeus")) == SCALES[SCALE]["zeus"] - malformed(SCALES[SCALE]["zeus"]) - 3


class Crash(Exception):
    """Stands in for the process dying mid-run (nothing after it runs, no checkpoint is written)."""


class CrashingStore(DynamoCatalogStore):
    def __init__(self, table, after_writes: int):
        super().__init__(table)
        self.after_writes = after_writes

    def put_records(self, records, synced_at):
        if self.after_writes == 0:
            raise Crash()
        self.after_writes -= 1
        return super().put_records(records, synced_at)


def _zeus_service(catalog, store_cls=DynamoCatalogStore, **store_kwargs):
    from sos1379 import aws as sos_aws
    from sos1379.catalog.institutes import default_resolver

    settings = service.get_catalog_settings()
    adapter = ZeusAdapter(HttpSource(catalog.urls["zeus"], **NO_WAIT), settings.zeus_key, default_resolver(), page_size=20)
    store = store_cls(sos_aws.resource("dynamodb").Table(settings.table), **store_kwargs)
    return SyncService(adapter, store, blobs(), analyzer=analyze, checkpoint_every=2), store


def test_a_run_killed_halfway_resumes_from_its_checkpoint_when_rerun(catalog):
    crashing, store = _zeus_service(catalog, CrashingStore, after_writes=3)
    with pytest.raises(Crash):
        crashing.run()  # pages of 20: pages 1-3 written, the crash hits page 4's write
    checkpoint = store.get_state("zeus")["run"]
    assert checkpoint["cursor"] == "3" and checkpoint["pages"] == 2  # last checkpoint: after page 2
    written_before = len(table_keys("zeus"))
    resumed, _ = _zeus_service(catalog)
    result = resumed.run()
    assert result.status == "complete" and result.run_id == checkpoint["run_id"] and result.mode == "full"
    count = SCALES[SCALE]["zeus"]
    assert len(table_keys("zeus")) == count - malformed(count) and written_before >= 3 * 20 - 1
    # Page 3 (written before the crash, not yet checkpointed) is re-done as "unchanged", nothing more.
    assert result.metrics.unchanged == 20 and result.metrics.changed == count - malformed(count) - 20
    assert result.pages == 5 and store.get_state("zeus")["run"] is None


def test_a_run_past_its_deadline_checkpoints_and_the_next_tick_finishes_it(catalog):
    first = service.sync_source("patents", deadline=0, http_options=NO_WAIT)
    assert first.status == "partial" and first.metrics.fetched == 0
    done = service.sync_source("patents", http_options=NO_WAIT)
    assert done.status == "complete" and done.run_id == first.run_id


def test_throttling_and_server_errors_are_retried_when_the_source_misbehaves(catalog):
    catalog.faults["zeus"].throttle_every = 2
    catalog.faults["zeus"].error_every = 3
    http = HttpSource(catalog.urls["zeus"], **NO_WAIT)
    from sos1379.catalog.institutes import default_resolver

    adapter = ZeusAdapter(http, catalog.keys["zeus"], default_resolver(), page_size=50)
    cursor, fetched = None, 0
    while True:
        page = adapter.fetch(None, cursor)
        fetched += len(page.records) + len(page.failures)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert fetched == SCALES[SCALE]["zeus"] and http.retries >= 3


def test_a_refused_key_fails_the_run_without_touching_the_catalog_when_ntis_says_so(catalog, monkeypatch):
    sync_all(("ntis",))
    before = table_keys("ntis")
    monkeypatch.setenv("CATALOG_SOURCE_NTIS_KEY", "wrong")
    service.get_catalog_settings.cache_clear()
    result = service.sync_source("ntis", mode="full", http_options=NO_WAIT)
    assert result.status == "failed" and "SourceRejected" in result.error
    assert table_keys("ntis") == before


def test_a_second_run_is_turned_away_when_the_lease_is_held(catalog):
    settings = service.get_catalog_settings()
    from sos1379 import aws as sos_aws

    DynamoCatalogStore(sos_aws.resource("dynamodb").Table(settings.table)).acquire_lease("library", "someone-else", 900)
    result = service.sync_source("library", http_options=NO_WAIT)
    assert result.status == "busy" and result.metrics.fetched == 0
