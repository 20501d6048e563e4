"""SME notifications: templates as data, quiet hours, channel adapters (SMS, email), and the
idempotent notifier the ``notify_sme`` function runs. See docs/notifications.md.

The names below are re-exported lazily (PEP 562): importing one submodule (``notify.links`` for
the API's short links, ``notify.limits``) does not load the notifier, its templates and channels."""
from __future__ import annotations

import importlib

_EXPORTS = {
    "channels": ["EmailSender", "PermanentSendError", "SendResult", "SesEmailSender", "SmsSender", "SmsVoiceSender",
                 "SnsSmsSender", "TransientSendError"],
    "links": ["build_links", "resolve_link_token", "verify_link_token"],
    "quiet": ["in_quiet_hours", "release_at"],
    "service": ["Notifier", "chosen_channels"],
    "templates": ["Templates", "euckr_bytes", "load_templates", "sms_length"],
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
