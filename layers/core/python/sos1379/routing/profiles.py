"""Institute profiles: the routing knowledge, kept as TOML data operators edit without code changes.

One file per institute code (``<CODE>.toml``) in ``sos1379/data/profiles``; ``SOS1379_PROFILES_DIR``
points the router at an operator-maintained copy instead. The directory facts (names, kind,
fields) come from ``sos1379.directory``; a profile adds how SMEs describe the problems the
institute solves, its services, equipment classes, industries and regions.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

CodedModel = TypeVar("CodedModel", bound=BaseModel)

_PACKAGE_PROFILES = Path(__file__).resolve().parent.parent / "data" / "profiles"


class Profile(BaseModel):
    """One institute's routing profile. Every list item becomes a small searchable facet."""

    model_config = ConfigDict(extra="forbid")

    code: str
    summary_ko: str = ""
    summary_en: str = ""
    keywords_ko: list[str] = Field(default_factory=list)
    keywords_en: list[str] = Field(default_factory=list)
    problems_ko: list[str] = Field(default_factory=list)
    problems_en: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    equipment: list[str] = Field(default_factory=list)
    industries: list[str] = Field(default_factory=list)
    # other names SMEs use for the institute (abbreviations, old names); the code and the
    # directory names count too. Naming an institute in a case is evidence for it.
    aliases: list[str] = Field(default_factory=list)
    # stable region codes of sos1379.korea (e.g. "daejeon"); weak evidence only
    regions: list[str] = Field(default_factory=list)
    # affinity 0..1 to each intake service type (tech_consult, equipment, tech_transfer, ...)
    service_types: dict[str, float] = Field(default_factory=dict)
    # partners (BIZINFO1357, CCEI) take non-technology needs: ranking first means "handoff"
    handoff: bool = False


def profiles_dir() -> Path:
    from ..settings import get_settings

    return Path(get_settings().routing.profiles_dir or _PACKAGE_PROFILES)


def load_code_files(folder: Path, model: type[CodedModel], what: str) -> dict[str, CodedModel]:
    """Every ``<CODE>.toml`` in ``folder`` parsed as ``model``, keyed by code; a file whose
    ``code`` is not its name is an edit error and fails the load (``what`` names the file kind)."""
    out: dict[str, CodedModel] = {}
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as fh:
            item = model(**tomllib.load(fh))
        if item.code != path.stem:
            raise ValueError(f"{what} {path.name} declares code {item.code!r}")
        out[item.code] = item
    return out


def load_profiles(directory: Path | None = None) -> dict[str, Profile]:
    """All ``*.toml`` profiles in ``directory`` (default: ``profiles_dir()``), keyed by code."""
    return load_code_files(directory or profiles_dir(), Profile, "profile")
