"""EmailChannel against aiosmtpd servers on loopback: plain, STARTTLS, implicit TLS, AUTH."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from ssl import SSLContext

import pytest

from healthmon.alerting.channels.email import EmailChannel
from healthmon.alerting.notification import DeliveryError, Kind, Notification, Sent, Severity
from tests.alerting.conftest import (
    SMTP_PASSWORD,
    SMTP_USER,
    Certificate,
    MakeNotification,
    SmtpServer,
    StartSmtp,
    check_password,
    rollup_tenants,
)
from tests.support.refusals import send_refused

SENDER = "healthmon@example.test"
RECIPIENTS = ["oncall@example.test", "ops@example.test"]


def channel(
    server: SmtpServer | int,
    *,
    starttls: bool = False,
    ssl: bool = False,
    username: str | None = None,
    password: str | None = None,
    timeout_s: float = 5,
    tls_context: SSLContext | None = None,
) -> EmailChannel:
    return EmailChannel(
        "127.0.0.1",
        server if isinstance(server, int) else server.port,
        username,
        password,
        starttls,
        ssl,
        sender=SENDER,
        recipients=RECIPIENTS,
        timeout_s=timeout_s,
        tls_context=tls_context,
    )


def received(server: SmtpServer, index: int = 0) -> EmailMessage:
    envelope = server.inbox.envelopes[index]
    assert isinstance(envelope.content, bytes)
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    return plain.get_content(), html.get_content()


async def refused(mail: EmailChannel, notification: Notification) -> DeliveryError:
    return await send_refused(mail, notification, SMTP_PASSWORD)


SUBJECTS = {
    Kind.TRIGGER: "[P1] postgres unhealthy (platform): connection refused",
    Kind.ESCALATE: "[P1 ESCALATED] postgres unhealthy (platform): connection refused",
    Kind.RENOTIFY: "[P1 REMINDER] postgres unhealthy (platform): connection refused",
    Kind.ACKNOWLEDGE: "[ACKNOWLEDGED] postgres unhealthy (platform): connection refused, acknowledged by ana",
    Kind.RESOLVE: "[RESOLVED] postgres unhealthy (platform): connection refused",
}


@pytest.mark.parametrize("kind", list(Kind))
async def test_every_kind_arrives_with_text_html_and_threading_headers(
    start_smtp: StartSmtp, make_notification: MakeNotification, kind: Kind
) -> None:
    server = start_smtp()
    notification = make_notification(kind, acknowledged_by="ana" if kind is Kind.ACKNOWLEDGE else None)
    assert await channel(server).send(notification) == Sent()
    envelope = server.inbox.envelopes[0]
    assert (envelope.mail_from, envelope.rcpt_tos) == (SENDER, RECIPIENTS)
    message = received(server)
    assert message["Subject"] == SUBJECTS[kind]
    assert (message["From"], message["To"]) == (SENDER, ", ".join(RECIPIENTS))
    assert message["Message-ID"] == "<healthmon-delivery-34@healthmon>"
    assert message["References"] == "<healthmon-alert-12@healthmon>"
    assert message["In-Reply-To"] == (None if kind is Kind.TRIGGER else "<healthmon-alert-12@healthmon>")
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = parts(message)
    for fact in ("postgres", "platform", "P1", "unhealthy", "connection refused", "2026-10-01 12:00:00 UTC"):
        assert fact in text and fact in html
    assert "https://healthmon.example/alerts?alert=12" in text
    assert 'href="https://healthmon.example/alerts?alert=12"' in html
    colour = {Kind.RESOLVE: "#2ca02c", Kind.ACKNOWLEDGE: "#9e9e9e"}.get(kind, "#d62728")
    assert colour in html


async def test_html_is_escaped_details_are_short_and_a_rollup_is_shortened(
    start_smtp: StartSmtp, make_notification: MakeNotification
) -> None:
    server = start_smtp()
    details: dict[str, object] = {f"fact_{n}": n for n in range(12)}
    details["smtp_password"] = "never-in-mail"
    notification = make_notification(
        service="shopify",
        severity=Severity.P2,
        reason="<script>alert(1)</script> & more",
        tenants=rollup_tenants(50),
        details=details,
    )
    await channel(server).send(notification)
    message = received(server)
    assert message["Subject"].startswith("[P2] shopify unhealthy (platform, 50 tenants): <script>")
    text, html = parts(message)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "<script>alert(1)</script> & more" in text
    for body in (text, html):
        assert "Tenants affected (50)" in body
        assert "tenant-0010 and 40 more" in body and "tenant-0011" not in body
        assert "fact_7" in body and "fact_8" not in body and "never-in-mail" not in body


async def test_starttls_and_login_with_a_verified_certificate(
    start_smtp: StartSmtp, make_notification: MakeNotification, certificate: Certificate
) -> None:
    server = start_smtp(
        tls_context=certificate.server_context(), require_starttls=True, authenticator=check_password
    )
    mail = channel(
        server,
        starttls=True,
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        tls_context=certificate.client_context(),
    )
    await mail.send(make_notification())
    assert server.inbox.tls_sessions == [True]
    # Without the test certificate trusted, the server cannot be verified: no mail, a retryable error.
    error = await refused(channel(server, starttls=True), make_notification())
    assert (error.retryable, error.reason) == (True, "email: TLS certificate not trusted")
    assert len(server.inbox.envelopes) == 1


async def test_implicit_tls(
    start_smtp: StartSmtp, make_notification: MakeNotification, certificate: Certificate
) -> None:
    server = start_smtp(ssl_context=certificate.server_context())
    await channel(server, ssl=True, tls_context=certificate.client_context()).send(make_notification())
    assert server.inbox.tls_sessions == [True]


async def test_a_wrong_password_is_not_retryable_and_never_shown(
    start_smtp: StartSmtp, make_notification: MakeNotification
) -> None:
    server = start_smtp(authenticator=check_password, auth_require_tls=False)
    wrong = "wrong-pa55word-9876543210"
    with pytest.raises(DeliveryError) as caught:
        await channel(server, username=SMTP_USER, password=wrong).send(make_notification())
    error = caught.value
    assert error.retryable is False
    assert error.reason.startswith("email: SMTP login refused: 535")
    # The server echoed the password it was given; the channel removed it.
    assert wrong not in error.reason and "[redacted]" in error.reason
    assert wrong not in repr(channel(server, username=SMTP_USER, password=wrong))
    await channel(server, username=SMTP_USER, password=SMTP_PASSWORD).send(make_notification())
    assert len(server.inbox.envelopes) == 1


@pytest.mark.parametrize(
    ("where", "reply", "retryable"),
    [
        ("rcpt", "550 5.1.1 no such user", False),
        ("rcpt", "450 4.2.1 mailbox busy, try later", True),
        ("data", "451 4.3.0 try again later", True),
        ("data", "554 5.6.0 message refused", False),
    ],
)
async def test_smtp_refusals_map_to_retryable_or_not(
    start_smtp: StartSmtp, make_notification: MakeNotification, where: str, reply: str, retryable: bool
) -> None:
    server = start_smtp()
    if where == "rcpt":
        server.inbox.rcpt_reply = reply
    else:
        server.inbox.data_reply = reply
    error = await refused(channel(server), make_notification())
    assert error.retryable is retryable
    assert reply.split()[0] in error.reason


async def test_starttls_on_a_server_without_it_is_a_configuration_error(
    start_smtp: StartSmtp, make_notification: MakeNotification
) -> None:
    error = await refused(channel(start_smtp(), starttls=True), make_notification())
    assert error.retryable is False
    assert "STARTTLS" in error.reason


async def test_unreachable_and_silent_servers_are_retryable(
    make_notification: MakeNotification, refused_url: str, silent_port: int
) -> None:
    refused_port = int(refused_url.rsplit(":", 1)[1].strip("/"))
    error = await refused(channel(refused_port), make_notification())
    assert (error.retryable, error.reason) == (True, "email: connection refused")
    error = await refused(channel(silent_port, timeout_s=0.3), make_notification())
    assert (error.retryable, error.reason) == (True, "email: no answer in time")


def test_a_channel_needs_recipients() -> None:
    with pytest.raises(ValueError, match="recipient"):
        EmailChannel("127.0.0.1", sender=SENDER, recipients=[])
