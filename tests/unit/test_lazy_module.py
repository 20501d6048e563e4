"""sos1379.lazy: a blueprint's service module loads on first use, and patches reach the module."""
from __future__ import annotations

import sys

from sos1379.lazy import lazy_module


def test_the_module_loads_on_first_attribute_read_when_it_was_not_loaded(monkeypatch, tmp_path):
    (tmp_path / "lazy_probe_module.py").write_text("VALUE = 42\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_probe_module", raising=False)
    probe = lazy_module("lazy_probe_module")
    assert "lazy_probe_module" not in sys.modules
    assert probe.VALUE == 42 and "lazy_probe_module" in sys.modules
    monkeypatch.delitem(sys.modules, "lazy_probe_module")


def test_setting_an_attribute_patches_the_module_itself_when_monkeypatched(monkeypatch):
    import sos1379.directory as real

    proxy = lazy_module("sos1379.directory")
    monkeypatch.setattr(proxy, "load_directory", lambda: "patched")
    assert real.load_directory() == "patched"
    monkeypatch.undo()
    assert real.load_directory() != "patched"
