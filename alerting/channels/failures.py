"""Turning a failed send into a DeliveryError: retryable or not, and never carrying a credential.

Reasons end up in the deliveries table, the dashboard and logs, so every reason passes
through `failure`, which removes the channel's secrets (tokens, passwords, routing keys,
secret webhook URLs) even when a server echoes them back in an error body.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import urllib.error
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

import httpx

from healthmon.alerting.channels.render import clip, one_line
from healthmon.alerting.notification import DeliveryError

MAX_REASON = 500
REDACTED = "[redacted]"
# Shorter values are too likely to occur in ordinary text to be replaced blindly.
_MIN_SECRET = 4


def secret_forms(*secrets: str | None) -> tuple[str, ...]:
    """The secrets plus their base64 forms, which SMTP AUTH and Basic auth put on the wire."""
    forms: list[str] = []
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET:
            forms.append(secret)
            forms.append(base64.b64encode(secret.encode()).decode())
    return tuple(forms)


def url_secrets(url: str | None) -> tuple[str, ...]:
    """A URL and its path and query on their own: a Slack webhook's path is its credential,
    and a receiver may echo the path or a query token without the host."""
    if not url:
        return ()
    parts = urlsplit(url)
    return tuple(p for p in (url, parts.path, parts.query) if p and p != "/")


def scrub(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a secret that contains another is removed whole.
    for secret in sorted((s for s in secrets if len(s) >= _MIN_SECRET), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def clean_reason(reason: str, secrets: Iterable[str] = ()) -> str:
    return clip(one_line(scrub(reason, tuple(secrets))), MAX_REASON)


def failure(reason: str, retryable: bool, secrets: Iterable[str] = ()) -> DeliveryError:
    return DeliveryError(clean_reason(reason, secrets), retryable)


def retryable_status(status: int) -> bool:
    """Whether an HTTP answer may go through later: timeouts, throttling and server errors may;
    any other 4xx is the receiver refusing this request, which a resend will not change."""
    if status in (408, 425, 429):
        return True
    return not 400 <= status < 500


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, urllib.error.URLError) and isinstance(current.reason, BaseException):
            todo.append(current.reason)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)


def network_reason(exc: BaseException, fallback: str | None = None) -> str:
    """A short, credential-free description of a transport failure (never the URL: a Slack
    webhook URL is itself a secret). Libraries wrap socket errors (smtplib turns a read
    timeout into "server disconnected"), so the whole cause chain is searched."""
    for cause in _causes(exc):
        if isinstance(cause, httpx.TimeoutException | TimeoutError):
            return "no answer in time"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(cause, socket.gaierror):
            return "host name does not resolve"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(
            cause,
            ConnectionResetError
            | ConnectionAbortedError
            | BrokenPipeError
            | http.client.RemoteDisconnected
            | httpx.RemoteProtocolError
            | httpx.ReadError
            | httpx.WriteError,
        ):
            return "connection closed or reset by the server"
    if "refused" in str(exc).lower():
        return "connection refused"
    return fallback or f"network error ({type(exc).__name__})"
