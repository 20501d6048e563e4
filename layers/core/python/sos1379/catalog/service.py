"""Catalog service functions: what the sync Lambda, the API, the router and the CLI call.

Settings are the ``catalog`` group of sos1379.settings (nothing is read at import time):
``CATALOG_TABLE``, ``CATALOG_BUCKET``, ``CATALOG_SOURCE_{ZEUS,NTIS,PATENTS,LIBRARY}_URL``. The source
API keys are secrets: in AWS an SSM SecureString named by ``CATALOG_SOURCE_KEYS_PARAMETER`` holding
JSON ``{"zeus_key": ..., "ntis_key": ...}``, read at run time (sos1379.runtime_secrets); locally
``CATALOG_SOURCE_ZEUS_KEY`` / ``CATALOG_SOURCE_NTIS_KEY`` in the environment win.
"""
from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import FieldError, ValidationFailed
from ..settings import CatalogSettings, get_settings
from .models import RECORD_TYPES, SOURCES, SyncResult
from .store import DynamoCatalogStore, LeaseHeld, S3Blobs

if TYPE_CHECKING:  # numpy and bm25s load only when the index is first used
    from .index import CatalogIndex

logger = logging.getLogger(__name__)


def get_catalog_settings() -> CatalogSettings:
    """The catalog's group of the process settings (sos1379.settings)."""
    return get_settings().catalog


get_catalog_settings.cache_clear = get_settings.cache_clear  # type: ignore[attr-defined]


def source_keys() -> dict[str, str]:
    """The source API keys from the secret store (cached there for a few minutes); {} when no
    parameter is configured."""
    from ..runtime_secrets import read_secret

    keys = read_secret("CATALOG_SOURCE_KEYS", transform="json") or {}
    return {k: str(v) for k, v in keys.items()} if isinstance(keys, dict) else {}


def _store(settings: CatalogSettings) -> DynamoCatalogStore:
    from .. import aws

    return DynamoCatalogStore(aws.resource("dynamodb").Table(settings.table))


def _blobs(settings: CatalogSettings) -> S3Blobs:
    from .. import aws

    return S3Blobs(aws.client("s3"), settings.bucket)


def build_adapter(source: str, settings: CatalogSettings, **http_options: Any):
    from .institutes import default_resolver
    from .sources import HttpSource, LibraryAdapter, NtisAdapter, PatentsAdapter, ZeusAdapter

    if source not in settings.source_urls:
        raise ValidationFailed([FieldError("source", f"{source} 원천의 주소가 설정되지 않았습니다",
                                           f"no URL configured for source {source}")])
    http = HttpSource(settings.source_urls[source], **http_options)
    resolver = default_resolver()
    if source == "zeus":
        return ZeusAdapter(http, settings.zeus_key or source_keys().get("zeus_key", ""), resolver)
    if source == "ntis":
        return NtisAdapter(http, settings.ntis_key or source_keys().get("ntis_key", ""), resolver)
    if source == "patents":
        return PatentsAdapter(http, resolver)
    return LibraryAdapter(http, resolver)


def sync_source(source: str, *, mode: str = "auto", deadline: float | None = None, progress=None,
                rebuild: bool = True, http_options: dict | None = None) -> SyncResult:
    """Run one source's sync; then, if anything changed (or deltas are pending), rebuild the index."""
    from ..text import analyze, analyze_many
    from .sync import SyncService

    if source not in SOURCES:
        raise ValidationFailed([FieldError("source", "알 수 없는 원천입니다", f"unknown source {source!r}")])
    settings = get_catalog_settings()
    service = SyncService(build_adapter(source, settings, **(http_options or {})), _store(settings),
                          _blobs(settings), analyzer=analyze, analyze_many=analyze_many)
    result = service.run(mode=mode, deadline=deadline, progress=progress)
    if rebuild and result.status != "busy":
        result.index_rebuilt = rebuild_index() is not None
    return result


