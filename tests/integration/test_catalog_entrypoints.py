"""The catalog's entry points: the scheduled Lambda handler and ``sos1379 catalog sync/search``."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from infra.cli import main
from infra.standins.generator import SCALES
from tests.integration.test_catalog_sync import SCALE, catalog  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]


def load_handler():
    spec = importlib.util.spec_from_file_location("sync_catalog_handler", ROOT / "functions/sync_catalog/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Context:
    function_name = "SyncCatalogFunction"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:SyncCatalogFunction"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def test_scheduled_event_syncs_the_named_source_and_publishes_the_index_when_invoked(catalog):  # noqa: F811
    handler = load_handler()
    event = json.loads((ROOT / "events/catalog/schedule_zeus.json").read_text())
    result = handler.lambda_handler(event, Context())
    assert result["source"] == "zeus" and result["status"] == "complete" and result["index_rebuilt"]
    assert result["metrics"]["fetched"] == SCALES[SCALE]["zeus"]
    again = handler.lambda_handler(event, Context())
    assert again["metrics"]["changed"] == 0 and not again["index_rebuilt"]


def test_cli_sync_prints_per_source_metrics_as_json_and_search_finds_them(catalog, capsys):  # noqa: F811
    assert main(["catalog", "sync", "--json", "--in-process"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) == {"zeus", "ntis", "patents", "library"}
    assert set(summary["ntis"]) == {"fetched", "changed", "unchanged", "removed", "failed"}
    assert summary["patents"]["fetched"] == SCALES[SCALE]["patents"]
    assert main(["catalog", "sync", "patents", "--json", "--in-process"]) == 0
    assert json.loads(capsys.readouterr().out)["patents"]["changed"] == 0
    assert main(["catalog", "search", "용접 이음부 균열", "--type", "patent", "--json", "--in-process"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits and all(h["type"] == "patent" for h in hits) and "용접" in hits[0]["title"]
    assert any(h["institute"] in {"KITECH", "KIMS"} for h in hits[:3])
