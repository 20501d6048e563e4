"""The cold-import benchmark's platform floor: boto3 plus the entry module's own third-party
imports, never the project's (that is what the ratio measures)."""
from __future__ import annotations

from infra.bench.imports import floor_statement, targets


def test_the_floor_keeps_third_party_imports_and_drops_the_projects_when_a_handler_is_read(tmp_path):
    entry = tmp_path / "handler.py"
    entry.write_text("from __future__ import annotations\nimport os, sos1379.store\n"
                     "from aws_lambda_powertools import Logger\nfrom sos1379.batch import X\nfrom . import y\n"
                     "def f():\n    import pandas\n", encoding="utf-8")
    assert floor_statement(entry) == "import boto3; import os; from aws_lambda_powertools import Logger"


def test_every_function_and_the_api_are_benchmarked_when_targets_are_listed():
    names = set(targets())
    assert "ApiFunction (app.py)" in names and {"relay_outbox", "route_case", "notify_sme"} <= names


def test_timed_interpreters_read_the_projects_bytecode_from_a_private_prefix_when_bytecode_is_on(monkeypatch, tmp_path):
    from infra.bench import imports

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setattr(imports, "_pycache_prefix", str(tmp_path))
    env = imports._env(tmp_path)
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path) and "PYTHONDONTWRITEBYTECODE" not in env
    monkeypatch.setattr(imports, "_pycache_prefix", None)
    assert "PYTHONPYCACHEPREFIX" not in imports._env(tmp_path) or imports._env(tmp_path)["PYTHONPYCACHEPREFIX"] != str(tmp_path)


def test_the_first_record_statements_parse_the_sample_records_when_run():
    from infra.bench import imports

    for name, statement in imports.FIRST_RECORD.items():
        imports._run(statement, imports.ROOT / "functions" / name)  # check=True: raises if it fails
