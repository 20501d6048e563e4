"""The public web pages (intake form and tracking page) as package data plus their renderer.

No framework and no build step: two HTML files, one stylesheet, one script and one i18n table.
The server fills ``{{key}}`` placeholders with the requested language (so the first paint is already
in the right language and the privacy notice reads without JavaScript), and embeds the data the
script needs (both languages, the 17 regions, the service types, institute names) as a JSON data
block, which costs no extra request on a slow mobile link and is not executed, so the strict
Content-Security-Policy (no inline script) still holds. Nothing is read at import time."""
from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

_HERE = Path(__file__).parent

LANGUAGES = ("ko", "en")
PAGES = {"intake": "index.html", "track": "track.html"}

# Only these files are served: a fixed list, so no path from a request ever reaches the disk.
STATIC_TYPES = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "i18n.json": "application/json; charset=utf-8",
    "staff.css": "text/css; charset=utf-8",      # statistics page and staff console
    "console.js": "text/javascript; charset=utf-8",
}

# Strict policy: scripts, styles and API calls from this origin only; the page data block is
# type=application/json, which browsers never execute, so no 'unsafe-inline' is needed.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    # The tracking URL carries the token: never leak it to another site through Referer.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

_PLACEHOLDER = re.compile(r"\{\{([a-z0-9_.:-]+)\}\}", re.IGNORECASE)
_SAFE_BASE = re.compile(r"^/[A-Za-z0-9._~/-]*$")


@dataclass(frozen=True)
class StaticAsset:
    body: str
    content_type: str
    etag: str
    version: str


@lru_cache(maxsize=None)
def _read(name: str) -> str:
    return (_HERE / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def i18n() -> dict[str, dict[str, str]]:
    """``{"ko": {key: text}, "en": {key: text}}``: the single table both server and script use."""
    return json.loads(_read("i18n.json"))


def static_asset(name: str) -> StaticAsset | None:
    """A whitelisted static file, or None (the caller answers 404)."""
    content_type = STATIC_TYPES.get(name)
    if content_type is None:
        return None
    body = _read(name)
    version = hashlib.sha256(body.encode()).hexdigest()[:12]
    return StaticAsset(body=body, content_type=content_type, etag=f'"{version}"', version=version)


def language(value: str | None) -> str:
    return value if value in LANGUAGES else "ko"


def base_href(path: str | None, resource_path: str | None) -> str:
    """The URL prefix the page is served under, so relative links and API calls work both at
    ``http://127.0.0.1:8000/`` and under an API Gateway stage (``https://.../Prod/track``)."""
    path, resource = path or "/", resource_path or "/"
    if resource == "/":
        prefix = path.rstrip("/")
    elif path.endswith(resource):
        prefix = path[: -len(resource)]
    else:
        prefix = ""
    base = prefix + "/"
    return base if _SAFE_BASE.match(base) and "//" not in base else "/"


def _page_data(page: str, lang: str) -> dict:
    from ..directory import load_directory, load_services
    from ..korea import REGIONS
    from ..lifecycle import STATUS_LABELS

    data = {
        "page": page, "lang": lang, "i18n": i18n(),
        "status_labels": {code: {"ko": ko, "en": en} for code, (ko, en) in STATUS_LABELS.items()},
    }
    if page == "intake":
        data["regions"] = [{"code": r.code, "ko": r.name_ko, "en": r.name_en} for r in REGIONS]
        data["services"] = [{"code": s.code, "name": {"ko": s.name_ko, "en": s.name_en},
                             "description": {"ko": s.description_ko, "en": s.description_en}}
                            for s in load_services().values()]
    else:
        data["institutes"] = {code: {"ko": i.name_ko, "en": i.name_en} for code, i in load_directory().items()}
        data["services"] = {code: {"ko": s.name_ko, "en": s.name_en} for code, s in load_services().items()}
    return data


def _json_for_script(value) -> str:
    # "<" escaped so no string inside can close the data block ("</script>").
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def render_page(page: str, lang: str, base: str = "/", query: dict | None = None) -> str:
    """The HTML of ``page`` ("intake" or "track") in ``lang``. Raises KeyError on an unknown
    placeholder, so a typo in a template fails the tests instead of showing ``{{...}}``."""
    lang = language(lang)
    other = "en" if lang == "ko" else "ko"
    strings = i18n()[lang]
    kept = {k: v for k, v in (query or {}).items() if k in ("case", "token")}
    values = {
        "lang": lang, "other_lang": other, "base": base,
        "lang_switch_href": ("track" if page == "track" else "./") + "?" + urlencode({**kept, "lang": other}),
        "page_data": None,
    }

    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key == "page_data":
            return _json_for_script(_page_data(page, lang))
        if key.startswith("v:"):
            asset = static_asset(key[2:])
            if asset is None:
                raise KeyError(key)
            return asset.version
        if key in values:
            return html.escape(values[key])
        return html.escape(strings[key])

    return _PLACEHOLDER.sub(fill, _read(PAGES[page]))
