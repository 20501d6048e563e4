"""Cold import of every Lambda function (and the API's app.py) against a bare ``import boto3``
measured in the same run, each in fresh interpreters (median CPU time of ``runs`` rounds, every
statement once per round).

Each target is also timed against its own platform floor: ``import boto3`` plus the third-party
imports its entry module makes itself (Chalice for app.py, Powertools' logger, batch or
idempotency for a worker), so the second ratio is what the project's own code adds.

Besides the time, each target reports what it loaded that its path should not need (the router,
the catalog, the notifier) and its heaviest project modules from ``python -X importtime``
(cumulative microseconds of one extra run), which is where to look when a ratio grows.

The project's modules are timed from bytecode, as Lambda loads them: the packaged layer and
functions carry .pyc files compiled for the runtime (infra/package.py), and site-packages here is
compiled too, so timing the project's modules from source (as a checkout does when
``PYTHONDONTWRITEBYTECODE`` is set) would charge it a compile that no cold start pays. The bytecode
goes to a temporary ``PYTHONPYCACHEPREFIX``, written by one untimed import of each statement;
``IMPORTS_BENCH_BYTECODE=0`` times from source instead.

Most functions load boto3 with their first AWS client (sos1379.aws), not at import, so their import
alone can measure below a bare ``import boto3``: ``with_boto3_ms`` is the import followed by
``import boto3``, what every function has loaded once its first event has talked to AWS (the
honest cold-start figure). Where a function builds on its first record what it needs for every
record (route_case and notify_sme: the message model and the institute directory's records are
built with ``defer_build``), ``first_record_ms`` also parses the sample records of events/sqs and
reads the directory: the cost moved, not removed, from the import to the first event (route_case's
first record also builds the referral message and loads the router, which dwarfs all of this)."""
from __future__ import annotations

import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY_PACKAGES = ("sos1379.routing", "sos1379.catalog", "sos1379.notify")
SAMPLE_RECORDS = ROOT / "events" / "sqs" / "notify_case_referred.json"
#: functions that parse every record into a model built on first use: import + first record
FIRST_RECORD = {name: ("import handler, json, boto3; from sos1379.messages import CaseMessage; "
                       f"[CaseMessage.from_body(r['body']) for r in json.load(open({str(SAMPLE_RECORDS)!r}))['Records']]; "
                       "from sos1379.directory import load_directory, load_services; load_directory(); load_services()")
                for name in ("notify_sme", "route_case")}
#: where the timed interpreters find the project's bytecode (None: compile from source)
_pycache_prefix: str | None = None


def floor_statement(entry: Path) -> str:
    """``import boto3`` plus the module-level third-party imports of ``entry`` (not the project's)."""
    lines = ["import boto3"]
    for node in ast.parse(entry.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names = [a for a in node.names if a.name.split(".")[0] != "sos1379"]
            if names:
                lines.append(ast.unparse(ast.Import(names=names)))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and \
                (node.module or "").split(".")[0] not in ("sos1379", "__future__"):
            lines.append(ast.unparse(node))
    return "; ".join(lines)


def targets() -> dict[str, tuple[str, Path]]:
    """name -> (import statement, working directory): the API and every function's handler."""
    found = {"ApiFunction (app.py)": ("import app", ROOT)}
    for handler in sorted((ROOT / "functions").glob("*/handler.py")):
        found[handler.parent.name] = ("import handler", handler.parent)
    return found


def _env(cwd: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/core/python"), str(cwd), str(ROOT)]),
           "POWERTOOLS_METRICS_DISABLED": "true", "AWS_DEFAULT_REGION": "ap-northeast-2"}
    if _pycache_prefix:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = _pycache_prefix
    return env


def _run(code: str, cwd: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *flags, "-c", code], cwd=cwd, env=_env(cwd), capture_output=True,
                          text=True, check=True)


def _cpu_ms(statement: str, cwd: Path) -> float:
    code = f"import time; t=time.process_time(); {statement}; print(time.process_time()-t)"
    return float(_run(code, cwd).stdout.strip().splitlines()[-1]) * 1000


def import_ms(statement: str, cwd: Path, runs: int = 5) -> float:
    """Median CPU time of ``statement`` in ``runs`` fresh interpreters, in milliseconds.

    CPU, not wall, time: an import is CPU-bound (Lambda runs it on its own vCPU), and on a shared
    machine the wall time mostly measures who else is running (``import boto3`` took 0.9 to 1.6 s
    wall, 0.18 to 0.21 s CPU, in one run beside a test suite)."""
    return round(statistics.median(_cpu_ms(statement, cwd) for _ in range(runs)), 1)


