"""Routing with the catalog: a generated catalog index built in-process, and the routing benchmark
with the directory alone and then with that catalog loaded, in one run.

- :func:`generated_catalog` pages every stand-in source (``infra.standins``, the project's
  deterministic generator served in each source's real format) through the production adapters,
  analyses each record exactly as the sync does (``index_tokens``) and writes a snapshot directory
  with ``IndexBuilder``: the index the router would download, without moto, S3 or DynamoDB.
  ``small`` (410 records) takes seconds; ``full`` (180,000 at the sources, 178k after the
  malformed ones) a few minutes, almost all of it Kiwi on titles and keywords.
- :func:`run` (``sos1379 route bench --catalog full``, ``sos1379 bench routing``): Kiwi load, router
  build, routing per case against bm25s's own query on the router's index; then the catalog
  build, its load time and memory, and routing per case with catalog evidence (one catalog query
  per case, as route_case does) against the floor of bm25s's raw queries on both indexes.
"""
from __future__ import annotations

import gc
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

SOURCES = ("zeus", "ntis", "patents", "library")


def generated_records(scale: str, progress: Callable[[str, int], None] | None = None):
    """Every valid record the stand-ins serve at ``scale``, parsed by the production adapters."""
    from sos1379.catalog.institutes import default_resolver
    from sos1379.catalog.sources import HttpSource, LibraryAdapter, NtisAdapter, PatentsAdapter, ZeusAdapter

    from infra.standins import start_standins

    handle = start_standins(scale, throttle_every=0, error_every=0)
    try:
        resolver = default_resolver()
        adapters = {
            "zeus": ZeusAdapter(HttpSource(handle.urls["zeus"]), handle.keys["zeus"], resolver),
            "ntis": NtisAdapter(HttpSource(handle.urls["ntis"]), handle.keys["ntis"], resolver),
            "patents": PatentsAdapter(HttpSource(handle.urls["patents"]), resolver),
            "library": LibraryAdapter(HttpSource(handle.urls["library"]), resolver),
        }
        for name in SOURCES:
            adapter, cursor, seen = adapters[name], None, 0
            while True:
                page = adapter.fetch(None, cursor)
                yield from page.records
                seen += len(page.records)
                if progress:
                    progress(name, seen)
                cursor = page.next_cursor
                if cursor is None:
                    break
    finally:
        handle.stop()


def generated_catalog(scale: str = "small", directory: Path | None = None,
                      progress: Callable[[str, int], None] | None = None):
    """Build and load a catalog index of the generated records at ``scale``.

    Returns ``(CatalogIndex, figures)``; the index lives in ``directory`` (a fresh temporary
    directory when None: the caller removes ``index.directory`` when done)."""
    from sos1379.catalog.index import REBUILD_FILES, CatalogIndex, IndexBuilder, doc_of, index_tokens
    from sos1379.text import analyze

    started = time.perf_counter()
    builder = IndexBuilder()
    for record in generated_records(scale, progress):
        builder.upsert(doc_of(record, index_tokens(record, analyze)))
    analysed = time.perf_counter()
    directory = Path(directory or tempfile.mkdtemp(prefix=f"sos1379-routing-catalog-{scale}-"))
    builder.write(directory)
    docs = len(builder.docs)
    del builder
    written = time.perf_counter()
    index = CatalogIndex(directory, f"generated-{scale}")
    files = [p for p in directory.rglob("*") if p.is_file()]
    search_part = [p for p in files if not (p.parent == directory and p.name in REBUILD_FILES)]
    figures = {"scale": scale, "docs": docs, "owned_by_our_institutes": int((index.institutes >= 0).sum()),
               "fetch_and_analyse_s": round(analysed - started, 1), "index_write_s": round(written - analysed, 1),
               # what route_case downloads and maps (the token ids are only for the next rebuild)
               "search_part_mb": round(sum(p.stat().st_size for p in search_part) / 2**20, 1),
               "disk_mb": round(sum(p.stat().st_size for p in files) / 2**20, 1)}
    return index, figures


def run(catalog_scale: str | None = "full", cases: Sequence | None = None, *, analyzer: str | None = None,
        repeats: int = 5, progress: Callable[[str], None] | None = None) -> dict:
    """The routing benchmark in one run: the directory alone, then with the generated catalog at
    ``catalog_scale`` (None: directory only). Returns JSON-ready figures (ms, MiB, ratios)."""
    from sos1379.catalog import service
    from sos1379.catalog.index import CatalogIndex
    from infra.bench import router as bench
    from sos1379.routing.evidence import catalog_hits

    say = progress or (lambda message: None)
    logging.getLogger("sos1379").setLevel(logging.ERROR)
    say("directory alone: Kiwi load, router build, routing")
    router, report = bench.build(analyzer)
    inputs = list(cases) if cases is not None else bench.sample_inputs()
    report["cases"] = len(inputs)
    report["directory"] = bench.measure(router, inputs, repeats=repeats)
    if not catalog_scale:
        return report

    say(f"building the generated catalog ({catalog_scale}; full scale takes a few minutes)")
    built, figures = generated_catalog(catalog_scale)
    directory = built.directory
    built.close()
    del built
    index = None
    try:
        # what a routing process does once the snapshot is on disk: open it (memory-mapped)
        gc.collect()
        rss0 = bench.rss_bytes()
        t0 = time.perf_counter()
        index = CatalogIndex(directory, f"generated-{catalog_scale}")
        load_s = time.perf_counter() - t0
        figures.update(load_ms=round(load_s * 1000, 1), rss_after_load_mib=round((bench.rss_bytes() - rss0) / 2**20, 1))
        service.set_index(index)
        say("routing with catalog evidence")
        report["with_catalog"] = bench.measure(router, inputs, repeats=repeats, catalog=index, hits=catalog_hits)
        figures["rss_after_queries_mib"] = round((bench.rss_bytes() - rss0) / 2**20, 1)
        report["catalog"] = figures
        d, c = report["directory"]["route"], report["with_catalog"]["route"]
        report["with_catalog_vs_directory_median"] = round(c["median_ms"] / d["median_ms"], 2) if d["median_ms"] else None
    finally:
        service.set_index(None)
        if index is not None:
            index.close()
        shutil.rmtree(directory, ignore_errors=True)
    return report
