"""A local mail catcher for `healthmon demo`: an SMTP server on loopback that keeps every message.

Each message lands in `<directory>/<n>.eml` (numbering continues across restarts, so an
earlier demo's mail is never overwritten) and is announced through `on_message`. It runs on
the caller's event loop, so stopping the demo's loop stops it with nothing left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

#: (number, path, subject) of a message just stored
OnMessage = Callable[[int, Path, str], None]


def next_number(directory: Path) -> int:
    numbers = [int(p.stem) for p in directory.glob("*.eml") if p.stem.isdigit()]
    return max(numbers, default=0) + 1


def subject_of(raw: bytes) -> str:
    # The default policy decodes RFC 2047 words, so a subject with non-ASCII text reads as sent.
    headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    return str(headers.get("Subject") or "(no subject)")


class _Handler:
    def __init__(self, directory: Path, on_message: OnMessage | None) -> None:
        self.directory = directory
        self.on_message = on_message
        self.number = next_number(directory)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        number, self.number = self.number, self.number + 1
        path = self.directory / f"{number:04d}.eml"
        await asyncio.to_thread(path.write_bytes, raw)
        if self.on_message is not None:
            self.on_message(number, path, subject_of(raw))
        return "250 Message accepted for delivery"


class MailCatcher:
    """`await start()` binds (port 0 picks a free port), `await stop()` closes."""

    def __init__(self, directory: Path, on_message: OnMessage | None = None) -> None:
        self.directory = directory
        self.on_message = on_message
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        handler = _Handler(self.directory, self.on_message)
        loop = asyncio.get_running_loop()
        # Bound here rather than through aiosmtpd's Controller: port 0 then works without a
        # probe-and-hope race, and no extra thread or event loop is left to stop.
        self._server = await loop.create_server(
            lambda: SMTP(handler, hostname="healthmon-demo", ident="healthmon demo mail catcher"),
            host,
            port,
        )
        self.host = host
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            # A client stuck mid-session must not hold the demo's exit.
            try:
                await asyncio.wait_for(server.wait_closed(), 2.0)
            except TimeoutError:
                pass
