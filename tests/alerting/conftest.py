"""Real local receivers for the channel tests: the sandbox (Slack, PagerDuty, webhook) and
aiosmtpd SMTP servers on loopback, plus a notification factory."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from healthmon.alerting.notification import Kind, Notification, Severity
from healthmon.sandbox import RunningSandbox, SandboxState, start_in_thread
from tests.support.sandbox_state import fresh_state
from tests.support.servers import free_port

SINCE = dt.datetime(2026, 10, 1, 12, 0, 0, tzinfo=dt.UTC)
SMTP_USER = "healthmon"
SMTP_PASSWORD = "smtp-pa55word-0123456789"


# -- notifications ------------------------------------------------------------------------------


class MakeNotification(Protocol):
    def __call__(self, kind: Kind = Kind.TRIGGER, **changes: Any) -> Notification: ...


BASE = Notification(
    alert_id=12,
    delivery_id=34,
    kind=Kind.TRIGGER,
    severity=Severity.P1,
    signature="postgres||unhealthy",
    service="postgres",
    tenant_id=None,
    title="PostgreSQL is unhealthy",
    status="unhealthy",
    reason="connection refused",
    since=SINCE,
    last_seen=SINCE + dt.timedelta(minutes=5),
    count=3,
    details={"error": "connect", "http_status": 503, "pool_used_pct": 93.5},
    # the config's dashboard_url: messages link to the alert and the service detail under it
    dashboard_url="https://healthmon.example",
)


@pytest.fixture
def make_notification() -> MakeNotification:
    def make(kind: Kind = Kind.TRIGGER, **changes: Any) -> Notification:
        return replace(BASE, kind=kind, **changes)

    return make


def rollup_tenants(count: int = 50) -> tuple[str, ...]:
    return tuple(f"tenant-{n:04d}" for n in range(1, count + 1))


# -- the sandbox --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(1, seed=3)) as running:
        yield running


@pytest.fixture
def state(sandbox: RunningSandbox) -> Iterator[SandboxState]:
    yield from fresh_state(sandbox)


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port that refuses connections: bound, so nothing else takes it, but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog does) but never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


# -- SMTP ---------------------------------------------------------------------------------------


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it accepts and refuses what a test asks it to."""

    envelopes: list[Envelope] = field(default_factory=list)
    tls_sessions: list[bool] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        self.envelopes.append(envelope)
        # session.ssl is set by STARTTLS; an implicit-TLS connection shows on the transport.
        transport = server.transport
        implicit = transport is not None and transport.get_extra_info("ssl_object") is not None
        self.tls_sessions.append(session.ssl is not None or implicit)
        return "250 Message accepted for delivery"


def check_password(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == SMTP_USER
        and auth_data.password.decode() == SMTP_PASSWORD
    )
    if ok:
        return AuthResult(success=True)
    # Echo what was tried, like a careless server would: the channel must scrub it.
    tried = auth_data.password.decode() if isinstance(auth_data, LoginPassword) else "?"
    return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad credentials {tried}")


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int
    host: str = "127.0.0.1"


CHANNELS = ("pagerduty", "webhook", "email", "slack")


def channel_config(
    sandbox: RunningSandbox, smtp: SmtpServer, names: Sequence[str] = CHANNELS
) -> dict[str, Any]:
    """The `channels:` config section for `names`, each pointed at its local receiver."""
    root = sandbox.base_url
    every = {
        "pagerduty": {
            "routing_key": sandbox.state.platform.pagerduty_routing_key,
            "events_url": f"{root}/pagerduty/v2/enqueue",
        },
        "webhook": {"url": f"{root}/webhook/healthmon"},
        "email": {
            "host": smtp.host,
            "port": smtp.port,
            "starttls": False,
            "from": "healthmon@test",
            "to": ["oncall@test"],
        },
        "slack": {"webhook_url": f"{root}/slack/services/T000/B000/XXXX"},
    }
    return {name: every[name] for name in names}


class StartSmtp(Protocol):
    def __call__(self, **smtp_kwargs: Any) -> SmtpServer: ...


@pytest.fixture
def start_smtp() -> Iterator[StartSmtp]:
    controllers: list[Controller] = []

    def start(**smtp_kwargs: Any) -> SmtpServer:
        inbox = Inbox()
        # aiosmtpd's Controller needs the port up front; the gap before it binds is tiny.
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **smtp_kwargs)
        controller.start()
        controllers.append(controller)
        return SmtpServer(inbox, port)

    yield start
    for controller in controllers:
        controller.stop()


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Trusts exactly this certificate: verification stays on, as in production."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "healthmon test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Certificate(cert_path, key_path)
