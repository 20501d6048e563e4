"""The staff console page (``/console``): one HTML shell, one script (``console.js``), one
stylesheet (``staff.css``); the script calls the same JSON API as any other client, with the
signed-in user's token. What the page embeds (not executed, so the CSP needs no 'unsafe-inline'):
both languages' strings, reference data (institutes, services, regions, statuses) and the sign-in
configuration (Cognito hosted UI with PKCE, or the local stack's dev login)."""
from __future__ import annotations

import json
from html import escape

from . import _read, static_asset

def login_config(settings) -> dict:
    """How the console signs in: ``cognito`` (AWS), ``dev`` (local stack only) or ``none``."""
    # The local stack first: there the template's Cognito values resolve to moto stand-ins.
    if settings.local_stack and len(settings.dev_jwt_secret) >= 32:
        return {"mode": "dev"}
    if settings.cognito_domain.startswith("https://") and settings.console_client_id:
        return {"mode": "cognito", "domain": settings.cognito_domain.rstrip("/"),
                "client_id": settings.console_client_id}
    return {"mode": "none"}


def csp(settings) -> str:
    """The public pages' policy, plus the Cognito domain for the token exchange."""
    from . import SECURITY_HEADERS

    policy = SECURITY_HEADERS["Content-Security-Policy"]
    domain = login_config(settings).get("domain")
    if domain:
        policy = policy.replace("connect-src 'self'", f"connect-src 'self' {domain}")
    return policy


def _reference() -> dict:
    from ..directory import load_directory, load_services
    from ..korea import REGIONS
    from ..lifecycle import STATUS_LABELS
    from .statistics import CHANNELS

    return {
        "institutes": {code: {"ko": i.name_ko, "en": i.name_en} for code, i in load_directory().items()},
        "services": {code: {"ko": s.name_ko, "en": s.name_en} for code, s in load_services().items()},
        "regions": [{"code": r.code, "ko": r.name_ko, "en": r.name_en} for r in REGIONS],
        "statuses": {code: {"ko": ko, "en": en} for code, (ko, en) in STATUS_LABELS.items()},
        "channels": {code: {"ko": ko, "en": en} for code, (ko, en) in CHANNELS.items()},
    }


def strings() -> dict:
    return json.loads(_read("console.json"))


def render(lang: str, base: str, login: dict) -> str:
    lang = lang if lang in ("ko", "en") else "ko"
    t = strings()[lang]
    data = {"lang": lang, "i18n": strings(), "login": login, **_reference()}
    block = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    other = "en" if lang == "ko" else "ko"
    return _read("console.html").replace("{{lang}}", lang).replace("{{base}}", escape(base)) \
        .replace("{{other}}", other).replace("{{v:staff.css}}", static_asset("staff.css").version) \
        .replace("{{v:console.js}}", static_asset("console.js").version) \
        .replace("{{title}}", escape(t["doc_title"])).replace("{{skip}}", escape(t["skip"])) \
        .replace("{{brand}}", escape(t["brand"])).replace("{{switch}}", escape(t["switch"])) \
        .replace("{{loading}}", escape(t["loading"])).replace("{{noscript}}", escape(t["noscript"])) \
        .replace("{{page_data}}", block)
