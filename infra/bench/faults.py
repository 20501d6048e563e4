"""``sos1379 bench faults``: N submissions through the whole pipeline while 20 % of SQS sends and
5 % of DynamoDB writes fail (throttles, 5xx, timeouts after the write was applied). The promises:
lost cases 0, duplicate referrals 0, duplicate notifications 0. The floor of the same run is the
fault-free pass over a tenth of the cases (the harness' own cost per case without faults).

Environment knobs: ``SOS1379_FAULTS_N`` (default 1000), ``SOS1379_FAULTS_SEED`` (1379)."""
from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(n: int | None = None, seed: int | None = None) -> dict:
    from infra.reliability.pipeline import run_pipeline

    n = n or int(os.environ.get("SOS1379_FAULTS_N", "1000"))
    seed = seed if seed is not None else int(os.environ.get("SOS1379_FAULTS_SEED", "1379"))
    floor = run_pipeline(max(10, n // 10), sqs_rate=0.0, ddb_rate=0.0, seed=seed)
    faulty = run_pipeline(n, sqs_rate=0.2, ddb_rate=0.05, seed=seed)
    per_case_floor = floor["seconds"] / max(1, floor["submissions"])
    per_case = faulty["seconds"] / max(1, faulty["submissions"])
    figures = {
        "promises_kept": (faulty["lost_cases"] == 0 and faulty["duplicate_referrals"] == 0
                          and faulty["sms_duplicates"] == 0 and faulty["email_duplicates"] == 0),
        "with_faults": faulty,
        "floor_without_faults": {k: floor[k] for k in ("submissions", "lost_cases", "duplicate_referrals",
                                                         "sms_duplicates", "email_duplicates", "seconds")},
        "seconds_per_case_ratio_vs_floor": round(per_case / per_case_floor, 2) if per_case_floor else None,
    }
    out = ROOT / "artifacts" / "reliability"
    out.mkdir(parents=True, exist_ok=True)
    (out / "faults.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return figures
