"""``sos1379 catalog ...``: sync the public sources by hand, search, rebuild the index, benchmark.

By default the commands act on the running local stack (``.local/stack.json``: its moto endpoint,
CatalogTable, CatalogBucket and the stand-in source URLs of SyncCatalogFunction). ``--in-process``
uses this process's own environment instead (tests, or a shell with the variables exported).
"""
from __future__ import annotations

import json
import sys

SOURCES = ("zeus", "ntis", "patents", "library")


def register(subparsers) -> None:
    parser = subparsers.add_parser("catalog", help="technology catalog: sync, search, reindex, bench")
    sub = parser.add_subparsers(dest="catalog_command", required=True)

    sync = sub.add_parser("sync", help="sync one source (or all) now, with a progress bar")
    sync.add_argument("source", nargs="?", choices=SOURCES, help="default: every source")
    sync.add_argument("--mode", choices=["auto", "full", "incremental"], default="auto")
    sync.add_argument("--json", action="store_true", help="print {source: {fetched, changed, ...}} only")
    sync.add_argument("--no-index", action="store_true", help="skip republishing the search index")
    sync.add_argument("--in-process", action="store_true", help="use this process's environment, not the stack")
    sync.set_defaults(func=cmd_sync)

    search = sub.add_parser("search", help="search the catalog")
    search.add_argument("query")
    search.add_argument("--type", choices=["patent", "paper", "equipment"])
    search.add_argument("--institute")
    search.add_argument("--region")
    search.add_argument("--page", type=int, default=1)
    search.add_argument("--page-size", type=int, default=10)
    search.add_argument("--json", action="store_true")
    search.add_argument("--in-process", action="store_true")
    search.set_defaults(func=cmd_search)

    reindex = sub.add_parser("reindex", help="apply pending index deltas now (--full: rebuild from the table)")
    reindex.add_argument("--full", action="store_true")
    reindex.add_argument("--in-process", action="store_true")
    reindex.set_defaults(func=cmd_reindex)

    bench = sub.add_parser("bench", help="sync/search benchmark against moto server and the stand-ins")
    bench.add_argument("--scale", choices=["tiny", "small", "medium", "full"], default="full")
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(func=cmd_bench)


def _point_at_stack(args) -> None:
    if getattr(args, "in_process", False):
        return
    from infra.localstack.state import StackNotRunning, apply_stack_env, load_stack_state

    try:
        state = load_stack_state()
    except StackNotRunning as exc:
        print(f"{exc}\n(or pass --in-process to use this shell's environment)", file=sys.stderr)
        raise SystemExit(2) from None
    function = "SyncCatalogFunction" if "SyncCatalogFunction" in (state.get("functions") or {}) else None
    apply_stack_env(state, function)
    _reset()


def _reset() -> None:
    from sos1379.aws import reset_clients
    from sos1379.catalog.service import get_catalog_settings, set_index
    from sos1379.settings import get_settings

    reset_clients()
    get_settings.cache_clear()
    get_catalog_settings.cache_clear()
    set_index(None)


def cmd_sync(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from infra.localstack.logs import quieted
    from sos1379.catalog.service import sync_source

    _point_at_stack(args)
    sources = [args.source] if args.source else list(SOURCES)
    console = Console(stderr=True)
    results = {}
    # the bar and the summary say it all: the service's own logs are quieted while it runs
    with quieted(), Progress(TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("changed {task.fields[changed]} removed {task.fields[removed]} failed {task.fields[failed]}"),
                  TimeElapsedColumn(), console=console, disable=args.json or not console.is_terminal) as bar:
        tasks = {s: bar.add_task(s, total=None, changed=0, removed=0, failed=0) for s in sources}

        def progress(source, metrics, total):
            bar.update(tasks[source], completed=metrics.fetched, total=total, changed=metrics.changed,
                       removed=metrics.removed, failed=metrics.failed)

        for source in sources:
            # The index is republished once, after the last source, not after each.
            result = sync_source(source, mode=args.mode, progress=progress,
                                 rebuild=not args.no_index and source == sources[-1])
            results[source] = result
            bar.update(tasks[source], total=result.metrics.fetched, completed=result.metrics.fetched)
    summary = {s: r.metrics.model_dump() for s, r in results.items()}
    if args.json:
        print(json.dumps(summary))
    else:
        table = Table(title="catalog sync")
        for col in ("source", "mode", "status", "fetched", "changed", "unchanged", "removed", "failed", "seconds"):
            table.add_column(col, justify="right" if col not in ("source", "mode", "status") else "left")
        for s, r in results.items():
            m = r.metrics
            table.add_row(s, r.mode, r.status, str(m.fetched), str(m.changed), str(m.unchanged), str(m.removed),
                          str(m.failed), f"{r.seconds:.1f}")
        Console(width=max(Console().width, 110)).print(table)
        errors = [f"{s}: {r.error}" for s, r in results.items() if r.error]
        for line in errors:
            console.print(f"[red]{line}[/red]")
    return 1 if any(r.status == "failed" for r in results.values()) else 0


def cmd_search(args) -> int:
    from sos1379.catalog.service import search_catalog
    from sos1379.errors import ValidationFailed

    _point_at_stack(args)
    params = {"q": args.query, "type": args.type or "", "institute": args.institute or "",
              "region": args.region or "", "page": str(args.page), "page_size": str(args.page_size)}
    try:
        result = search_catalog(params)
    except ValidationFailed as exc:
        for e in exc.errors:
            print(f"{e.field}: {e.message_en}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    if result["index"] is None:
        print("no catalog index yet: run `sos1379 catalog sync` first", file=sys.stderr)
        return 1
    print(f"{result['total']} hits (index {result['index']['build_id']}, {result['index']['docs']} docs)")
    for rank, hit in enumerate(result["hits"], start=(args.page - 1) * args.page_size + 1):
        owner = hit["institute"] or "-"
        print(f"{rank:>3}. [{hit['type']}] {hit['title']}  ({owner}; {hit['institution'] or ''}) score {hit['score']}")
        print(f"     {hit['url']}")
    return 0


def cmd_reindex(args) -> int:
    from sos1379.catalog.service import rebuild_index

    _point_at_stack(args)
    pointer = rebuild_index(full=args.full)
    print(json.dumps(pointer or {"rebuilt": False, "reason": "nothing pending (or another rebuild is running)"}))
    return 0


def cmd_bench(args) -> int:
    from infra.bench.catalog import print_report, run

    report = run(args.scale)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_report(report)
    return 0
