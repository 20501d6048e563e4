"""`sos1379 bench`: each benchmark in its own interpreter, one JSON and one Markdown summary."""
from __future__ import annotations

import json
import os

from infra.cli import bench, main


def fresh_process_figures() -> dict:
    return {"pid": os.getpid(), "kiwi_loaded": "kiwipiepy" in __import__("sys").modules}


def broken() -> dict:
    raise ValueError("boom")


def test_each_benchmark_runs_in_a_fresh_process_and_failures_are_reported_when_run(monkeypatch, tmp_path, capsys):
    import sos1379.text  # noqa: F401 - this process has the analyzer module loaded

    monkeypatch.setattr(bench, "BENCHMARKS", {"fresh": "tests.unit.test_bench_cli:fresh_process_figures",
                                              "broken": "tests.unit.test_bench_cli:broken"})
    assert main(["bench", "--out", str(tmp_path)]) == 1  # one benchmark failed
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["fresh"]["ok"] and summary["fresh"]["figures"]["pid"] != os.getpid()
    assert summary["fresh"]["figures"]["kiwi_loaded"] is False
    assert summary["broken"]["ok"] is False and "exit 1" in summary["broken"]["error"]
    markdown = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "## fresh" in markdown and "FAILED" in markdown


def test_every_registered_benchmark_resolves_to_a_function_outside_the_layer_when_listed():
    for name, target in bench.BENCHMARKS.items():
        assert target.startswith("infra.bench."), (name, target)
        assert callable(bench._resolve(target)), name