def rebuild_index(full: bool = False) -> dict | None:
    """Apply pending deltas to the current snapshot and publish a new one (None: nothing to do).

    ``full`` rebuilds from a scan of CatalogTable instead (the repair path, e.g. after the text
    analysis changed). Runs under the ``index`` lease so two syncs never publish over each other.
    """
    from ..text import analyze
    from .index import (POINTER_KEY, SNAPSHOT_PREFIX, IndexBuilder, doc_of, fetch_snapshot, index_tokens, pack,
                        scratch_dir)

    settings = get_catalog_settings()
    store, blobs = _store(settings), _blobs(settings)
    owner = uuid.uuid4().hex
    try:
        store.acquire_lease("index", owner, 900)
    except LeaseHeld:
        logger.info("index rebuild skipped: another rebuild holds the lease")
        return None
    try:
        started = time.perf_counter()
        pending = blobs.list(S3Blobs.PENDING)
        pointer = blobs.get_json(POINTER_KEY)
        if not pending and not full and pointer:
            return None
        if full or not pointer:
            builder = IndexBuilder()
            if full:
                for record in store.scan_records():
                    builder.upsert(doc_of(record, index_tokens(record, analyze)))
        else:
            base = scratch_dir("rebuild-base")
            fetch_snapshot(blobs, pointer["key"], base)
            fetch_snapshot(blobs, pointer["tokens_key"], base)
            builder = IndexBuilder.from_snapshot(base)
        for key in pending:
            delta = blobs.get_json(key)
            if delta:
                builder.apply(delta)
        build_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + owner[:6]
        out = scratch_dir(f"build-{build_id}")
        builder.write(out)
        key, tokens_key = f"{SNAPSHOT_PREFIX}{build_id}.tar", f"{SNAPSHOT_PREFIX}{build_id}-tokens.tar"
        data = pack(out, "search")
        blobs.s3.put_object(Bucket=blobs.bucket, Key=key, Body=data, ContentType="application/x-tar")
        tokens = pack(out, "rebuild")
        blobs.s3.put_object(Bucket=blobs.bucket, Key=tokens_key, Body=tokens, ContentType="application/x-tar")
        shutil.rmtree(out, ignore_errors=True)
        new_pointer = {"build_id": build_id, "key": key, "tokens_key": tokens_key,
                       "built_at": datetime.now(timezone.utc).isoformat(), "docs": len(builder.docs),
                       "bytes": len(data), "tokens_bytes": len(tokens)}
        blobs.put_json(POINTER_KEY, new_pointer)  # last: readers switch only to a complete snapshot
        blobs.delete(pending)
        keep = {key, tokens_key, (pointer or {}).get("key"), (pointer or {}).get("tokens_key")}
        old = [k for k in blobs.list(SNAPSHOT_PREFIX) if k not in keep]
        blobs.delete(old)  # keep the current and the previous snapshot
        logger.info("catalog index published", extra={"build_id": build_id, "docs": len(builder.docs),
                                                      "deltas": len(pending), "bytes": len(data),
                                                      "ms": round((time.perf_counter() - started) * 1000)})
        return new_pointer
    finally:
        store.release_lease("index", owner)


# -- the loaded index (API and router processes) ------------------------------------------------
_loaded: dict[str, Any] = {"index": None, "checked": 0.0}
_load_lock = threading.Lock()


def _fresh(settings: CatalogSettings) -> bool:
    """Whether the last check is recent enough. "No snapshot yet" is remembered too, for a minute,
    so the router does not ask S3 on every case before the first sync publishes one."""
    ttl = settings.index_refresh_seconds if _loaded["index"] is not None else min(60, settings.index_refresh_seconds)
    return bool(_loaded["checked"]) and time.monotonic() - _loaded["checked"] < ttl


def current_index() -> "CatalogIndex | None":
    """The latest snapshot, loaded lazily on first use and re-checked every few minutes."""
    settings = get_catalog_settings()
    if not settings.bucket or _fresh(settings):
        return _loaded["index"]
    with _load_lock:
        if _fresh(settings):
            return _loaded["index"]
        now = time.monotonic()
        try:
            from .index import POINTER_KEY, download_snapshot

            blobs = _blobs(settings)
            pointer = blobs.get_json(POINTER_KEY)
            current = _loaded["index"]
            if pointer and (current is None or current.build_id != pointer["build_id"]):
                _loaded["index"] = download_snapshot(blobs, pointer)
                if current is not None:  # free /tmp: a full-scale snapshot is ~165 MB
                    current.close()
                    shutil.rmtree(current.directory, ignore_errors=True)
        except Exception:  # a missing bucket or snapshot must not break search callers
            logger.exception("catalog index load failed")
        _loaded["checked"] = now
        return _loaded["index"]


