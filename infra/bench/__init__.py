"""Benchmarks: each reports figures as ratios against a floor measured in the same run."""
from __future__ import annotations

import contextlib
import os
import socket
import statistics
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summarize(samples_s: list[float]) -> dict:
    ordered = sorted(samples_s)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered) * 1000, 3),
            "p99_ms": round(p99 * 1000, 3)}


def timed(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


@contextlib.contextmanager
def moto_server():
    """A fresh moto server on 127.0.0.1 with the process's AWS env pointed at it, with the local
    stack's moto fixes: without them moto's transactions and queries cost the table's size, which
    swamps what a benchmark measures (the floor and the service alike)."""
    import logging

    from moto.server import ThreadedMotoServer

    from infra.localstack.motofast import moto_fixes

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    fixes = contextlib.ExitStack()
    fixes.enter_context(moto_fixes())
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # binds a free port itself
    server.start()
    port = server.get_host_and_port()[1]
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="ap-northeast-2")
    from sos1379.aws import reset_clients
    from sos1379.settings import get_settings

    reset_clients()
    get_settings.cache_clear()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        fixes.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_clients()
        get_settings.cache_clear()
