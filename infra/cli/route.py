"""``sos1379 route``: route JSON-lines cases, print the evaluation table, or benchmark the router.

- ``sos1379 route < cases.jsonl``: one JSON line out per case in (``id``, ``decision``, ``targets``,
  ``confidence``, ``institutes``: ranked ``{code, score, reasons}``).
- ``sos1379 route eval PATH [--analyzer NAME] [--json]`` (or ``sos1379 route --eval PATH``): top-1 and
  top-3 accuracy, handoff decisions and the confusion of the misses on a labelled set.
- ``sos1379 route bench [--analyzer NAME] [--cases PATH] [--catalog [SCALE]]``: latency, load time
  and memory against the bm25s floor, with the directory alone and then (``--catalog``, default
  ``full``) with a generated catalog of that scale loaded, in one run (``infra.bench.routing``).

``--catalog`` adds catalog evidence: ``snapshot`` (the default for routing and eval) uses the
catalog snapshot configured for this shell (``CATALOG_BUCKET``, loaded from S3); ``tiny``, ``small``,
``medium`` or ``full`` builds the stand-ins' generated catalog of that scale in-process first
(seconds for small, a few minutes for full). Put it after the positional PATH.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
from collections.abc import Iterator

_INPUT_FIELDS = ("title", "text", "service_type", "channel", "region", "lang")
CATALOG_CHOICES = ("snapshot", "tiny", "small", "medium", "full")


@contextlib.contextmanager
def _router(analyzer: str | None, catalog: str | None) -> Iterator:
    """The router, with catalog evidence from the configured snapshot or a generated catalog."""
    from sos1379.routing import Router, RouterConfig, get_router
    from sos1379.routing.evidence import catalog_hits

    if catalog is None:
        yield get_router(analyzer)
        return
    if catalog == "snapshot":
        yield Router(config=RouterConfig(analyzer=analyzer), evidence=catalog_hits)
        return
    from sos1379.catalog import service

    from infra.bench.routing import generated_catalog

    index, figures = generated_catalog(catalog)
    print(json.dumps({"catalog": figures}), file=sys.stderr)
    service.set_index(index)
    try:
        yield Router(config=RouterConfig(analyzer=analyzer), evidence=catalog_hits)
    finally:
        service.set_index(None)
        index.close()
        shutil.rmtree(index.directory, ignore_errors=True)


def _stream(args: argparse.Namespace) -> int:
    if args.eval:
        args.path = args.eval
        return _eval(args)
    from sos1379.routing import RoutingInput

    failed = 0
    with _router(args.analyzer, args.catalog) as router:
        for lineno, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
                if case.get("text") is None and case.get("description") is not None:
                    case["text"] = case["description"]  # a case in the API's shape
                inp = RoutingInput(**{k: case[k] for k in _INPUT_FIELDS if case.get(k) is not None})
            except (ValueError, TypeError) as exc:
                failed += 1
                print(json.dumps({"line": lineno, "error": type(exc).__name__}), file=sys.stderr)
                continue
            result = router.route(inp, exclude=set(case.get("exclude") or ()))
            out = {"id": case.get("id"), **result.model_dump(mode="json")}
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 1 if failed else 0


def _eval(args: argparse.Namespace) -> int:
    from infra.bench.routing_eval import evaluate, format_report, load_cases

    with _router(args.analyzer, args.catalog) as router:
        report = evaluate(router, load_cases(args.path))
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        catalog = f", catalog {args.catalog}" if args.catalog else ""
        print(format_report(report, label=f"{args.path} (analyzer {args.analyzer or 'default'}{catalog})"))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from infra.bench import router as bench
    from infra.bench.routing_eval import load_cases
    from sos1379.routing.models import RoutingInput

    cases = None
    if args.cases:
        cases = [RoutingInput(**{k: c[k] for k in _INPUT_FIELDS if c.get(k) is not None})
                 for c in load_cases(args.cases)]
    if args.catalog == "snapshot":
        from sos1379.routing.evidence import catalog_hits

        result = bench.run(cases, analyzer=args.analyzer, evidence=catalog_hits, repeats=args.repeats)
    else:
        from infra.bench.routing import run

        result = run(args.catalog, cases, analyzer=args.analyzer, repeats=args.repeats,
                     progress=lambda message: print(message, file=sys.stderr, flush=True))
    print(json.dumps(result, indent=1) if args.json else bench.format_bench(result))
    return 0


def _add_common(p: argparse.ArgumentParser, catalog_default: str = "snapshot") -> None:
    from sos1379.text import analyzer_names

    p.add_argument("--analyzer", choices=analyzer_names(), default=None, help="text analyzer (default: project default)")
    p.add_argument("--catalog", nargs="?", const=catalog_default, choices=CATALOG_CHOICES, default=None,
                   help=f"add catalog evidence: the configured snapshot or a generated catalog of a scale "
                        f"(bare --catalog: {catalog_default})")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def register(subparsers) -> None:
    route = subparsers.add_parser("route", help="route cases (JSON lines on stdin), evaluate, benchmark")
    _add_common(route)
    route.add_argument("--eval", metavar="PATH", help="same as `route eval PATH`")
    route.set_defaults(func=_stream)
    sub = route.add_subparsers(dest="route_command", required=False)

    ev = sub.add_parser("eval", help="evaluation table on a labelled JSON-lines set")
    ev.add_argument("path")
    _add_common(ev)
    ev.set_defaults(func=_eval)

    bn = sub.add_parser("bench", help="routing latency, load time and memory vs the bm25s floor")
    bn.add_argument("--cases", metavar="PATH", help="JSON-lines cases (default: built from the profiles)")
    bn.add_argument("--repeats", type=int, default=5)
    _add_common(bn, catalog_default="full")
    bn.set_defaults(func=_bench)
