"""``python -m infra.standins --scale small --port 9400``: run the stand-ins until Ctrl-C."""
from __future__ import annotations

import argparse
import json
import time

from . import start_standins


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.standins")
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium", "full"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    handle = start_standins(args.scale, args.port)
    print(json.dumps(handle.env(), indent=2), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        handle.stop()


if __name__ == "__main__":
    main()