def set_index(index: "CatalogIndex | None") -> None:
    """Use this index (tests, benchmark); None forgets it so the next call loads from S3."""
    _loaded["index"], _loaded["checked"] = index, (time.monotonic() if index is not None else 0.0)


# -- search ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchQuery:
    q: str
    type: str | None = None
    institute: str | None = None
    region: str | None = None
    page: int = 1
    page_size: int = 10


def parse_search_params(params: Mapping[str, str] | None) -> SearchQuery:
    """Validate query-string parameters; every problem is reported at once."""
    from ..directory import load_directory
    from ..korea import normalize_region

    params = params or {}
    errors: list[FieldError] = []
    q = (params.get("q") or "").strip()
    if not q:
        errors.append(FieldError("q", "검색어를 입력하세요", "q is required", "required"))
    elif len(q) > 500:
        errors.append(FieldError("q", "검색어는 500자 이하여야 합니다", "q must be at most 500 characters"))
    type_ = params.get("type") or None
    if type_ and type_ not in RECORD_TYPES:
        errors.append(FieldError("type", "type은 patent, paper, equipment 중 하나여야 합니다",
                                 "type must be one of patent, paper, equipment"))
    institute = (params.get("institute") or "").strip().upper() or None
    if institute and institute not in load_directory():
        errors.append(FieldError("institute", "알 수 없는 기관 코드입니다", "unknown institute code"))
    region = None
    if params.get("region"):
        try:
            region = normalize_region(params["region"]).code
        except ValueError:
            errors.append(FieldError("region", "알 수 없는 시·도입니다", "unknown region"))
    page, page_size = _int_param(params, "page", 1, 1, 100, errors), _int_param(params, "page_size", 10, 1, 50, errors)
    if errors:
        raise ValidationFailed(errors)
    return SearchQuery(q, type_, institute, region, page, page_size)


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int,
               errors: list[FieldError]) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        errors.append(FieldError(name, f"{name}은(는) {low}~{high} 사이의 정수여야 합니다",
                                 f"{name} must be an integer from {low} to {high}"))
    return value


def search(query: SearchQuery, index: "CatalogIndex | None" = None) -> dict:
    """Ranked, filtered, paginated hits with highlights, source links and owning institutes."""
    from ..directory import load_directory
    from ..text import analyze
    from .index import Hit, highlight, highlight_terms

    index = index or current_index()
    body: dict[str, Any] = {"query": query.q, "page": query.page, "page_size": query.page_size, "total": 0,
                            "hits": [], "index": None}
    if index is None:
        return body
    tokens = analyze(query.q)
    total, ranked = index.top(tokens, offset=(query.page - 1) * query.page_size, limit=query.page_size,
                              mask=index.mask(query.type, query.institute, query.region))
    terms = highlight_terms(tokens, query.q)
    directory = load_directory()
    hits = []
    for position, score in ranked:
        d = index.doc(position)
        hit = Hit(key=d["key"], id=d["id"], source=d["source"], type=d["type"], title=d["title"],
                  title_en=d.get("title_en"), snippet=d.get("snippet") or "", institute=d.get("institute"),
                  institution=d.get("institution"), region=d.get("region"), url=d.get("url"),
                  score=round(score, 4),
                  highlight={"title": highlight(d["title"], terms), "snippet": highlight(d.get("snippet"), terms)})
        item = hit.as_dict()
        inst = directory.get(hit.institute) if hit.institute else None
        item["institute_name"] = {"ko": inst.name_ko, "en": inst.name_en} if inst else None
        hits.append(item)
    body.update(total=total, hits=hits, index={"build_id": index.build_id, "built_at": index.built_at,
                                               "docs": index.size})
    return body


def search_catalog(params: Mapping[str, str] | None) -> dict:
    """The API's one call: parse the query string, then search."""
    return search(parse_search_params(params))


def evidence(query_text: str, limit: int = 10) -> list[dict]:
    """Catalog hits owned by one of our institutes, for the router and the referral's evidence
    (with the source link an institute's staff can open); empty when there is no snapshot."""
    from ..text import analyze

    index = current_index()
    if index is None or not query_text or not query_text.strip():
        return []
    owned = index.institutes >= 0
    _total, ranked = index.top(analyze(query_text), limit=limit, mask=owned)
    out = []
    for position, score in ranked:
        d = index.doc(position)
        out.append({"institute": d["institute"], "id": d["id"], "type": d["type"], "title": d["title"],
                    "url": d.get("url"), "score": round(score, 4)})
    return out
