"""A sync run raises CPython's gen-0 collection threshold while it lasts and puts it back."""
from __future__ import annotations

import gc
import threading

from sos1379.catalog.sync import fewer_collections


def test_threshold_is_raised_inside_and_restored_after_when_runs_nest_and_overlap():
    before = gc.get_threshold()
    inside: list[tuple[int, ...]] = []
    started, release = threading.Event(), threading.Event()

    def other_run() -> None:
        with fewer_collections(gen0=60_000):
            started.set()
            release.wait(5)

    thread = threading.Thread(target=other_run)
    with fewer_collections(gen0=50_000):
        inside.append(gc.get_threshold())
        thread.start()
        started.wait(5)
        with fewer_collections(gen0=50_000):
            inside.append(gc.get_threshold())
    inside.append(gc.get_threshold())  # the other run still holds it
    release.set()
    thread.join(5)
    assert [t[0] for t in inside] == [max(50_000, before[0])] * 3
    assert all(t[1:] == before[1:] for t in inside)
    assert gc.get_threshold() == before


def test_threshold_is_restored_when_the_run_raises():
    before = gc.get_threshold()
    try:
        with fewer_collections():
            raise RuntimeError("source failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
