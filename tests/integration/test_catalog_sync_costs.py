"""What a sync skips when it cannot matter (sos1379.catalog.sync): a source's first load reads no
content hashes and keeps no set of keys seen; a resumed or later run still does both; the same
record head is analysed once per run, a page's new heads in one batch."""
from __future__ import annotations

import threading

import pytest

from infra.standins.generator import SCALES
from sos1379.catalog.index import index_tokens
from sos1379.catalog.store import DynamoCatalogStore
from sos1379.catalog.sync import SyncService
from sos1379.text import analyze, analyze_many
from tests.integration.test_catalog_sync import (SCALE, Crash, CrashingStore, _zeus_service, blobs, catalog,  # noqa: F401
                                                 malformed, table_keys)

_ = catalog


class CountingStore(DynamoCatalogStore):
    def __init__(self, table):
        super().__init__(table)
        self.hash_lookups = 0

    def hashes(self, keys):
        self.hash_lookups += 1
        return super().hashes(keys)


def test_first_load_reads_no_hashes_and_stores_no_seen_set_when_the_source_was_never_synced(catalog):
    service, store = _zeus_service(catalog, CountingStore)
    result = service.run()
    count = SCALES[SCALE]["zeus"]
    assert result.status == "complete" and result.mode == "full"
    assert result.metrics.changed == count - malformed(count) == len(table_keys("zeus"))
    assert store.hash_lookups == 0
    assert blobs().list("sync/zeus/") == []


def test_full_rerun_reads_hashes_and_changes_nothing_when_the_source_was_synced_before(catalog):
    _zeus_service(catalog)[0].run()
    service, store = _zeus_service(catalog, CountingStore)
    result = service.run(mode="full")
    assert result.mode == "full" and result.metrics.changed == 0 and result.metrics.removed == 0
    assert store.hash_lookups == result.pages
    assert blobs().list("sync/zeus/") == []  # the seen set is gone once the sweep ran


def test_resumed_first_load_reads_hashes_so_redone_pages_stay_unchanged(catalog):
    crashing, _ = _zeus_service(catalog, CrashingStore, after_writes=3)
    with pytest.raises(Crash):
        crashing.run()
    resumed, store = _zeus_service(catalog, CountingStore)
    result = resumed.run()
    assert result.status == "complete" and result.metrics.unchanged == 20
    assert store.hash_lookups == result.pages - 2  # every page after the checkpoint


def test_the_same_head_text_is_analysed_once_per_run(catalog):
    calls: list[str] = []

    def counting(text: str) -> list[str]:
        calls.append(text)
        return analyze(text)

    template, _ = _zeus_service(catalog)
    service = SyncService(template.adapter, template.store, template.blobs, analyzer=counting)
    result = service.run()
    assert result.metrics.changed > len(calls) > 0
    assert len(calls) == len(set(calls))


def test_a_pages_new_heads_are_analysed_in_one_batch_with_the_tokens_of_one_call_each(catalog):
    batches: list[list[str]] = []

    def one_text(text: str) -> list[str]:
        raise AssertionError("heads go through the batch")

    def batch(texts: list[str]) -> list[list[str]]:
        batches.append(list(texts))
        return analyze_many(texts)

    template, _ = _zeus_service(catalog)
    service = SyncService(template.adapter, template.store, template.blobs, analyzer=one_text, analyze_many=batch)
    result = service.run()
    heads = [h for b in batches for h in b]
    assert 0 < len(batches) <= result.pages and len(heads) == len(set(heads)) < result.metrics.changed
    records = {r.key: r for p in (template.adapter.fetch(None, str(n)) for n in range(1, result.pages + 1))
               for r in p.records}
    docs = [d for key in blobs().list("index/pending/") for d in blobs().get_json(key)["upserts"]]
    assert len(docs) == result.metrics.changed
    for doc in docs:
        assert doc["tokens"] == index_tokens(records[doc["key"]], analyze)


