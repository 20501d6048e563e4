"""The catalog search index: bm25s over the shared Korean analysis, persisted as an S3 snapshot.

A snapshot is one uncompressed tar in CatalogBucket (``index/snapshots/{build_id}.tar``) named by
the pointer ``index/CURRENT.json``; the pointer is written last, so readers never see half a
snapshot. Inside:

- ``bm25/``: bm25s's own saved index (CSC score matrix + vocabulary), loaded memory-mapped.
- ``docs.jsonl`` + ``doc_offsets.npy``: the display fields of each doc, one JSON line each, read
  by offset from a memory map only for the hits of the page being shown.
- ``filters.npz``: type / institute / region of each doc as small integer arrays, so filters are
  one vectorised mask instead of a Python loop.
- ``tokens.npy`` + ``token_offsets.npy`` + ``vocab.json``: each doc's analysed tokens, so the next
  rebuild only analyses the docs that changed (Kiwi is the expensive part; re-indexing token ids
  with bm25s is cheap).

Memory after load is therefore mostly page cache of mmapped files, not Python objects; the
figures are in docs/catalog.md.
"""
from __future__ import annotations

import html
import io
import json
import logging
import re
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .models import RECORD_TYPES

logger = logging.getLogger(__name__)
POINTER_KEY = "index/CURRENT.json"
SNAPSHOT_PREFIX = "index/snapshots/"
SNIPPET_CHARS = 160


def index_tokens(record, analyzer) -> list[str]:
    """Index terms of a record: the shared analyzer on what the record *is* (title, keywords),
    counted twice, plus cheap terms for the long body text.

    Kiwi costs ~50 µs per Korean character, so running it over every summary would make a full
    load of 180k records take tens of minutes. The body therefore gets only what the shared
    ``hybrid`` analyzer emits besides morphemes: ``#``-prefixed Hangul bigrams and Latin tokens
    (``sos1379.text.ngram_terms``), so queries analysed by ``analyze`` still meet them.
    """
    from ..text import ngram_terms

    head = analyzer(head_text(record))
    tail = ngram_terms(" ".join(filter(None, (record.title_en, record.summary[:400]))))
    return head + head + tail


def head_text(record) -> str:
    """What the shared analyzer (Kiwi) reads of a record: its title and keywords."""
    return "\n".join(filter(None, (record.title, " ".join(record.keywords))))


def doc_of(record, tokens: list[str]) -> dict:
    """What the index keeps of a record (display fields + tokens); written to the delta outbox."""
    return {"key": record.key, "id": record.source_id, "source": record.source, "type": record.type,
            "title": record.title, "title_en": record.title_en, "snippet": record.summary[:SNIPPET_CHARS],
            "institute": record.institute, "institution": record.institution, "region": record.region,
            "url": record.url, "tokens": tokens}


