"""``sos1379 demo``: submit the sample cases in events/cases to the running stack and show what
happened to each (status, referral, history)."""
from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def register(sub) -> None:
    p = sub.add_parser("demo", help="submit the sample cases in events/cases to the running local stack")
    p.add_argument("--wait", type=float, default=45.0, help="seconds to wait for each case to be routed")
    p.add_argument("--json", action="store_true", help="print one JSON object per case")
    p.set_defaults(func=run)


def run(args) -> int:
    import requests

    from infra.localstack.state import StackNotRunning, load_stack_state

    try:
        api = load_stack_state()["api_url"].rstrip("/")
    except StackNotRunning as exc:
        print(exc, file=sys.stderr)
        return 1
    outcomes = []
    for path in sorted((ROOT / "events" / "cases").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        resp = requests.post(f"{api}/cases", json=body, timeout=10,
                             headers={"Idempotency-Key": f"demo-{path.stem}-{uuid.uuid4().hex[:8]}"})
        if resp.status_code != 201:
            outcomes.append({"sample": path.name, "http": resp.status_code, "error": resp.json()})
            continue
        receipt = resp.json()
        view = _wait_for_routing(api, receipt, args.wait)
        outcomes.append({"sample": path.name, "case_number": receipt["case_number"], "status": view["status"],
                         "referrals": [r["institute"] for r in view.get("referrals", [])],
                         "history": [e["type"] for e in view.get("history", [])],
                         "tracking_url": receipt.get("tracking_url")})
    for outcome in outcomes:
        if args.json:
            print(json.dumps(outcome, ensure_ascii=False))
        else:
            print(f"{outcome['sample']}: case {outcome.get('case_number', '-')} -> {outcome.get('status')}"
                  f" referrals={outcome.get('referrals')} history={outcome.get('history')}")
            if outcome.get("tracking_url"):
                print(f"    track: {outcome['tracking_url']}")
    return 0 if all("error" not in o for o in outcomes) else 1


def _wait_for_routing(api: str, receipt: dict, wait: float) -> dict:
    import requests

    deadline = time.monotonic() + wait
    while True:
        view = requests.get(f"{api}/cases/{receipt['case_id']}", timeout=10,
                            headers={"X-Tracking-Token": receipt["tracking_token"]}).json()
        if view["status"] != "received" or time.monotonic() > deadline:
            return view
        time.sleep(0.5)
