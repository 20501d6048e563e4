"""Map a source's free-text institution name to our institute code.

Sources write owners as they like: "한국생산기술연구원 뿌리산업기술연구소", "KITECH",
"Korea Basic Science Institute (KBSI) 서울센터", or a former name. Anything that is not one of the
directory's institutes (universities, companies) maps to None and stays searchable, just without
a code.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from ..korea import normalize_region

# Former or informal names still found in older records.
_EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "KIMS": ("재료연구소", "재료연구원"),  # KIMM's affiliate until 2020
    "KFE": ("국가핵융합연구소", "National Fusion Research Institute", "NFRI"),  # until 2020
    "KIT": ("한국화학연구원 부설 안전성평가연구소",),
    "KBSI": ("기초과학지원연구원",),
    "WIKIM": ("김치연구소",),
    "NFEC": ("연구장비진흥센터",),
    "INNOPOLIS": ("특구재단", "특구진흥재단"),
}
_NON_WORD = re.compile(r"[\s()\[\]{}·.,/\-_]+")


def _norm(text: str) -> str:
    return _NON_WORD.sub("", unicodedata.normalize("NFC", text or "").casefold())


class InstituteResolver:
    """Longest-alias match of names; codes only as whole words (so "KIT" never matches "KITECH")."""

    def __init__(self, institutes: Iterable[tuple[str, str, str]]) -> None:
        names: list[tuple[str, str]] = []
        codes: dict[str, str] = {}
        for code, name_ko, name_en in institutes:
            codes[code.upper()] = code
            for alias in (name_ko, name_en, *_EXTRA_ALIASES.get(code, ())):
                if alias and not alias.isupper():
                    names.append((_norm(alias), code))
                elif alias:
                    codes[alias.upper()] = code
        self._names = sorted(names, key=lambda item: -len(item[0]))
        self._code_re = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(
            sorted((re.escape(c) for c in codes), key=len, reverse=True)) + r")(?![A-Za-z0-9])") if codes else None
        self._codes = codes
        self._known: dict[str, str | None] = {}  # a catalog names a few thousand owners many times

    def resolve(self, institution: str | None) -> str | None:
        if not institution:
            return None
        if institution not in self._known:
            if len(self._known) >= 50_000:
                self._known.clear()
            self._known[institution] = self._resolve(institution)
        return self._known[institution]

    def _resolve(self, institution: str) -> str | None:
        norm = _norm(institution)
        for alias, code in self._names:
            if alias and alias in norm:
                return code
        if self._code_re is not None:
            match = self._code_re.search(institution.upper())
            if match:
                return self._codes[match.group(1)]
        return None


@lru_cache(maxsize=1)
def default_resolver() -> InstituteResolver:
    from ..directory import load_directory

    return InstituteResolver((i.code, i.name_ko, i.name_en) for i in load_directory().values()
                             if i.kind != "partner")


def region_of(address: str | None) -> str | None:
    """The 시·도 code (``daejeon``) an address starts with, or None."""
    if not address:
        return None
    first = address.strip().split()[0] if address.strip() else ""
    for candidate in (first, first[:2]):
        try:
            return normalize_region(candidate).code
        except ValueError:
            continue
    return None
