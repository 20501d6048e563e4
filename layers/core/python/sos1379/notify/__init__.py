"""SME notifications: templates as data, quiet hours, channel adapters (SMS, email), and the
idempotent notifier the ``notify_sme`` function runs. See docs/notifications.md."""
from .channels import (EmailSender, PermanentSendError, SendResult, SesEmailSender, SmsSender, SmsVoiceSender,
                       SnsSmsSender, TransientSendError)
from .links import build_links, resolve_link_token, verify_link_token
from .quiet import in_quiet_hours, release_at
from .service import Notifier, NotifyMessage, chosen_channels
from .templates import Templates, euckr_bytes, load_templates, sms_length

__all__ = ["EmailSender", "PermanentSendError", "SendResult", "SesEmailSender", "SmsSender", "SmsVoiceSender",
           "SnsSmsSender", "TransientSendError", "build_links", "resolve_link_token", "verify_link_token",
           "in_quiet_hours", "release_at", "Notifier", "NotifyMessage", "chosen_channels", "Templates",
           "load_templates", "sms_length", "euckr_bytes"]
