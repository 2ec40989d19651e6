"""Email over SMTP: a plain-text body with an HTML alternative, threaded per alert.

smtplib is blocking, so a send runs in a worker thread; it opens one connection per
notification, which suits the rate at which alerts are sent.
"""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import ssl as _ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import jinja2

from healthmon.alerting.channels.failures import failure, network_reason, secret_forms
from healthmon.alerting.channels.render import link_texts, view
from healthmon.alerting.channels.render_group import group_view
from healthmon.alerting.notification import GroupNotification, Kind, Notification, Sent

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
MESSAGE_DOMAIN = "healthmon"

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def delivery_message_id(delivery_id: int) -> str:
    """The Message-ID of one delivery: a resend of the same delivery carries the same id, so
    mail systems and readers that deduplicate on Message-ID show it once."""
    return f"<healthmon-delivery-{delivery_id}@{MESSAGE_DOMAIN}>"


def alert_thread_id(alert_id: int) -> str:
    """The root every message about one alert refers to, so mail readers thread them."""
    return f"<healthmon-alert-{alert_id}@{MESSAGE_DOMAIN}>"


def group_message_id(group: GroupNotification) -> str:
    """The Message-ID of one group message: the same for a resend of the same rows."""
    return f"<healthmon-group-{group.key}@{MESSAGE_DOMAIN}>"


def group_thread_id(group_key: str) -> str:
    """The root every message of one alert group refers to, so mail readers thread them."""
    return f"<healthmon-group-{re.sub(r'[^A-Za-z0-9._-]', '-', group_key)}@{MESSAGE_DOMAIN}>"


def _new_message(subject: str, sender: str, recipients: list[str], message_id: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    return msg


def build_group_message(group: GroupNotification, sender: str, recipients: list[str]) -> EmailMessage:
    v = group_view(group)
    msg = _new_message(v.headline, sender, recipients, group_message_id(group))
    msg["References"] = group_thread_id(group.group_key)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Healthmon-Group"] = group.group_key
    msg["X-Healthmon-Kind"] = "group"
    msg["X-Healthmon-Severity"] = group.worst.severity.value
    msg.set_content(_templates.get_template("email_group.txt.j2").render(v=v))
    msg.add_alternative(_templates.get_template("email_group.html.j2").render(v=v), subtype="html")
    return msg


def build_message(notification: Notification, sender: str, recipients: list[str]) -> EmailMessage:
    v = view(notification)
    msg = _new_message(v.headline, sender, recipients, delivery_message_id(notification.delivery_id))
    # Every message of an alert, the trigger included, names the same root, so mail readers
    # that thread by References group them although the root itself is never sent.
    root = alert_thread_id(notification.alert_id)
    msg["References"] = root
    if notification.kind is not Kind.TRIGGER:
        msg["In-Reply-To"] = root
    # RFC 3834: keeps vacation responders from answering pages.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Healthmon-Alert-Id"] = str(notification.alert_id)
    msg["X-Healthmon-Kind"] = notification.kind.value
    msg["X-Healthmon-Severity"] = notification.severity.value
    links = link_texts(v)
    msg.set_content(_templates.get_template("email.txt.j2").render(v=v, links=links))
    msg.add_alternative(_templates.get_template("email.html.j2").render(v=v, links=links), subtype="html")
    return msg


def _smtp_words(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {words}".strip()


class EmailChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int = 587,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        ssl: bool = False,
        *,
        sender: str,
        recipients: list[str],
        timeout_s: float = 15,
        tls_context: _ssl.SSLContext | None = None,
    ) -> None:
        if not recipients:
            raise ValueError("email: at least one recipient is required")
        if not sender:
            raise ValueError("email: a sender address is required")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        # Implicit TLS (port 465) already encrypts; STARTTLS on top of it would be refused.
        self.ssl = ssl
        self.starttls = starttls and not ssl
        self.sender = sender
        self.recipients = list(recipients)
        self.timeout_s = timeout_s
        self.tls_context = tls_context
        auth_plain = f"\0{username}\0{password}" if username and password else None
        self._secrets = secret_forms(password, auth_plain)

    def __repr__(self) -> str:
        return f"EmailChannel(host={self.host!r}, port={self.port}, recipients={self.recipients!r})"

    async def send(self, notification: Notification) -> Sent:
        return await self._send(lambda: build_message(notification, self.sender, self.recipients))

    async def send_group(self, group: GroupNotification) -> Sent:
        return await self._send(lambda: build_group_message(group, self.sender, self.recipients))

    async def _send(self, build: Callable[[], EmailMessage]) -> Sent:
        try:
            msg = build()
        except (jinja2.TemplateError, ValueError) as exc:
            # A template or header bug: resending the same notification would fail the same way.
            raise failure(f"email: cannot build the message: {exc}", False, self._secrets) from None
        await asyncio.to_thread(self._deliver, msg)
        # No ref: follow-ups thread on the alert id, which needs nothing kept from this send.
        return Sent()

    def _context(self) -> _ssl.SSLContext:
        return self.tls_context or _ssl.create_default_context()

    def _deliver(self, msg: EmailMessage) -> None:
        try:
            self._smtp_send(msg)
        except smtplib.SMTPAuthenticationError as exc:
            reason = f"email: SMTP login refused: {_smtp_words(exc.smtp_code, exc.smtp_error)}"
            raise failure(reason, False, self._secrets) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            refused = "; ".join(f"{rcpt}: {_smtp_words(c, t)}" for rcpt, (c, t) in exc.recipients.items())
            # Only when every refusal is temporary (4xx: greylisting, a full mailbox) can it pass later.
            retryable = bool(codes) and all(400 <= code < 500 for code in codes)
            raise failure(f"email: all recipients refused: {refused}", retryable, self._secrets) from None
        except smtplib.SMTPResponseException as exc:
            # Sender refused, data refused, a failed STARTTLS or HELO: 4xx is "try later".
            retryable = 400 <= exc.smtp_code < 500
            reason = f"email: SMTP server answered {_smtp_words(exc.smtp_code, exc.smtp_error)}"
            raise failure(reason, retryable, self._secrets) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise failure(f"email: SMTP server does not support it: {exc}", False, self._secrets) from None
        except smtplib.SMTPServerDisconnected as exc:
            reason = network_reason(exc, fallback="SMTP server closed the connection")
            raise failure(f"email: {reason}", True, self._secrets) from None
        except smtplib.SMTPException as exc:
            # What is left is smtplib refusing the configuration ("no suitable authentication
            # method"): a resend would meet the same server.
            raise failure(f"email: {exc}", False, self._secrets) from None
        except OSError as exc:
            raise failure(f"email: {network_reason(exc)}", True, self._secrets) from None

    def _smtp_send(self, msg: EmailMessage) -> None:
        smtp: smtplib.SMTP
        if self.ssl:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=self._context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        with smtp:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password or "")
            refused = smtp.send_message(msg, from_addr=self.sender, to_addrs=self.recipients)
        if refused:
            # Some recipients have it; resending would page them twice, so this counts as sent.
            logger.warning(
                "email delivery %s: %d of %d recipients refused: %s",
                msg["Message-ID"],
                len(refused),
                len(self.recipients),
                ", ".join(sorted(refused)),
            )