def test_records_written_in_wire_form_read_back_as_item_of_builds_them_when_a_key_repeats(catalog):
    service, store = _zeus_service(catalog)
    records = service.adapter.fetch(None, None).records + service.adapter.fetch(None, "2").records
    assert len(records) > 25  # more than one BatchWriteItem
    renamed = records[0].model_copy(update={"title": "같은 키의 나중 판"})
    written = store.put_records([(r, r.content_hash()) for r in records] + [(renamed, renamed.content_hash())],
                                "2026-12-01T00:00:00Z")
    assert written == len(records)
    for record in [renamed, *records[1:]]:
        stored = store.table.get_item(Key={"PK": f"REC#{record.key}", "SK": "RECORD"})["Item"]
        assert stored == store.item_of(record, record.content_hash(), "2026-12-01T00:00:00Z")


def test_a_deadline_drops_the_page_read_ahead_and_the_next_run_resumes_at_it(catalog):
    now = [1_000.0]
    template, store = _zeus_service(catalog)

    def after_two_pages(source, metrics, total):
        if metrics.fetched >= 40:  # pages of 20: page 3 is being read ahead by now
            now[0] = 2_000.0

    stopped = SyncService(template.adapter, store, template.blobs, analyzer=analyze, analyze_many=analyze_many,
                          clock=lambda: now[0]).run(deadline=1_500.0, progress=after_two_pages)
    assert stopped.status == "partial" and stopped.pages == 2 and stopped.metrics.fetched == 40
    assert store.get_state("zeus")["run"]["cursor"] == "3"
    resumed = SyncService(template.adapter, store, template.blobs, analyzer=analyze).run()
    count = SCALES[SCALE]["zeus"]
    assert resumed.status == "complete" and resumed.run_id == stopped.run_id
    assert resumed.metrics.fetched == count and resumed.metrics.unchanged == 0
    assert resumed.metrics.changed == count - malformed(count) == len(table_keys("zeus"))


class ScriptedPages:
    """Two pages: the first lists three new records, the second withdraws the first of them."""

    name = "zeus"

    def __init__(self, first):
        self.records = [r.model_copy(update={"source_id": f"{r.source_id}-new"}) for r in first.records[:3]]

    def fetch(self, since, cursor):
        from sos1379.catalog.models import Withdrawal
        from sos1379.catalog.sources.base import Page

        if cursor is None:
            return Page(records=self.records, next_cursor="2")
        gone = self.records[0]
        return Page(withdrawals=[Withdrawal(source=gone.source, source_id=gone.source_id)])


class WritesAfterTheReadAhead(DynamoCatalogStore):
    """Holds the first page's writes until the second page (read ahead) has looked up its hashes,
    so the read-ahead always sees the table from before the first page was written."""

    def __init__(self, table):
        super().__init__(table)
        self.lookups = 0
        self.second_lookup = threading.Event()

    def hashes(self, keys):
        found = super().hashes(keys)
        self.lookups += 1
        if self.lookups == 2:
            self.second_lookup.set()
        return found

    def put_records(self, records, synced_at):
        assert self.second_lookup.wait(timeout=60)
        return super().put_records(records, synced_at)


def test_a_withdrawal_read_ahead_of_the_page_that_wrote_the_record_still_removes_it(catalog):
    template, _ = _zeus_service(catalog)
    assert template.run().status == "complete"  # a source synced before: the next run reads hashes
    before = table_keys("zeus")
    store = WritesAfterTheReadAhead(template.store.table)
    adapter = ScriptedPages(template.adapter.fetch(None, None))
    result = SyncService(adapter, store, template.blobs, analyzer=analyze).run()
    assert store.second_lookup.is_set()  # the second page was planned before the first was written
    assert result.status == "complete" and result.metrics.changed == 3 and result.metrics.removed == 1
    assert table_keys("zeus") - before == {r.key for r in adapter.records[1:]}
