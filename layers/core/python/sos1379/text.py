"""Korean-first text analysis shared by the router and the catalog search.

Both indexes (institute profiles, catalog items) and the queries that hit them must be analysed
by the same function, so it lives here once. ``analyze`` is the project default; the other
analyzers stay available by name (``get_analyzer``) because the routing evaluation measures them
against each other (docs/routing.md has the figures).

Analyzers:

- ``kiwi``: Kiwi morphemes. Korean nouns, roots and stems of verbs/adjectives (particles and
  endings dropped, compounds split by the morphological analyser), English words and codes as
  whole lower-cased tokens with a light plural/-ing/-ed strip so "cracks" meets "crack".
- ``ngram``: Korean character bigrams inside each word (robust to typos, spacing and unknown
  compounds, no dictionary needed) plus the same English tokens.
- ``hybrid``: both streams in one bag, so an exact morpheme match counts and a misspelt or
  oddly spaced word still shares bigrams.

Import is cheap: the Kiwi model (~1 s, ~100 MB) loads on first use, once per process, behind a
lock. Kiwi's native tokenizer holds the GIL on a single text, so concurrent calls serialise but
are safe; ``analyze_many`` uses Kiwi's batch API, whose worker threads run partly outside it.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

Analyzer = Callable[[str], list[str]]

DEFAULT_ANALYZER = "hybrid"

_kiwi: Any = None
_kiwi_lock = threading.Lock()

# Kiwi tags kept as content: general/proper nouns, roots, verb and adjective stems, foreign words
# (SL), hanja (SH), and numbers only when glued to letters (model codes are handled by the regex).
_CONTENT_TAGS = frozenset({"NNG", "NNP", "XR", "VV", "VA", "SL", "SH", "VV-R", "VV-I", "VA-R", "VA-I"})
# Very frequent stems that carry no topic; 하다/되다 and friends appear in every complaint.
_KO_STOP = frozenset(
    {
        "하", "되", "있", "없", "같", "싶", "보", "주", "받", "알", "수", "것", "등", "때", "곳", "중",
        "문의", "요청", "관련", "경우", "부분", "정도", "어떻", "그렇", "이렇", "저희", "회사", "업체",
        "기업", "우리", "제품", "문제", "방법", "도움", "가능", "필요", "지원", "확인", "사용", "생각",
        "고장", "자꾸", "계속", "나", "너무",
    }
)
_EN_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being it its
    this that these those we our us you your they them their he she i me my do does did done have has
    had not no can could would should will shall may might must so than then there here what which who
    whom how why when where any all some each more most very also just only into out up down over about
    after before again per via get got need needs want wants please help hi hello thanks thank regards
    company our product problem issue issues question questions any some one two""".split()
)

_HANGUL = r"\uac00-\ud7a3\u3131-\u318e"
# A token is a run of Hangul, or a run of Latin letters/digits (keeping things like "sus304",
# "ip67", "5g", "co2" whole), with inner "-", "." or "+" allowed between alphanumerics.
_TOKEN_RE = re.compile(r"[\uac00-\ud7a3]+|[a-z0-9]+(?:[-.+][a-z0-9]+)*")
_LATIN_RE = re.compile(r"[a-z0-9]")
_JAMO_RE = re.compile(r"^[\u1100-\u11ff\u3131-\u318e]+$")
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_FULLWIDTH_RE = re.compile("[\uff01-\uff5e\u3000]")
_HANGUL_RE = re.compile(f"[{_HANGUL}]")


def normalize(text: str) -> str:
    """NFC (Hangul typed on macOS arrives decomposed), lower case, full-width ASCII folded.

    Not NFKC: it would turn compatibility jamo (ㅠㅠ, ㅋㅋ) into conjoining jamo that Kiwi then
    reads as nouns.
    """
    text = unicodedata.normalize("NFC", text or "")
    if _FULLWIDTH_RE.search(text):  # rare; translate() with a mapping is slow on every text
        text = text.translate(_FULLWIDTH)
    return text.lower()


