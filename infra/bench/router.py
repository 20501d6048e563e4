"""Routing benchmark: latency per case, load time and memory, against bm25s's own query floor.

``build()`` + ``measure()`` (``run()`` does both) measure in one process:

- ``load``: Kiwi model load, then the router build (profiles parsed, both bm25s indexes built),
  with the resident-memory growth of each step (RSS from /proc, so native memory counts too).
- ``route``: ``Router.route`` per case (analysis + scoring + decision + reasons), median and p99;
  with a catalog, the case's one catalog query (``catalog_lookup``) plus ``Router.route`` with
  its hits, which is what route_case does.
- ``floor``: ``bm25s.BM25.get_scores`` on the router's own facet index with the case's terms
  already analysed (plus the catalog's own bm25s index with a catalog): the least any
  bm25s-based router could spend per case.
- ``analyze``: the analyzer alone on the same texts (the rest of the gap to the floor).

``infra.bench.routing.run`` measures the directory alone and then the full-size generated catalog
in the same run (``sos1379 route bench --catalog full``); ``sos1379 route bench`` alone prints
the directory figures.
"""
from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from sos1379.routing.models import RoutingInput


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux: report peak RSS instead
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _percentiles(samples_s: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples_s)
    p99 = ms[min(len(ms) - 1, max(0, round(0.99 * len(ms)) - 1))]
    return {"median_ms": round(statistics.median(ms), 4), "p99_ms": round(p99, 4), "n": len(ms)}


def sample_inputs() -> list[RoutingInput]:
    """Self-contained benchmark cases: two problem descriptions of each profile, joined."""
    from sos1379.routing.profiles import load_profiles

    out: list[RoutingInput] = []
    for profile in load_profiles().values():
        problems = [*profile.problems_ko, *profile.problems_en]
        for i in range(0, min(len(problems), 6), 2):
            text = " ".join(problems[i : i + 2])
            out.append(RoutingInput(title=problems[i][:30], text=text, service_type="tech_consult"))
    return out


def build(analyzer: str | None = None) -> tuple[Any, dict]:
    """Load Kiwi, then build a router, timing both and measuring their resident memory."""
    import bm25s  # noqa: F401 - imported before the load timer so the build is timed alone

    from sos1379 import text
    from sos1379.routing.router import Router, RouterConfig, _analyze_profile_text

    _analyze_profile_text.cache_clear()  # time a real build, not a cache hit
    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    if (analyzer or text.DEFAULT_ANALYZER) != "ngram":  # the n-gram analyzer never loads Kiwi
        text.warm_up()
    text.get_analyzer(analyzer)("워밍업 warm-up")
    kiwi_s = time.perf_counter() - t0
    rss1 = rss_bytes()
    t1 = time.perf_counter()
    router = Router(config=RouterConfig(analyzer=analyzer))
    build_s = time.perf_counter() - t1
    rss2 = rss_bytes()
    return router, {
        "analyzer": analyzer or text.DEFAULT_ANALYZER,
        "institutes": len(router.codes),
        "facets": len(router._facets),
        "load": {
            "kiwi_load_ms": round(kiwi_s * 1000, 1),
            "kiwi_rss_mib": round((rss1 - rss0) / 2**20, 1),
            "router_build_ms": round(build_s * 1000, 1),
            "router_rss_mib": round((rss2 - rss1) / 2**20, 1),
        },
    }


