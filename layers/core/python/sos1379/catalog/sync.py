"""One sync run of one source: incremental by the source's modification stamp, resumable.

State per source (CatalogTable ``SYNC#{source}``): the committed ``watermark`` and, while a run is
under way, its checkpoint (mode, ``since``, the source's own cursor, metrics so far). A run:

1. takes the source's lease (a conditional write), so two schedule ticks never interleave;
2. resumes the checkpoint if one is there, else starts: full when there is no watermark (or a full
   run is asked for), otherwise incremental from ``watermark - overlap``;
3. per page: looks up stored content hashes (BatchGetItem), writes an index delta for what
   changed, then upserts changed records and deletes withdrawn ones (BatchWriteItem); unchanged
   records cost one read and no write. The next page is fetched, hashed and analysed on a worker
   thread while a page is written (reads only: the cursor moves with the writes, and a page read
   ahead when the run stops is dropped);
4. checkpoints every few pages and whenever it stops early (deadline, source failure); a killed run
   re-does at most those few pages, which the content hashes turn into no-ops;
5. at the end of a full run sweeps records the source no longer lists (the set of keys seen is
   kept in S3 with the checkpoint, so a resumed full run still sweeps correctly), then commits the
   new watermark.

A source's first load (no watermark yet, a run started afresh) skips what only matters once
something of the source is stored: the hash lookups (nothing can be unchanged) and the set of
keys seen (there is no sweep). Should an earlier first load have died before its first
checkpoint, its pages are simply written again. A resumed run always looks hashes up, so the
pages it re-does stay no-ops. The head of each record (title and keywords) is analysed by Kiwi,
the dominant cost of a load; the same head text (an equipment model listed by many institutes, a
keyword set) is analysed once per run (``HEAD_CACHE`` entries, the same tokens), and a page's new
heads go to Kiwi's batch API together.

A run allocates millions of short-lived objects (parsed pages, records, token lists) that
reference counting frees with their page. With CPython's default gen-0 threshold (700) that
churn alone triggers ~2,000 collections per medium load, whose older-generation passes walk the
whole heap: about a tenth of the run's CPU. A run therefore raises the gen-0 threshold while it
lasts (``fewer_collections``): the same cycles are still collected, in fewer, larger passes.
"""
from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import TransientError
from .index import doc_of, head_text, index_tokens
from .models import SyncMetrics, SyncResult
from .sources.base import SourceAdapter, SourceRejected
from .store import DynamoCatalogStore, LeaseHeld, S3Blobs

logger = logging.getLogger(__name__)
HEAD_CACHE = 20_000  # analysed heads kept per run (a few MB)
GC_GEN0_THRESHOLD = 50_000  # net container allocations between gen-0 collections during a run
Progress = Callable[[str, SyncMetrics, int | None], None]

_gc_lock = threading.Lock()
_gc_runs = 0
_gc_saved: tuple[int, ...] | None = None


@contextlib.contextmanager
def fewer_collections(gen0: int = GC_GEN0_THRESHOLD) -> Iterator[None]:
    """Raise the gen-0 collection threshold for the block (process-wide, restored when the last
    of nested or concurrent blocks ends; never lowered)."""
    global _gc_runs, _gc_saved
    with _gc_lock:
        if _gc_runs == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(gen0, _gc_saved[0]), *_gc_saved[1:])
        _gc_runs += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_runs -= 1
            if _gc_runs == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)


