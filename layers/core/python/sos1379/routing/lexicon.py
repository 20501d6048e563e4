"""Query expansion: the everyday words SMEs use -> the technical terms institutes use.

An SME writes "녹이 슬어요" or "it smells"; profiles and public facts say "부식" and "VOC". The
lexicon (``sos1379/data/lexicon.toml``, reviewed data written from general domain knowledge) maps
surface forms to technical terms; the router adds the terms of every entry a case matches to its
query with a reduced weight (``RouterConfig.expansion_weight``), so the technical words can find the
right profile lines and facts without outweighing what the SME actually wrote.

Matching is deliberately literal and explainable:

- a Hangul form matches anywhere in the case text with whitespace removed ("녹이슬" matches
  "녹이 슬어서"), so forms are written specific enough not to be a piece of common words;
- a Latin form matches a whole word, with a light inflection (``s``, ``es``, ``ed``, ``d``, ``ing``,
  ``y``): "crack" matches "cracks" and "cracking", "rust" matches "rusty", not "trust".

``SOS1379_LEXICON_PATH`` points at an edited copy (replaces the package's file). Files declare
``schema_version``; the loader rejects unknown versions and keys, and entries without words or terms.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sos1379.text import normalize

SCHEMA_VERSION = 1
_PACKAGE_LEXICON = Path(__file__).resolve().parent.parent / "data" / "lexicon.toml"
_HANGUL_RE = re.compile(r"[\uac00-\ud7a3]")
_SPACE_RE = re.compile(r"\s+")


class LexiconEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    words: list[str] = Field(min_length=1)
    terms: list[str] = Field(min_length=1)

    @field_validator("words")
    @classmethod
    def _usable_words(cls, value: list[str]) -> list[str]:
        out = []
        for word in value:
            form = normalize(word).strip()
            if not form:
                raise ValueError("a lexicon word must not be empty")
            if _HANGUL_RE.search(form):
                form = _SPACE_RE.sub("", form)
            out.append(form)
        return out


class LexiconFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int
    reviewed: str = ""
    entries: list[LexiconEntry] = Field(default_factory=list)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"unsupported lexicon schema_version {value} (this code reads {SCHEMA_VERSION})")
        return value


@dataclass(frozen=True)
class Expansion:
    """What a case's text matched: the surface forms found and the technical terms they add."""

    matched: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms)


class Lexicon:
    """Compiled lexicon: ``expand(text)`` returns the technical terms a case's wording implies."""

    def __init__(self, entries: list[LexiconEntry] | None = None) -> None:
        self.entries = list(entries or [])

    def __len__(self) -> int:
        return len(self.entries)

    @cached_property
    def _compiled(self) -> tuple[list[tuple[str, int]], re.Pattern[str] | None, dict[str, list[int]]]:
        """Hangul forms with their entry, one regex over every Latin form, and Latin form -> entries."""
        hangul: list[tuple[str, int]] = []
        latin: dict[str, list[int]] = {}
        for i, entry in enumerate(self.entries):
            for word in entry.words:
                if _HANGUL_RE.search(word):
                    hangul.append((word, i))
                else:
                    latin.setdefault(word, []).append(i)
        pattern = None
        if latin:
            alts = "|".join(re.escape(w) for w in sorted(latin, key=len, reverse=True))
            pattern = re.compile(rf"(?<![a-z0-9])({alts})(?:s|es|ed|d|ing|y)?(?![a-z0-9])")
        return hangul, pattern, latin

    def expand(self, text: str) -> Expansion:
        norm = normalize(text)
        compact = _SPACE_RE.sub("", norm)
        hangul, pattern, latin = self._compiled
        hits: dict[int, str] = {}  # entry -> the first form that matched it
        for word, i in hangul:
            if i not in hits and word in compact:
                hits[i] = word
        if pattern is not None:
            for m in pattern.finditer(norm):
                for i in latin[m.group(1)]:
                    hits.setdefault(i, m.group(0))
        matched: list[str] = []
        terms: list[str] = []
        for i in sorted(hits):
            matched.append(hits[i])
            terms.extend(t for t in self.entries[i].terms if t not in terms)
        return Expansion(tuple(matched), tuple(terms))


def lexicon_path() -> Path:
    from ..settings import get_settings

    return Path(get_settings().routing.lexicon_path or _PACKAGE_LEXICON)


def load_lexicon(path: Path | None = None) -> Lexicon:
    """The lexicon at ``path`` (default: ``lexicon_path()``). A missing file raises: an operator's
    path with a typo must fail loudly, not route without expansion. ``Lexicon()`` is the empty one."""
    target = path or lexicon_path()
    with target.open("rb") as fh:
        data = LexiconFile(**tomllib.load(fh))
    return Lexicon(data.entries)
