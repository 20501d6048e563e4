"""Routing benchmark: latency per case, load time and memory, against bm25s's own query floor.

``run()`` measures in one process, in one run:

- ``load``: Kiwi model load, then the router build (profiles parsed, both bm25s indexes built),
  with the resident-memory growth of each step (RSS from /proc, so native memory counts too).
- ``route``: ``Router.route`` per case (analysis + scoring + decision + reasons), median and p99.
- ``floor``: ``bm25s.BM25.get_scores`` on the router's own facet index with the case's terms
  already analysed: the least any bm25s-based router could spend per case.
- ``analyze``: the analyzer alone on the same texts (the rest of the gap to the floor).

The lead's ``sos1379 bench`` calls ``run()``; ``sos1379 route bench`` prints it.
"""
from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Sequence

from sos1379.routing.models import RoutingInput


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux: report peak RSS instead
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _percentiles(samples_s: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples_s)
    p99 = ms[min(len(ms) - 1, max(0, int(round(0.99 * len(ms))) - 1))]
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


def run(
    cases: Sequence[RoutingInput] | None = None,
    *,
    analyzer: str | None = None,
    evidence: Callable[[str], list[dict]] | None = None,
    repeats: int = 5,
) -> dict:
    """Measure the router; returns a JSON-ready dict (milliseconds, MiB, ratios)."""
    import bm25s  # noqa: F401 - imported before the load timer so the build is timed alone

    from sos1379 import text
    from sos1379.routing.router import Router, RouterConfig, _analyze_profile_text

    _analyze_profile_text.cache_clear()  # time a real build, not a cache hit
    gc.collect()
    rss0 = _rss_bytes()
    t0 = time.perf_counter()
    if (analyzer or text.DEFAULT_ANALYZER) != "ngram":  # the n-gram analyzer never loads Kiwi
        text.warm_up()
    text.get_analyzer(analyzer)("워밍업 warm-up")
    kiwi_s = time.perf_counter() - t0
    rss1 = _rss_bytes()
    t1 = time.perf_counter()
    router = Router(config=RouterConfig(analyzer=analyzer), evidence=evidence)
    build_s = time.perf_counter() - t1
    rss2 = _rss_bytes()

    inputs = list(cases) if cases is not None else sample_inputs()
    analyze = text.get_analyzer(analyzer)
    terms = [router.query_terms(inp) for inp in inputs]
    facet_index = router._facet_bm25  # the floor must query the very index the router uses

    route_s: list[float] = []
    floor_s: list[float] = []
    analyze_s: list[float] = []
    for inp in inputs[:5]:  # warm caches (Kiwi's first calls are slower)
        router.route(inp)
    for _ in range(repeats):
        for inp, toks in zip(inputs, terms):
            a = time.perf_counter()
            router.route(inp)
            b = time.perf_counter()
            facet_index.get_scores(toks)
            c = time.perf_counter()
            analyze(inp.title)
            analyze(inp.text)
            d = time.perf_counter()
            route_s.append(b - a)
            floor_s.append(c - b)
            analyze_s.append(d - c)

    route = _percentiles(route_s)
    floor = _percentiles(floor_s)
    return {
        "analyzer": analyzer or text.DEFAULT_ANALYZER,
        "institutes": len(router.codes),
        "facets": len(router._facets),
        "cases": len(inputs),
        "evidence": evidence is not None,
        "load": {
            "kiwi_load_ms": round(kiwi_s * 1000, 1),
            "kiwi_rss_mib": round((rss1 - rss0) / 2**20, 1),
            "router_build_ms": round(build_s * 1000, 1),
            "router_rss_mib": round((rss2 - rss1) / 2**20, 1),
        },
        "route": route,
        "analyze": _percentiles(analyze_s),
        "floor_bm25s_get_scores": floor,
        "ratio_median_route_to_floor": round(route["median_ms"] / floor["median_ms"], 1)
        if floor["median_ms"]
        else None,
        "ratio_p99_route_to_floor": round(route["p99_ms"] / floor["p99_ms"], 1) if floor["p99_ms"] else None,
    }


def format_bench(result: dict) -> str:
    load, route, floor, an = result["load"], result["route"], result["floor_bm25s_get_scores"], result["analyze"]
    return "\n".join(
        [
            f"routing benchmark (analyzer {result['analyzer']}, {result['institutes']} institutes, "
            f"{result['facets']} facets, {result['cases']} cases x repeats, evidence={result['evidence']})",
            f"  load      Kiwi {load['kiwi_load_ms']} ms (+{load['kiwi_rss_mib']} MiB RSS); "
            f"router build {load['router_build_ms']} ms (+{load['router_rss_mib']} MiB RSS)",
            f"  route     median {route['median_ms']} ms   p99 {route['p99_ms']} ms   (n={route['n']})",
            f"  analyze   median {an['median_ms']} ms   p99 {an['p99_ms']} ms",
            f"  floor     bm25s get_scores median {floor['median_ms']} ms   p99 {floor['p99_ms']} ms",
            f"  ratio     route/floor median x{result['ratio_median_route_to_floor']}   "
            f"p99 x{result['ratio_p99_route_to_floor']}",
        ]
    )