def _now_iso(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minus(iso: str, seconds: int) -> str:
    value = datetime.fromisoformat(iso.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Plan:
    """What one fetched page changes: records to upsert (with their hashes), keys to remove, the
    index docs of the upserts, and the page's metrics."""

    changed: list[tuple[Any, str]]
    removed: list[str]
    docs: list[dict]
    metrics: SyncMetrics
    keys: frozenset[str]  # every key the page lists: its plan read their stored hashes


class SyncService:
    def __init__(self, adapter: SourceAdapter, store: DynamoCatalogStore, blobs: S3Blobs, *,
                 analyzer: Callable[[str], list[str]],
                 analyze_many: Callable[[list[str]], list[list[str]]] | None = None,
                 clock: Callable[[], float] = time.time, read_ahead: bool = True,
                 checkpoint_every: int = 5, overlap_seconds: int = 600, lease_seconds: int = 900) -> None:
        """``analyzer`` gives a text's index terms; ``analyze_many``, when given, the same for a
        list of texts at once (``sos1379.text.analyze_many``: Kiwi's batch API). ``read_ahead``:
        prepare the next page on a worker thread while a page is written."""
        self.adapter, self.store, self.blobs = adapter, store, blobs
        self.analyzer = analyzer
        self.analyze_many = analyze_many or (lambda texts: [analyzer(t) for t in texts])
        self._heads: OrderedDict[str, list[str]] = OrderedDict()  # LRU; callers never mutate the tokens
        self.clock = clock
        self.read_ahead = read_ahead
        self.checkpoint_every = checkpoint_every
        self.overlap_seconds = overlap_seconds
        self.lease_seconds = lease_seconds

    @property
    def source(self) -> str:
        return self.adapter.name

    def run(self, mode: str = "auto", deadline: float | None = None, progress: Progress | None = None) -> SyncResult:
        """Sync until the source is exhausted or ``deadline`` (epoch seconds) passes."""
        started = time.perf_counter()
        owner = uuid.uuid4().hex
        try:
            self.store.acquire_lease(self.source, owner, self.lease_seconds)
        except LeaseHeld:
            logger.info("catalog sync skipped: lease held", extra={"source": self.source})
            return SyncResult(source=self.source, run_id="-", mode="incremental", status="busy", metrics=SyncMetrics())
        try:
            with fewer_collections():
                return self._run(owner, mode, deadline, progress, started)
        finally:
            self.store.release_lease(self.source, owner)

    def _run(self, owner: str, mode: str, deadline: float | None, progress: Progress | None,
             started: float) -> SyncResult:
        state = self.store.get_state(self.source)
        run = state.get("run")
        if run and mode == "full" and run["mode"] != "full":
            run = None  # an explicit full run supersedes an unfinished incremental one
        resumed = bool(run)
        if not run:
            full = mode == "full" or not state.get("watermark")
            run = {"run_id": uuid.uuid4().hex[:12], "mode": "full" if full else "incremental",
                   "since": None if full else _minus(state["watermark"], self.overlap_seconds),
                   "cursor": None, "max_modified": None, "metrics": SyncMetrics().model_dump(), "pages": 0,
                   "started_at": _now_iso(self.clock)}
            logger.info("catalog sync started", extra={"source": self.source, "run_id": run["run_id"],
                                                       "mode": run["mode"], "since": run["since"]})
        else:
            logger.info("catalog sync resumed", extra={"source": self.source, "run_id": run["run_id"],
                                                       "pages": run["pages"]})
        metrics = SyncMetrics(**run["metrics"])
        first_load = not state.get("watermark")
        sweep = run["mode"] == "full" and not first_load  # the sweep is skipped on a first load (below)
        lookups = resumed or not first_load
        seen_key = f"sync/{self.source}/seen-{run['run_id']}.json.gz"
        seen: set[str] = set(self.blobs.get_json(seen_key) or []) if sweep and run["pages"] else set()
        cursor = run["cursor"]
        since_checkpoint = 0
        total: int | None = None

        def checkpoint() -> None:
            if sweep:
                self.blobs.put_json(seen_key, sorted(seen))  # before the cursor moves past these pages
            run.update(cursor=cursor, metrics=metrics.model_dump())
            self.store.put_state(self.source, {**state, "run": run}, owner)

        def stop(status: str, error: str | None = None) -> SyncResult:
            checkpoint()
            result = SyncResult(source=self.source, run_id=run["run_id"], mode=run["mode"], status=status,
                                metrics=metrics, pages=run["pages"], watermark=state.get("watermark"),
                                seconds=round(time.perf_counter() - started, 3), error=error)
            logger.warning("catalog sync stopped", extra={"source": self.source, "run_id": run["run_id"],
                                                          "status": status, "error": error, "pages": run["pages"]})
            return result

        # One page ahead: while page n is written, page n+1 is fetched, hashed and analysed on a
        # worker thread (a real source's latency and Kiwi's native work overlap the writes). Only
        # what page n wrote moves the cursor; a page read ahead when the run stops is dropped, and
        # one listing a key page n wrote or removed is planned again against the table as it is now.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sync-{self.source}") as ahead:
            pending: Future | None = None
            written: frozenset[str] = frozenset()  # keys the last committed page wrote or removed
            while True:
                if deadline is not None and self.clock() >= deadline:
                    return stop("partial")
                if pending is None:
                    pending = ahead.submit(self._prepare, run["since"], cursor, run["run_id"], lookups)
                try:
                    page, plan = pending.result()
                except (TransientError, SourceRejected) as exc:
                    return stop("failed", f"{type(exc).__name__}: {exc}")
                pending = None
                if plan.keys & written:  # read ahead before the previous page wrote them: read again
                    plan = self._plan(page, lookups)
                if self.read_ahead and page.next_cursor is not None and (deadline is None or self.clock() < deadline):
                    pending = ahead.submit(self._prepare, run["since"], page.next_cursor, run["run_id"], lookups)
                total = page.total if page.total is not None else total
                metrics = metrics.add(self._commit(plan))
                written = frozenset([record.key for record, _ in plan.changed] + plan.removed)
                if sweep:
                    seen.update(r.key for r in page.records)
                    seen.update(f"{self.source}:{sid}" for sid, _ in page.failures)  # keep what we could not parse
                run["max_modified"] = max(filter(None, (run["max_modified"], page.max_modified)), default=None)
                run["pages"] += 1
                cursor = page.next_cursor
                if progress:
                    progress(self.source, metrics, total)
                if cursor is None:
                    break
                since_checkpoint += 1
                if since_checkpoint >= self.checkpoint_every:
                    checkpoint()
                    since_checkpoint = 0

        # The sweep scans the table, so it is skipped on a source's very first load (nothing of it
        # can be stale yet: a crashed first run resumes with its seen set, it never restarts).
        if sweep:
            stale = sorted(self.store.keys_for_source(self.source) - seen)
            if stale:
                self.blobs.put_delta(self.source, [], stale)
                self.store.delete(stale)
                metrics = metrics.add(SyncMetrics(removed=len(stale)))
            self.blobs.delete([seen_key])
        watermark = max(filter(None, (state.get("watermark"), run["max_modified"])), default=None)
        finished = {"watermark": watermark, "run": None,
                    "last_run": {"run_id": run["run_id"], "mode": run["mode"], "finished_at": _now_iso(self.clock),
                                 "metrics": metrics.model_dump()}}
        self.store.put_state(self.source, finished, owner)
        result = SyncResult(source=self.source, run_id=run["run_id"], mode=run["mode"], status="complete",
                            metrics=metrics, pages=run["pages"], watermark=watermark,
                            seconds=round(time.perf_counter() - started, 3))
        logger.info("catalog sync finished", extra={"source": self.source, "run_id": run["run_id"],
                                                    "mode": run["mode"], **metrics.model_dump()})
        return result

    def _prepare(self, since: str | None, cursor: str | None, run_id: str, lookups: bool) -> tuple[Any, _Plan]:
        """Fetch one page and work out what it changes (no writes: this runs a page ahead)."""
        page = self.adapter.fetch(since, cursor)
        for source_id, reason in page.failures:
            logger.warning("catalog record rejected", extra={"source": self.source, "source_id": source_id,
                                                             "reason": reason, "run_id": run_id})
        return page, self._plan(page, lookups)

    def _plan(self, page: Any, lookups: bool) -> _Plan:
        """What ``page`` changes against the stored content hashes."""
        keys = [r.key for r in page.records] + [w.key for w in page.withdrawals]
        existing = self.store.hashes(keys) if keys and lookups else {}
        changed = []
        for record in page.records:
            digest = record.content_hash()
            if existing.get(record.key) != digest:
                changed.append((record, digest))
        removed = [w.key for w in page.withdrawals if w.key in existing]
        docs: list[dict] = []
        if changed:
            heads = self._analyse_heads([record for record, _ in changed])
            docs = [doc_of(record, index_tokens(record, heads)) for record, _ in changed]
        metrics = SyncMetrics(fetched=len(page.records) + len(page.withdrawals) + len(page.failures),
                              changed=len(changed), unchanged=len(page.records) - len(changed),
                              removed=len(removed), failed=len(page.failures))
        return _Plan(changed, removed, docs, metrics, frozenset(keys))

    def _commit(self, plan: _Plan) -> SyncMetrics:
        """Write what one page changed: the index delta first (the outbox, see store.py), then
        the table."""
        if plan.changed or plan.removed:
            self.blobs.put_delta(self.source, plan.docs, plan.removed)
            if plan.changed:
                self.store.put_records(plan.changed, _now_iso(self.clock))
            if plan.removed:
                self.store.delete(plan.removed)
        return plan.metrics

    def _analyse_heads(self, records: list[Any]) -> Callable[[str], list[str]]:
        """Analyse the heads of ``records`` not analysed yet in this run, all in one batch, and
        return the lookup from head text to its tokens."""
        cache = self._heads
        missing = []
        for head in dict.fromkeys(head_text(r) for r in records):
            if head in cache:
                cache.move_to_end(head)
            else:
                missing.append(head)
        if missing:
            cache.update(zip(missing, self.analyze_many(missing)))
            while len(cache) > max(HEAD_CACHE, len(missing)):
                cache.popitem(last=False)  # the least recently used; this page's heads are the newest
        return cache.__getitem__
