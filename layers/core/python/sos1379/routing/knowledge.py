"""Institute knowledge: public facts about what each institute really does, kept as TOML data.

A profile (``sos1379.routing.profiles``) says how SMEs describe an institute's headline field. The
knowledge files say what the institute has actually done and can do, well outside that field: its
research divisions and labs, flagship technologies, notable equipment, SME support programmes and
typical problems it solved for companies. Each fact is written in Korean and English (our wording)
and carries the public page it comes from, so a referral's reasons can cite it.

One file per institute code (``<CODE>.toml``) in ``sos1379/data/knowledge``;
``SOS1379_KNOWLEDGE_DIR`` points the router at an operator-maintained copy instead (the folder
replaces the package's; a code without a file routes on its profile alone). Files declare
``schema_version``; the loader rejects versions it does not know, unknown keys and facts without
a source, so an edit error fails loudly at load time rather than silently routing worse.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .profiles import load_code_files

SCHEMA_VERSION = 1
_PACKAGE_KNOWLEDGE = Path(__file__).resolve().parent.parent / "data" / "knowledge"

FactKind = Literal["division", "technology", "equipment", "programme", "case"]

FACT_LABELS: dict[str, str] = {
    "division": "research division",
    "technology": "technology",
    "equipment": "equipment",
    "programme": "SME programme",
    "case": "past case",
}


class Fact(BaseModel):
    """One public fact: what the institute has or did, in both languages, with its source page."""

    model_config = ConfigDict(extra="forbid")

    kind: FactKind
    ko: str = Field(min_length=4)
    en: str = Field(min_length=4)
    source: str
    # extra search words SMEs would use for this fact (product names, symptoms); optional
    terms: list[str] = Field(default_factory=list)

    @field_validator("source")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("source must be a public http(s) URL")
        return value


class InstituteKnowledge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int
    code: str
    reviewed: str = ""  # ISO date of the last review of the file
    facts: list[Fact] = Field(default_factory=list)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"unsupported knowledge schema_version {value} (this code reads {SCHEMA_VERSION})")
        return value


def knowledge_dir() -> Path:
    from ..settings import get_settings

    return Path(get_settings().routing.knowledge_dir or _PACKAGE_KNOWLEDGE)


def load_knowledge(directory: Path | None = None) -> dict[str, InstituteKnowledge]:
    """All ``*.toml`` knowledge files in ``directory`` (default: ``knowledge_dir()``), keyed by code."""
    return load_code_files(directory or knowledge_dir(), InstituteKnowledge, "knowledge file")


def source_site(url: str) -> str:
    """The publishing site of a source URL (``www.``/``m.``/``amp.`` hosts of one paper are one
    site; ``*.co.kr``-style hosts keep three labels). The unit of the leave-site-out evaluation:
    a fact from the site a case was reported on is left out when that case is scored."""
    parts = (urlparse(url).hostname or "").lower().split(".")
    if len(parts) >= 3 and parts[-1] == "kr" and parts[-2] in {"co", "or", "re", "go", "ne", "ac"}:
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


# a news article id in a path: 8+ digits (dates and serials) or 10 capitals and digits
_NEWS_ID = re.compile(r"\d{8,}|\b(?=[0-9]*[A-Z])(?=[A-Z]*[0-9])[A-Z0-9]{10}\b")
# query parameters that name the article on board-style pages (articleView.html?idxno=...)
_ID_PARAMS = frozenset({"idxno", "idx", "no", "id", "pid", "arcid", "articleid", "key", "ud", "seq", "wr_id",
                        "list_no", "uid", "ncode", "nid", "nttid", "aid", "newsid", "news_id", "artid"})
# query parameters that say how a page was reached, not which page it is
_NAVIGATION = frozenset({"page", "pageindex", "redir", "delcode", "menuno", "mcode", "replyall", "sc_order_by",
                         "sca", "year", "month", "list_type", "amode", "cate_code", "find", "search", "sdate",
                         "edate", "ymd"})


def page_key(url: str) -> str:
    """One story page however it is linked: the source site plus the page's article id (an id
    parameter such as ``idxno``, else a news id in its path, else a 5+ digit last path segment), else
    its path and query without navigation parameters. ``m.``/``www.``/amp links and tracking
    parameters of one article share a key."""
    parsed = urlparse(url)
    path = parsed.path.rstrip("/")
    params = [kv.split("=", 1) if "=" in kv else ["", kv] for kv in parsed.query.split("&") if kv]
    ids = ([v for k, v in params if (k.lower() in _ID_PARAMS or (not k and v.isdigit())) and v][:1]
           or _NEWS_ID.findall(path)[-1:] or re.findall(r"(\d{5,})(?:\.\w+)?$", path))
    if ids:
        return f"{source_site(url)}|{ids[0]}"
    query = "&".join(sorted(f"{k}={v}" for k, v in params if k.lower() not in _NAVIGATION))
    return f"{source_site(url)}|{re.sub('amp', '', path, flags=re.IGNORECASE)}?{query}"  # articleViewAmp.html


def without_sites(knowledge: dict[str, InstituteKnowledge], sites: set[str]) -> dict[str, InstituteKnowledge]:
    """The knowledge with every fact whose source is on one of ``sites`` removed."""
    return {code: item.model_copy(update={"facts": [f for f in item.facts if source_site(f.source) not in sites]})
            for code, item in knowledge.items()}
