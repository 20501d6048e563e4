"""``sos1379 bench [NAME ...]``: run the benchmarks of every area and write one JSON and one
Markdown summary (artifacts/bench/summary.json, summary.md). Each benchmark reports its figures
against a floor measured in the same run."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# name -> "module:function" returning a JSON-able dict of figures
BENCHMARKS = {
    "intake": "infra.bench.intake:run",
    "imports": "infra.bench.imports:run",
    "referrals": "infra.bench.referrals:run",
    "routing": "infra.bench.routing:run",
    "catalog": "infra.bench.catalog:run_default",
    "notify": "infra.bench.notify:run",
    "sla": "infra.bench.sla:run_default",
    "faults": "infra.bench.faults:run",
    "load": "infra.bench.load:run",
    "routed": "infra.bench.routed:run",
    "stats": "infra.bench.stats:run",
}


def register(sub) -> None:
    p = sub.add_parser("bench", help="run benchmarks and write artifacts/bench/summary.{json,md}")
    p.add_argument("names", nargs="*", help=f"subset of: {', '.join(BENCHMARKS)}")
    p.add_argument("--out", default=str(ROOT / "artifacts" / "bench"))
    p.set_defaults(func=run)


def _resolve(target: str):
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


def _run_isolated(target: str) -> dict:
    """Run one benchmark in a fresh interpreter: load times and memory figures (Kiwi, the router,
    the catalog index) are only true in a process that has not loaded them already."""
    with tempfile.TemporaryDirectory(prefix="sos1379-bench-") as tmp:
        out = Path(tmp) / "figures.json"
        code = ("import json, sys; from infra.cli.bench import _resolve; "
                f"json.dump(_resolve({target!r})(), open(sys.argv[1], 'w'), ensure_ascii=False, default=str)")
        done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"exit {done.returncode}: see the benchmark's output above")
        return json.loads(out.read_text(encoding="utf-8"))


def run(args) -> int:
    names = args.names or list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        return 2
    results, failed = {}, False
    for name in names:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        try:
            figures = _run_isolated(BENCHMARKS[name])
            results[name] = {"ok": True, "seconds": round(time.perf_counter() - start, 1), "figures": figures}
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            failed = True
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                             "trace": traceback.format_exc(limit=5)}
        print(json.dumps(results[name], indent=2, ensure_ascii=False, default=str), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str),
                                      encoding="utf-8")
    (out / "summary.md").write_text(_markdown(results), encoding="utf-8")
    print(f"wrote {out / 'summary.json'} and {out / 'summary.md'}")
    return 1 if failed else 0


def _flatten(prefix: str, value, rows: list) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, rows)
    elif isinstance(value, list):
        rows.append((prefix, json.dumps(value, ensure_ascii=False, default=str)[:200]))
    else:
        rows.append((prefix, value))


def _markdown(results: dict) -> str:
    lines = ["# SOS 1379 benchmark summary", ""]
    for name, result in results.items():
        lines += [f"## {name}", ""]
        if not result["ok"]:
            lines += [f"FAILED: {result['error']}", ""]
            continue
        lines += [f"({result['seconds']} s)", "", "| figure | value |", "| --- | --- |"]
        rows: list = []
        _flatten("", result["figures"], rows)
        lines += [f"| {k} | {v} |" for k, v in rows]
        lines.append("")
    return "\n".join(lines)
