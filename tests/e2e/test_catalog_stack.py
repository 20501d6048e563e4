"""The catalog on the running local stack: the scheduled function fills CatalogTable from the
stand-in sources, ``sos1379 catalog sync`` reruns change nothing, and a Korean search finds
patents and equipment with their institutes from the snapshot in CatalogBucket."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def cli(stack, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SOS1379_STATE_DIR": str(stack.state_dir)}
    code = "import sys; from infra.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)


def test_scheduled_sync_fills_the_catalog_and_a_rerun_changes_nothing_on_the_local_stack(stack):
    invoked = cli(stack, "invoke", "SyncCatalogFunction", "--event", "events/catalog/schedule_patents_full.json")
    assert invoked.returncode == 0, invoked.stderr[-2000:]
    assert '"status": "complete"' in invoked.stdout and '"index_rebuilt": true' in invoked.stdout

    first = cli(stack, "catalog", "sync", "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["zeus"]["changed"] > 100 and summary["patents"]["changed"] == 0  # patents came by schedule

    again = cli(stack, "catalog", "sync", "--json")
    rerun = json.loads(again.stdout.strip().splitlines()[-1])
    assert all(m["changed"] == 0 and m["removed"] == 0 for m in rerun.values())

    found = cli(stack, "catalog", "search", "용접 부위에 균열이 자주 생깁니다", "--json")
    assert found.returncode == 0, found.stderr[-2000:]
    hits = json.loads(found.stdout)["hits"]
    assert {"patent", "equipment"} <= {h["type"] for h in hits}
    assert {"KITECH", "KIMS"} & {h["institute"] for h in hits[:5]}
