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
def _aws_env(url: str):
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="ap-northeast-2")
    from sos1379.aws import reset_clients
    from sos1379.settings import get_settings

    reset_clients()
    get_settings.cache_clear()
    try:
        yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_clients()
        get_settings.cache_clear()


@contextlib.contextmanager
def moto_process():
    """Like :func:`moto_server`, but moto (with the same fixes) runs in a child process, as DynamoDB
    runs outside a Lambda: the benchmark's process then holds only the code measured, so its
    garbage collections walk that code's heap, not moto's tables (a full collection of a heap that
    also holds moto took 35-320 ms and landed on whichever request allocated at that moment), and
    moto does not take the interpreter lock from the code being timed."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen([sys.executable, "-m", "infra.bench.motoproc"], cwd=root, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"moto server process did not start (exit {child.poll()})")
        with _aws_env(f"http://127.0.0.1:{line}") as url:
            yield url
    finally:
        child.stdin.close()  # the child stops when its stdin closes
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


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
    try:
        with _aws_env(f"http://127.0.0.1:{server.get_host_and_port()[1]}") as url:
            yield url
    finally:
        server.stop()
        fixes.close()