@dataclass
class Hit:
    key: str
    id: str
    source: str
    type: str
    title: str
    title_en: str | None
    snippet: str
    institute: str | None
    institution: str | None
    region: str | None
    url: str | None
    score: float
    highlight: dict[str, str]

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class CatalogIndex:
    """A loaded (or freshly built) index over a snapshot directory."""

    def __init__(self, directory: Path, build_id: str, built_at: str | None = None) -> None:
        import bm25s

        self.directory = Path(directory)
        self.build_id = build_id
        self.built_at = built_at
        self.retriever = bm25s.BM25.load(str(self.directory / "bm25"), mmap=True, load_corpus=False)
        self._offsets = np.load(self.directory / "doc_offsets.npy", mmap_mode="r")
        self._docs = open(self.directory / "docs.jsonl", "rb")  # noqa: SIM115 (lives as long as the index)
        import mmap

        self._docs_map = mmap.mmap(self._docs.fileno(), 0, access=mmap.ACCESS_READ) if self._offsets.size > 1 else None
        filters = np.load(self.directory / "filters.npz")
        self.types, self.institutes, self.regions = filters["types"], filters["institutes"], filters["regions"]
        meta = json.loads((self.directory / "meta.json").read_text(encoding="utf-8"))
        self.institute_codes: list[str] = meta["institute_codes"]
        self.region_codes: list[str] = meta["region_codes"]
        self.size = int(self.types.shape[0])

    # -- reading ---------------------------------------------------------------------------------
    def doc(self, position: int) -> dict:
        start, end = int(self._offsets[position]), int(self._offsets[position + 1])
        return json.loads(self._docs_map[start:end])

    def mask(self, type_: str | None = None, institute: str | None = None, region: str | None = None) -> np.ndarray | None:
        if not (type_ or institute or region):
            return None
        mask = np.ones(self.size, dtype=bool)
        if type_:
            mask &= self.types == RECORD_TYPES.index(type_)
        if institute:
            code = self.institute_codes.index(institute) if institute in self.institute_codes else -2
            mask &= self.institutes == code
        if region:
            code = self.region_codes.index(region) if region in self.region_codes else -2
            mask &= self.regions == code
        return mask

    def scores(self, tokens: list[str], mask: np.ndarray | None = None) -> np.ndarray:
        known = [t for t in dict.fromkeys(tokens) if t in self.retriever.vocab_dict]
        if not known or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        scores = self.retriever.get_scores(known)
        return scores * mask if mask is not None else scores

    def top(self, tokens: list[str], *, offset: int = 0, limit: int = 10, mask: np.ndarray | None = None,
            ) -> tuple[int, list[tuple[int, float]]]:
        """(number of matching docs, [(position, score)] for ranks offset..offset+limit)."""
        scores = self.scores(tokens, mask)
        matching = np.flatnonzero(scores > 0)
        total = int(matching.size)
        want = min(offset + limit, total)
        if want <= 0:
            return total, []
        if want < total:
            # Everything above the want-th score, then ties at that score by position: the same
            # docs for every page request, so pages never overlap or skip.
            values = scores[matching]
            kth = -np.partition(-values, want - 1)[want - 1]
            above = matching[values > kth]
            part = np.concatenate([above, matching[values == kth][: want - above.size]])
        else:
            part = matching
        order = part[np.lexsort((part, -scores[part]))]
        return total, [(int(p), float(scores[p])) for p in order[offset:offset + limit]]

    def close(self) -> None:
        if self._docs_map is not None:
            self._docs_map.close()
        self._docs.close()


# -- highlighting ------------------------------------------------------------------------------
def highlight_terms(tokens: list[str], query: str) -> list[str]:
    terms = {t.lstrip("#") for t in tokens if len(t.lstrip("#")) >= 2}
    # Raw Latin words too (model names, codes); raw Korean words would carry particles ("부품에").
    terms |= set(re.findall(r"[a-z0-9][a-z0-9.+-]+", query.lower()))
    return sorted(terms, key=len, reverse=True)


def highlight(text: str | None, terms: list[str]) -> str:
    """HTML-escaped ``text`` with matched terms wrapped in <mark> (safe to insert as HTML)."""
    if not text:
        return ""
    if not terms:
        return html.escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(html.escape(text[last:m.start()]))
        out.append(f"<mark>{html.escape(m.group(0))}</mark>")
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


