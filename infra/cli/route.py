"""``sos1379 route``: route JSON-lines cases, print the evaluation table, or benchmark the router.

- ``sos1379 route < cases.jsonl``: one JSON line out per case in (``id``, ``decision``, ``targets``,
  ``confidence``, ``institutes``: ranked ``{code, score, reasons}``).
- ``sos1379 route eval PATH [--analyzer NAME] [--json]`` (or ``sos1379 route --eval PATH``): top-1 and
  top-3 accuracy, handoff decisions and the confusion of the misses on a labelled set.
- ``sos1379 route calibrate [PATH ...] [--check PATH ...] [--write]``: fit the top-1/top-2 margin table
  on labelled sets (default: the real dev split and the holdout) and print its reliability.
- ``sos1379 route curve [--stream PATH ...] [--heldout PATH]``: the learning curve, replaying
  labelled cases in order as outcomes (``sos1379.routing.learning.replay``).
- ``sos1379 route learn``: rebuild the case memory from the case table and publish it (what
  RetrainRouterFunction does), against the local stack unless ``CASES_TABLE`` is set.
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
    from infra.bench.routing_eval import evaluate, evaluate_leave_site_out, format_report, load_cases

    if getattr(args, "leave_site_out", False):
        if args.catalog:
            print("--leave-site-out takes no --catalog", file=sys.stderr)
            return 2
        from sos1379.routing import RouterConfig

        report = evaluate_leave_site_out(load_cases(args.path), config=RouterConfig(analyzer=args.analyzer))
    else:
        with _router(args.analyzer, args.catalog) as router:
            report = evaluate(router, load_cases(args.path))
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        catalog = f", catalog {args.catalog}" if args.catalog else ""
        lso = ", leave-site-out" if getattr(args, "leave_site_out", False) else ""
        print(format_report(report, label=f"{args.path} (analyzer {args.analyzer or 'default'}{catalog}{lso})"))
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


REAL_DEV = "tests/data/routing_real_dev.jsonl"
REAL_TEST = "tests/data/routing_real_test.jsonl"
HOLDOUT = "tests/data/routing_holdout.jsonl"
PROJECT = "tests/data/routing_cases.jsonl"


def _calibrate(args: argparse.Namespace) -> int:
    from sos1379.routing import calibration, get_router
    from infra.bench.routing_eval import load_cases

    router = get_router(args.analyzer)
    fit_paths = args.paths or [REAL_DEV, HOLDOUT]

    def observe(path: str) -> list:
        cases = load_cases(path)
        if not args.leave_site_out:
            return calibration.observe(router, cases)
        from sos1379.routing import RouterConfig

        from infra.bench.routing_eval import site_routers

        return [o for r, group in site_routers(cases, config=RouterConfig(analyzer=args.analyzer))
                for o in calibration.observe(r, group)]

    observations = [o for p in fit_paths for o in observe(p)]
    lso = ", leave-site-out" if args.leave_site_out else ""
    table = calibration.fit(observations, fitted_on=" + ".join(fit_paths) + f" (refer cases{lso})")
    if args.write:
        calibration.save(table)
    else:
        table = calibration.load_calibration() if not args.paths else table
    out = {"calibration": table.as_json(), "reliability": {}}
    for path in [*fit_paths, *(args.check or [REAL_TEST, PROJECT])]:
        obs = observe(path)
        out["reliability"][path] = calibration.reliability(table, obs)
        triaged = [o for o in obs if o.extra["decision"] == "coordinator"]
        covered = [o for o in obs if o.extra["decision"] == "refer" and set(o.extra["targets"]) & set(o.extra["gold"])]
        out["reliability"][path].append({"coordinator": len(triaged), "coordinator_top1_right": sum(o.hits[0] for o in triaged),
                                         "first_round_coverage": round(len(covered) / max(1, len(obs)), 3),
                                         "targets_per_referral": round(sum(len(o.extra["targets"]) for o in obs if o.extra["targets"])
                                                                       / max(1, sum(1 for o in obs if o.extra["targets"])), 2)})
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    print(f"margin table fitted on {table.fitted_on}{' (written)' if args.write else ''}")
    for path, rows in out["reliability"].items():
        summary = rows[-1]
        print(calibration.format_reliability(rows[:-1], path))
        print(f"  coordinator {summary['coordinator']} (top-1 right in {summary['coordinator_top1_right']}), "
              f"first-round coverage {summary['first_round_coverage']:.3f}, "
              f"targets per referral {summary['targets_per_referral']:.2f}")
    return 0


def _curve(args: argparse.Namespace) -> int:
    from sos1379.routing import Router, RouterConfig, learning
    from infra.bench.routing_eval import load_cases

    stream = [c for p in (args.stream or [PROJECT, HOLDOUT, REAL_DEV]) for c in load_cases(p)] * args.repeat
    heldout = load_cases(args.heldout) if args.heldout else []
    router = Router(config=RouterConfig(analyzer=args.analyzer))
    marks = [m for m in (0, 50, 100, 200, 400, 800) if m < len(stream)]
    rows = list(learning.replay(router, stream, evaluate_on=heldout, checkpoints=marks, rebuild_every=args.step))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"learning curve: {len(stream)} labelled cases replayed in order as outcomes "
          f"(memory rebuilt every {args.step}), held out: {args.heldout or '-'}")
    print("  outcomes seen  next-block top-1  top-3  (prequential)")
    for r in rows:
        if "seen" in r:
            print(f"  {r['seen'] - r['block']:>13}  {r['block_top1']:16.3f}  {r['block_top3']:.3f}")
    for r in rows:
        if "checkpoint" in r and heldout:
            print(f"  after {r['checkpoint']:>4} outcomes: held-out top-1 {r['heldout_top1']:.3f}, top-3 {r['heldout_top3']:.3f}")
    return 0


def _learn(args: argparse.Namespace) -> int:
    import os

    from sos1379.aws import client
    from sos1379.routing import learning
    from sos1379.settings import get_settings
    from sos1379.store import CaseStore

    if not os.environ.get("CASES_TABLE"):
        from infra.cli.institute import _use_local_stack
        from infra.localstack.state import StackNotRunning

        try:
            _use_local_stack()
        except StackNotRunning as exc:
            print(f"error: {exc} (start it with `sos1379 up`, or set CASES_TABLE and ROUTER_MODEL_BUCKET)",
                  file=sys.stderr)
            return 2
    bucket = args.bucket or learning.model_bucket()
    if not bucket:
        print("error: no bucket (ROUTER_MODEL_BUCKET or CATALOG_BUCKET)", file=sys.stderr)
        return 2
    result = learning.retrain(CaseStore(get_settings().cases_table), client("s3"), bucket, analyzer=args.analyzer)
    print(json.dumps(result, ensure_ascii=False, indent=1))
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
    ev.add_argument("--leave-site-out", action="store_true",
                    help="score each case without the knowledge facts from its own source site (real sets)")
    _add_common(ev)
    ev.set_defaults(func=_eval)

    cal = sub.add_parser("calibrate", help="fit and check the top-1/top-2 margin table (reliability)")
    cal.add_argument("paths", nargs="*", help=f"labelled sets to fit on (default: {REAL_DEV} {HOLDOUT}); "
                                              "without paths the packaged table is checked")
    cal.add_argument("--check", nargs="*", metavar="PATH", help=f"sets to check (default: {REAL_TEST} {PROJECT})")
    cal.add_argument("--write", action="store_true", help="write the fitted table into the package")
    cal.add_argument("--leave-site-out", action="store_true",
                     help="route cases with a source_url without the knowledge facts from their own site")
    cal.add_argument("--analyzer", default=None)
    cal.add_argument("--json", action="store_true")
    cal.set_defaults(func=_calibrate)

    cur = sub.add_parser("curve", help="learning curve: replay labelled cases as outcomes")
    cur.add_argument("--stream", nargs="*", metavar="PATH", help=f"default: {PROJECT} {HOLDOUT} {REAL_DEV}")
    cur.add_argument("--heldout", metavar="PATH", default=REAL_TEST)
    cur.add_argument("--step", type=int, default=25, help="rebuild the memory every N outcomes")
    cur.add_argument("--repeat", type=int, default=1, help="replay the stream N times (recurring problems)")
    cur.add_argument("--analyzer", default=None)
    cur.add_argument("--json", action="store_true")
    cur.set_defaults(func=_curve)

    lrn = sub.add_parser("learn", help="rebuild the case memory from the case table and publish it")
    lrn.add_argument("--bucket", help="default: ROUTER_MODEL_BUCKET or CATALOG_BUCKET")
    lrn.add_argument("--analyzer", default=None)
    lrn.set_defaults(func=_learn)

    bn = sub.add_parser("bench", help="routing latency, load time and memory vs the bm25s floor")
    bn.add_argument("--cases", metavar="PATH", help="JSON-lines cases (default: built from the profiles)")
    bn.add_argument("--repeats", type=int, default=5)
    _add_common(bn, catalog_default="full")
    bn.set_defaults(func=_bench)