def _stem_en(word: str) -> str:
    """A deliberately light English stemmer: enough for plurals and -ing/-ed forms.

    English is the minority language of the cases; a full Snowball stemmer would add a compiled
    dependency for little gain, and over-stemming technical words ("plating" -> "plate") is worse
    than leaving "plating" alone.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if word.endswith("ing") and len(word) > 5:
        return _undouble(word[:-3])
    if word.endswith("ed") and len(word) > 4:
        return _undouble(word[:-2])
    return word


def _undouble(stem: str) -> str:
    # "chipping" -> "chipp" -> "chip"; keep "ll"/"ss"/"zz" ("drilled" -> "drill")
    if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "lsz" and stem[-1] not in "aeiou":
        return stem[:-1]
    return stem


def _latin_tokens(token: str) -> list[str]:
    """An alphanumeric chunk as index terms: the whole chunk and, if joined, its parts."""
    if token.isdigit():
        return []  # bare numbers (dates, quantities) only add noise to the ranking
    out: list[str] = []
    if token not in _EN_STOP and len(token) > 1:
        out.append(_stem_en(token))
    parts = re.split(r"[-.+]", token)
    if len(parts) > 1:
        out.extend(_stem_en(p) for p in parts if len(p) > 1 and not p.isdigit() and p not in _EN_STOP)
    return out


def kiwi_model_path() -> str | None:
    """Where Kiwi's model is. None: the installed ``kiwipiepy_model`` package (local stack, tests,
    CLI). In Lambda that package is left out of the layer: with it (~100 MB) the routing function
    would pass Lambda's 250 MB unzipped limit. There ``KIWI_MODEL_S3_URI`` (s3://bucket/prefix/,
    uploaded by ``make deploy``) is copied once per container into /tmp and used from there."""
    try:
        import kiwipiepy_model  # noqa: F401 - present: Kiwi finds it by itself

        return None
    except ImportError:
        pass
    from .settings import get_settings

    routing = get_settings().routing
    uri = routing.kiwi_model_s3_uri
    if not uri.startswith("s3://"):
        raise RuntimeError("Kiwi's model is missing: install kiwipiepy_model or set KIWI_MODEL_S3_URI")
    return fetch_kiwi_model(uri, routing.kiwi_model_dir)


def fetch_kiwi_model(uri: str, directory: str) -> str:
    """Copy every object under the S3 prefix ``uri`` into ``directory`` (skipping files already
    there with the same size: a warm container or a retried cold start downloads nothing)."""
    from . import aws

    bucket, _, prefix = uri[len("s3://"):].partition("/")
    s3 = aws.client("s3")
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    fetched = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(prefix):].lstrip("/")
            if not name or "/" in name:
                continue
            path = target / name
            if not (path.exists() and path.stat().st_size == obj["Size"]):
                s3.download_file(bucket, obj["Key"], str(path))
            fetched += 1
    if not fetched:
        raise RuntimeError(f"no Kiwi model under {uri} (run `make deploy`, which uploads it)")
    return str(target)


def _get_kiwi() -> Any:
    global _kiwi
    if _kiwi is None:
        with _kiwi_lock:
            if _kiwi is None:
                from kiwipiepy import Kiwi  # heavy: only when first needed

                # The multi-word dictionary costs ~190 MiB of RSS and ~1 s of load for no measured
                # routing gain (docs/routing.md); the typo dictionary is unused without `typos=`.
                _kiwi = Kiwi(model_path=kiwi_model_path(), load_multi_dict=False, load_typo_dict=False)
    return _kiwi


def _kiwi_korean(text: str) -> list[str]:
    """Content morphemes of the Hangul parts of ``text`` (already normalised)."""
    if not _HANGUL_RE.search(text):
        return []
    kiwi = _get_kiwi()
    with _kiwi_lock:
        tokens = kiwi.tokenize(text)
    return _content_morphemes(tokens)


def _kiwi_korean_many(texts: list[str]) -> list[list[str]]:
    """``_kiwi_korean`` of each text, through Kiwi's batch API: its worker threads analyse the
    texts in parallel, partly outside the GIL (the same tokens as one call per text)."""
    out: list[list[str]] = [[] for _ in texts]
    todo = [i for i, text in enumerate(texts) if _HANGUL_RE.search(text)]
    if len(todo) == 1:
        out[todo[0]] = _kiwi_korean(texts[todo[0]])
    elif todo:
        kiwi = _get_kiwi()
        with _kiwi_lock:
            results = list(kiwi.tokenize([texts[i] for i in todo]))
        for i, tokens in zip(todo, results):
            out[i] = _content_morphemes(tokens)
    return out


def _content_morphemes(tokens) -> list[str]:
    out: list[str] = []
    for tok in tokens:
        tag = tok.tag
        form = tok.form
        if tag not in _CONTENT_TAGS or tag == "SL":
            continue  # Latin text is tokenised by our regex, identically for every analyzer
        if form in _KO_STOP or _JAMO_RE.match(form):
            continue
        out.append(form)
    return out


# Words repeat (Zipf): a catalog load analyses the same few thousand words hundreds of thousands
# of times, so the pure per-word steps are memoised (bounded; results are immutable tuples).
@lru_cache(maxsize=1 << 16)
def _latin_terms(token: str) -> tuple[str, ...]:
    return tuple(_latin_tokens(token))


@lru_cache(maxsize=1 << 16)
def _word_bigrams(word: str) -> tuple[str, ...]:
    return tuple(_bigrams(word))


def _bigrams(word: str) -> list[str]:
    if len(word) < 2:
        return [word]
    return [word[i : i + 2] for i in range(len(word) - 1)]


def _latin_stream(text: str) -> list[str]:
    out: list[str] = []
    for m in _TOKEN_RE.finditer(text):
        tok = m.group(0)
        if _LATIN_RE.match(tok):
            out.extend(_latin_terms(tok))
    return out


def analyze_kiwi(text: str) -> list[str]:
    """Kiwi content morphemes for Korean plus English/code tokens."""
    norm = normalize(text)
    return _kiwi_korean(norm) + _latin_stream(norm)


def analyze_ngram(text: str) -> list[str]:
    """Character bigrams of each Hangul word plus English/code tokens."""
    norm = normalize(text)
    out: list[str] = []
    for m in _TOKEN_RE.finditer(norm):
        tok = m.group(0)
        if _LATIN_RE.match(tok):
            out.extend(_latin_terms(tok))
        else:
            out.extend(_word_bigrams(tok))
    return out


@lru_cache(maxsize=1 << 16)
def _marked_bigrams(word: str) -> tuple[str, ...]:
    return tuple("#" + g for g in _word_bigrams(word) if len(g) == 2)


# Terms of one word as ``ngram_terms`` emits them; a plain dict (bounded) because this lookup
# runs once per word of every catalog record body, where an lru_cache wrapper costs more than
# the work it saves.
_WORD_TERMS: dict[str, tuple[str, ...]] = {}
_WORD_TERMS_MAX = 1 << 17


def _word_terms(word: str) -> tuple[str, ...]:
    terms = _latin_terms(word) if _LATIN_RE.match(word) else _marked_bigrams(word)
    if len(_WORD_TERMS) >= _WORD_TERMS_MAX:
        _WORD_TERMS.clear()
    _WORD_TERMS[word] = terms
    return terms


def ngram_terms(text: str) -> list[str]:
    """What ``analyze_hybrid`` emits besides Kiwi's morphemes, in text order: English/code tokens
    and ``#``-prefixed Hangul bigrams (the catalog indexes long body text with these alone)."""
    out: list[str] = []
    known = _WORD_TERMS.get
    for word in _TOKEN_RE.findall(normalize(text)):
        terms = known(word)
        out.extend(_word_terms(word) if terms is None else terms)
    return out


