"""The institute directory and service types: data files that operators edit without a code change.

Defaults ship in ``sos1379/data``; ``SOS1379_DATA_DIR`` points at an operator-maintained copy."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

# defer_build: the records are built when the data files are first read, not when a cold start
# imports this module (every path that routes, notifies or serves the API does)
_DEFERRED = ConfigDict(defer_build=True)

_PACKAGE_DATA = Path(__file__).parent / "data"


def data_dir() -> Path:
    from .settings import get_settings

    return Path(get_settings().routing.data_dir or _PACKAGE_DATA)


class Institute(BaseModel):
    model_config = _DEFERRED

    code: str
    kind: str  # gri (research institute) | agency | partner
    name_ko: str
    name_en: str
    fields_ko: list[str]
    fields_en: list[str]
    receives_referrals: bool = True

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ko


class ServiceType(BaseModel):
    model_config = _DEFERRED

    code: str
    name_ko: str
    name_en: str
    description_ko: str
    description_en: str
    resolution_target_business_days: int


@lru_cache(maxsize=1)
def load_directory() -> dict[str, Institute]:
    raw = json.loads((data_dir() / "institutes.json").read_text(encoding="utf-8"))
    return {row["code"]: Institute(**row) for row in raw["institutes"]}


@lru_cache(maxsize=1)
def load_services() -> dict[str, ServiceType]:
    raw = json.loads((data_dir() / "services.json").read_text(encoding="utf-8"))
    return {row["code"]: ServiceType(**row) for row in raw["services"]}


def referral_codes() -> list[str]:
    """Codes that get their own referral queue (research institutes and agencies, not partners)."""
    return [code for code, inst in load_directory().items() if inst.receives_referrals]