# -- building ----------------------------------------------------------------------------------
def write_snapshot(directory: Path, docs: list[dict], tokens: list[np.ndarray], vocab: list[str]) -> None:
    """Write a snapshot directory from docs (display fields) and their token-id arrays."""
    import bm25s
    from bm25s.tokenization import Tokenized

    directory.mkdir(parents=True, exist_ok=True)
    vocab_dict = {token: i for i, token in enumerate(vocab)}
    retriever = bm25s.BM25()
    if docs:
        retriever.index(Tokenized(ids=[t.tolist() for t in tokens], vocab=vocab_dict), show_progress=False)
    else:  # bm25s cannot index nothing: an empty catalog still gets a loadable snapshot
        retriever.index(Tokenized(ids=[[0]], vocab={"": 0}), show_progress=False)
    retriever.save(str(directory / "bm25"), show_progress=False)

    offsets = [0]
    with open(directory / "docs.jsonl", "wb") as fh:
        for d in docs:
            line = json.dumps({k: v for k, v in d.items() if k != "tokens"}, ensure_ascii=False,
                              separators=(",", ":")).encode("utf-8") + b"\n"
            fh.write(line)
            offsets.append(offsets[-1] + len(line))
    np.save(directory / "doc_offsets.npy", np.asarray(offsets, dtype=np.int64))

    institute_codes = sorted({d["institute"] for d in docs if d.get("institute")})
    region_codes = sorted({d["region"] for d in docs if d.get("region")})
    inst_ix = {c: i for i, c in enumerate(institute_codes)}
    reg_ix = {c: i for i, c in enumerate(region_codes)}
    np.savez(directory / "filters.npz",
             types=np.asarray([RECORD_TYPES.index(d["type"]) for d in docs], dtype=np.uint8),
             institutes=np.asarray([inst_ix.get(d.get("institute"), -1) for d in docs], dtype=np.int16),
             regions=np.asarray([reg_ix.get(d.get("region"), -1) for d in docs], dtype=np.int16))
    lengths = np.asarray([len(t) for t in tokens], dtype=np.int64)
    np.save(directory / "token_offsets.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    np.save(directory / "tokens.npy", np.concatenate(tokens).astype(np.int32) if tokens else np.zeros(0, np.int32))
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (directory / "meta.json").write_text(json.dumps({"institute_codes": institute_codes, "region_codes": region_codes,
                                                     "docs": len(docs)}), encoding="utf-8")


class IndexBuilder:
    """Holds every doc with its token ids; applies deltas; writes a new snapshot."""

    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}  # key -> display fields (insertion order = doc order)
        self.tokens: dict[str, np.ndarray] = {}
        self.vocab: list[str] = []
        self._vocab_ix: dict[str, int] = {}

    @classmethod
    def from_snapshot(cls, directory: Path) -> "IndexBuilder":
        builder = cls()
        builder.vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        builder._vocab_ix = {t: i for i, t in enumerate(builder.vocab)}
        offsets = np.load(directory / "doc_offsets.npy")
        tok_off = np.load(directory / "token_offsets.npy")
        tokens = np.load(directory / "tokens.npy")
        raw = (directory / "docs.jsonl").read_bytes()
        for i in range(len(offsets) - 1):
            doc = json.loads(raw[offsets[i]:offsets[i + 1]])
            builder.docs[doc["key"]] = doc
            builder.tokens[doc["key"]] = tokens[tok_off[i]:tok_off[i + 1]]
        return builder

    def upsert(self, doc: dict) -> None:
        ids = []
        for token in doc["tokens"]:
            ix = self._vocab_ix.get(token)
            if ix is None:
                ix = self._vocab_ix[token] = len(self.vocab)
                self.vocab.append(token)
            ids.append(ix)
        key = doc["key"]
        self.docs.pop(key, None)
        self.docs[key] = {k: v for k, v in doc.items() if k != "tokens"}
        self.tokens[key] = np.asarray(ids, dtype=np.int32)

    def remove(self, key: str) -> None:
        self.docs.pop(key, None)
        self.tokens.pop(key, None)

    def apply(self, delta: dict) -> None:
        for doc in delta.get("upserts", []):
            self.upsert(doc)
        for key in delta.get("removes", []):
            self.remove(key)

    def write(self, directory: Path) -> None:
        keys = list(self.docs)
        write_snapshot(directory, [self.docs[k] for k in keys], [self.tokens[k] for k in keys], self.vocab)


# Files only the rebuild needs; the API and the router download the search part alone.
REBUILD_FILES = ("tokens.npy", "token_offsets.npy", "vocab.json")


def pack(directory: Path, part: str = "all") -> bytes:
    """Tar of a snapshot directory: ``search`` (what queries need), ``rebuild`` (token ids), ``all``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(directory.rglob("*")):
            if not path.is_file():
                continue
            rebuild_only = path.name in REBUILD_FILES and path.parent == directory
            if part == "all" or (part == "rebuild") == rebuild_only:
                tar.add(path, arcname=str(path.relative_to(directory)))
    return buf.getvalue()


def unpack(data: bytes, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(directory, filter="data")


def scratch_dir(name: str) -> Path:
    """A writable place for snapshots (/tmp on Lambda)."""
    from ..settings import get_settings

    base = Path(get_settings().catalog.scratch_dir or tempfile.gettempdir()) / "sos1379-catalog"
    path = base / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def fetch_snapshot(blobs, key: str, directory: Path) -> int:
    """Stream a snapshot tar from S3 straight into ``directory`` (never whole in memory or on disk)."""
    body = blobs.s3.get_object(Bucket=blobs.bucket, Key=key)["Body"]
    with tarfile.open(fileobj=body, mode="r|") as tar:
        tar.extractall(directory, filter="data")
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def download_snapshot(blobs, pointer: dict | None = None) -> CatalogIndex | None:
    pointer = pointer or blobs.get_json(POINTER_KEY)
    if not pointer:
        return None
    started = time.perf_counter()
    directory = scratch_dir(pointer["build_id"])
    size = fetch_snapshot(blobs, pointer["key"], directory)
    index = CatalogIndex(directory, pointer["build_id"], pointer.get("built_at"))
    logger.info("catalog index loaded", extra={"build_id": pointer["build_id"], "docs": index.size,
                                               "bytes": size, "ms": round((time.perf_counter() - started) * 1000)})
    return index
