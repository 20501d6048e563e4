"""``python -m infra.bench.motoproc``: a moto server with the local stack's fixes
(``infra.localstack.motofast``) on a free port of 127.0.0.1; prints the port, serves until its
standard input closes (``infra.bench.moto_process``)."""
from __future__ import annotations

import logging
import sys


def main() -> None:
    from moto.server import ThreadedMotoServer

    from infra.localstack.motofast import moto_fixes

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with moto_fixes():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            print(server.get_host_and_port()[1], flush=True)
            sys.stdin.read()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