def interleaved_ms(statements: dict[str, tuple[str, Path]], runs: int = 5) -> dict[str, float]:
    """Median CPU time of each statement, measured round by round (one fresh interpreter per
    statement per round) rather than statement by statement: even CPU time drifts with the
    machine's load (cache and frequency), and a drift then moves a target and its floor alike
    (measured one after the other, the same floor read 1.06x in one run and 1.26x in the next)."""
    samples: dict[str, list[float]] = {key: [] for key in statements}
    for _ in range(runs):
        for key, (statement, cwd) in statements.items():
            samples[key].append(_cpu_ms(statement, cwd))
    return {key: round(statistics.median(values), 1) for key, values in samples.items()}


def loaded_heavy(statement: str, cwd: Path) -> list[str]:
    """The heavy packages (router, catalog, notifier) that ``statement`` loads."""
    code = (f"import sys; {statement}; import json; "
            f"print(json.dumps(sorted({{p for p in {HEAVY_PACKAGES!r} if any(m == p or m.startswith(p + '.') "
            "for m in sys.modules)})))")
    return json.loads(_run(code, cwd).stdout.strip().splitlines()[-1])


def heaviest_modules(statement: str, cwd: Path, top: int = 5) -> list[dict]:
    """The project modules with the largest cumulative import time (``-X importtime``)."""
    rows = []
    for line in _run(statement, cwd, "-X", "importtime").stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip().startswith("sos1379.") and parts[1].strip().isdigit():
            rows.append({"module": parts[2].strip(), "cumulative_us": int(parts[1])})
    return sorted(rows, key=lambda r: -r["cumulative_us"])[:top]


def cold_imports(runs: int = 5, bytecode: bool | None = None) -> dict:
    global _pycache_prefix
    if bytecode is None:
        bytecode = os.environ.get("IMPORTS_BENCH_BYTECODE", "1") != "0"
    with tempfile.TemporaryDirectory(prefix="sos1379-pycache-") as prefix:
        _pycache_prefix = prefix if bytecode else None
        try:
            return _cold_imports(runs, bytecode)
        finally:
            _pycache_prefix = None


def _cold_imports(runs: int, bytecode: bool) -> dict:
    found = targets()
    statements: dict[str, tuple[str, Path]] = {"": ("import boto3", ROOT)}
    for name, (statement, cwd) in found.items():
        entry = cwd / ("app.py" if statement == "import app" else "handler.py")
        statements[name] = (statement, cwd)
        statements[f"{name} floor"] = (floor_statement(entry), cwd)
        statements[f"{name} with boto3"] = (f"{statement}; import boto3", cwd)
        if name in FIRST_RECORD:
            statements[f"{name} first record"] = (FIRST_RECORD[name], cwd)
    if bytecode:
        for statement, cwd in statements.values():
            _run(statement, cwd)  # writes the bytecode, untimed
    times = interleaved_ms(statements, runs)
    floor = times[""]
    results = {"bare_import_boto3_ms": floor, "bytecode": bytecode, "functions": {}}
    for name, (statement, cwd) in found.items():
        ms, platform = times[name], times[f"{name} floor"]
        results["functions"][name] = {"import_ms": ms, "ratio_vs_boto3": round(ms / floor, 2),
                                      "platform_floor_ms": platform, "ratio_vs_platform": round(ms / platform, 2),
                                      "with_boto3_ms": times[f"{name} with boto3"],
                                      "with_boto3_ratio_vs_boto3": round(times[f"{name} with boto3"] / floor, 2),
                                      "loads": loaded_heavy(statement, cwd),
                                      "heaviest": heaviest_modules(statement, cwd)}
        if name in FIRST_RECORD:
            first = times[f"{name} first record"]
            results["functions"][name].update(first_record_ms=first, first_record_ratio_vs_boto3=round(first / floor, 2))
    ratios = [f["ratio_vs_boto3"] for f in results["functions"].values()]
    results["max_ratio_vs_boto3"] = max(ratios)
    results["max_with_boto3_ratio_vs_boto3"] = max(f["with_boto3_ratio_vs_boto3"] for f in results["functions"].values())
    return results


def run(runs: int = 5) -> dict:
    return cold_imports(runs)


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(), indent=2, ensure_ascii=False))
