"""Institute profiles: one per directory code, valid, and overridable without code changes."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sos1379.directory import load_directory
from sos1379.routing import Router, RoutingInput
from sos1379.routing.profiles import Profile, load_profiles, profiles_dir
from sos1379.settings import get_settings


def test_every_directory_code_has_a_profile_when_loaded():
    profiles = load_profiles()
    assert set(profiles) == set(load_directory())


def test_partners_are_handoff_profiles_and_institutes_are_not():
    profiles = load_profiles()
    for code, inst in load_directory().items():
        assert profiles[code].handoff == (inst.kind == "partner"), code


def test_profiles_carry_korean_and_english_problem_descriptions():
    for code, profile in load_profiles().items():
        assert profile.summary_ko and profile.summary_en, code
        assert len(profile.problems_ko) >= 3, code
        assert len(profile.problems_en) >= 2, code
        assert all(0.0 <= v <= 1.0 for v in profile.service_types.values()), code


def test_profile_regions_are_known_region_codes():
    from sos1379.korea import REGIONS

    known = {r.code for r in REGIONS}
    for code, profile in load_profiles().items():
        assert set(profile.regions) <= known, code


def test_env_var_points_the_router_at_an_operator_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for code in ("KITECH", "KFRI", "BIZINFO1357"):
        shutil.copy(profiles_dir() / f"{code}.toml", tmp_path / f"{code}.toml")
    # an operator teaches KFRI a new problem phrase, no code change
    path = tmp_path / "KFRI.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "problems_ko = [", 'problems_ko = [\n  "콤부차 병이 터지고 탄산이 과해요",', 1
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("SOS1379_PROFILES_DIR", str(tmp_path))
    get_settings.cache_clear()  # settings are read once per process
    profiles = load_profiles()
    assert set(profiles) == {"KITECH", "KFRI", "BIZINFO1357"}
    directory = {c: i for c, i in load_directory().items() if c in profiles}
    router = Router(profiles, directory)
    result = router.route(RoutingInput(title="콤부차 병 터짐", text="콤부차 탄산이 과해서 병이 터져요", service_type="tech_consult"))
    assert result.institutes[0].code == "KFRI"


def test_a_profile_whose_code_differs_from_its_file_name_is_rejected(tmp_path: Path):
    (tmp_path / "KIST.toml").write_text('code = "KIMS"\n', encoding="utf-8")
    with pytest.raises(ValueError):
        load_profiles(tmp_path)


def test_unknown_profile_keys_are_rejected():
    with pytest.raises(ValueError):
        Profile(code="X", problem_ko=["typo in the key name"])
