"""The integrated technology catalog: patents, papers and equipment from public sources.

Submodules: ``models`` (records), ``sources`` (one adapter per source), ``sync`` (incremental,
resumable runs), ``store`` (CatalogTable, the index outbox), ``index`` (bm25s snapshot),
``service`` (what handlers, the API, the router and the CLI call). Importing this package is cheap:
the heavy parts (numpy, bm25s, Kiwi, boto3) load on first use.
"""
from __future__ import annotations


def evidence(query_text: str, limit: int = 10) -> list[dict]:
    """Top catalog hits owned by our institutes: ``institute, id, type, title, score`` each.

    Empty when no index snapshot is available (no bucket configured, nothing synced yet)."""
    from .service import evidence as _evidence

    return _evidence(query_text, limit)


__all__ = ["evidence"]