def _hybrid_grams(norm: str) -> list[str]:
    return [
        "#" + g
        for m in _TOKEN_RE.finditer(norm)
        if not _LATIN_RE.match(m.group(0))
        for g in _word_bigrams(m.group(0))
        if len(g) == 2
    ]


def analyze_hybrid(text: str) -> list[str]:
    """Kiwi morphemes plus Hangul bigrams (prefixed so the two vocabularies never collide)."""
    norm = normalize(text)
    return _kiwi_korean(norm) + _latin_stream(norm) + _hybrid_grams(norm)


_ANALYZERS: dict[str, Analyzer] = {
    "kiwi": analyze_kiwi,
    "ngram": analyze_ngram,
    "hybrid": analyze_hybrid,
}


def analyzer_names() -> list[str]:
    return sorted(_ANALYZERS)


@lru_cache(maxsize=None)
def get_analyzer(name: str | None = None) -> Analyzer:
    """The analyzer called ``name`` (default: the project default). Raises KeyError if unknown."""
    key = name or DEFAULT_ANALYZER
    if key not in _ANALYZERS:
        raise KeyError(f"unknown analyzer {key!r}; choose one of {analyzer_names()}")
    return _ANALYZERS[key]


def analyze(text: str) -> list[str]:
    """Index terms of ``text`` with the project's default analyzer (see module docs)."""
    return _ANALYZERS[DEFAULT_ANALYZER](text)


def analyze_many(texts: list[str], name: str | None = None) -> list[list[str]]:
    """``[get_analyzer(name)(t) for t in texts]`` (default: the project default), with Kiwi's
    batch API for the morphemes: cheaper than one call per text when there are many (a page of
    catalog records)."""
    key = name or DEFAULT_ANALYZER
    if key not in ("kiwi", "hybrid"):
        return [get_analyzer(key)(t) for t in texts]
    norms = [normalize(t) for t in texts]
    korean = _kiwi_korean_many(norms)
    if key == "kiwi":
        return [ko + _latin_stream(norm) for ko, norm in zip(korean, norms)]
    return [ko + _latin_stream(norm) + _hybrid_grams(norm) for ko, norm in zip(korean, norms)]


def warm_up() -> None:
    """Load the Kiwi model now (e.g. at Lambda init) instead of on the first request."""
    _get_kiwi()