def measure(router: Any, inputs: Sequence[RoutingInput], *, repeats: int = 5, catalog: Any | None = None,
            hits: Callable[[str], list[dict]] | None = None) -> dict:
    """Routing per case against the floor, interleaved so machine load hits both alike.

    Without ``catalog``: ``route`` is ``Router.route``; the floor is ``get_scores`` on the router's
    facet index with the case already analysed. With ``catalog`` (a loaded CatalogIndex) and
    ``hits`` (the catalog lookup route_case makes, e.g. ``sos1379.routing.evidence.catalog_hits``):
    ``route`` is that one catalog query plus ``Router.route`` with its hits, and the floor adds
    ``get_scores`` on the catalog's own bm25s index with the query already analysed."""
    from sos1379 import text

    analyze = text.get_analyzer(router.config.analyzer)
    queries = [f"{inp.title}\n{inp.text}" for inp in inputs]
    terms = [router.query_terms(inp) for inp in inputs]
    facet_index = router._facet_bm25  # the floor must query the very index the router uses
    catalog_terms: list[list[str]] = []
    if catalog is not None:
        vocab = catalog.retriever.vocab_dict
        catalog_terms = [[t for t in dict.fromkeys(text.analyze(q)) if t in vocab] for q in queries]

    def route_one(i: int) -> tuple[float, float]:
        a = time.perf_counter()
        found = hits(queries[i]) if hits is not None else None
        b = time.perf_counter()
        router.route(inputs[i], evidence=found)
        return time.perf_counter() - a, b - a

    for i in range(min(5, len(inputs))):  # warm caches (Kiwi's first calls are slower)
        route_one(i)
    route_s: list[float] = []
    lookup_s: list[float] = []
    floor_s: list[float] = []
    analyze_s: list[float] = []
    with_evidence = 0
    for _ in range(repeats):
        for i, inp in enumerate(inputs):
            total, lookup = route_one(i)
            b = time.perf_counter()
            facet_index.get_scores(terms[i])
            if catalog is not None and catalog_terms[i]:
                catalog.retriever.get_scores(catalog_terms[i])
            c = time.perf_counter()
            analyze(inp.title)
            analyze(inp.text)
            d = time.perf_counter()
            route_s.append(total)
            lookup_s.append(lookup)
            floor_s.append(c - b)
            analyze_s.append(d - c)
    if hits is not None:
        with_evidence = sum(1 for q in queries if router.evidence_for(hits(q)))
    route = _percentiles(route_s)
    floor = _percentiles(floor_s)
    out = {
        "route": route,
        "analyze": _percentiles(analyze_s),
        "floor_bm25s_get_scores": floor,
        "ratio_median_route_to_floor": round(route["median_ms"] / floor["median_ms"], 1) if floor["median_ms"] else None,
        "ratio_p99_route_to_floor": round(route["p99_ms"] / floor["p99_ms"], 1) if floor["p99_ms"] else None,
    }
    if hits is not None:
        out["catalog_lookup"] = _percentiles(lookup_s)
        out["cases_with_counted_evidence"] = with_evidence
    return out


def run(
    cases: Sequence[RoutingInput] | None = None,
    *,
    analyzer: str | None = None,
    evidence: Callable[[str], list[dict]] | None = None,
    repeats: int = 5,
) -> dict:
    """Measure the router on the directory alone (or with an ``evidence`` lookup over a catalog
    that is already loaded); returns a JSON-ready dict (milliseconds, MiB, ratios).
    ``infra.bench.routing.run`` adds the full-size generated catalog in the same run."""
    router, report = build(analyzer)
    inputs = list(cases) if cases is not None else sample_inputs()
    catalog = None
    if evidence is not None:
        from sos1379.catalog.service import current_index

        catalog = current_index()
    report.update(cases=len(inputs), evidence=evidence is not None,
                  **measure(router, inputs, repeats=repeats, catalog=catalog, hits=evidence))
    return report


def _format_measure(label: str, m: dict) -> list[str]:
    route, floor, an = m["route"], m["floor_bm25s_get_scores"], m["analyze"]
    lines = [
        f"  {label}",
        f"    route     median {route['median_ms']} ms   p99 {route['p99_ms']} ms   (n={route['n']})",
    ]
    if "catalog_lookup" in m:
        lk = m["catalog_lookup"]
        lines.append(f"    of which the catalog query  median {lk['median_ms']} ms   p99 {lk['p99_ms']} ms   "
                     f"({m['cases_with_counted_evidence']} cases with counted evidence)")
    lines += [
        f"    analyze   median {an['median_ms']} ms   p99 {an['p99_ms']} ms",
        f"    floor     bm25s get_scores median {floor['median_ms']} ms   p99 {floor['p99_ms']} ms",
        f"    ratio     route/floor median x{m['ratio_median_route_to_floor']}   p99 x{m['ratio_p99_route_to_floor']}",
    ]
    return lines


def format_bench(result: dict) -> str:
    load = result["load"]
    lines = [
        (f"routing benchmark (analyzer {result['analyzer']}, {result['institutes']} institutes, "
         f"{result['facets']} facets, {result['cases']} cases x repeats)"),
        (f"  load      Kiwi {load['kiwi_load_ms']} ms (+{load['kiwi_rss_mib']} MiB RSS); "
         f"router build {load['router_build_ms']} ms (+{load['router_rss_mib']} MiB RSS)"),
    ]
    if "directory" not in result:  # run(): one measurement
        label = "with catalog evidence" if result.get("evidence") else "directory alone"
        return "\n".join(lines + _format_measure(label, result))
    lines += _format_measure("directory alone (floor: the router's facet index)", result["directory"])
    if "catalog" in result:
        c = result["catalog"]
        lines.append(
            f"  catalog   {c['scale']}: {c['docs']} docs ({c['owned_by_our_institutes']} owned by our institutes), "
            f"{c['search_part_mb']} MB searched ({c['disk_mb']} MB with rebuild data); built in {c['fetch_and_analyse_s']} + {c['index_write_s']} s; "
            f"load {c['load_ms']} ms (+{c['rss_after_load_mib']} MiB RSS, +{c['rss_after_queries_mib']} MiB after queries)")
        lines += _format_measure("with the catalog (one catalog query per case; floor: both indexes)",
                                 result["with_catalog"])
    return "\n".join(lines)
