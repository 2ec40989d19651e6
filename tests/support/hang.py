"""A TCP server that accepts connections and never answers: the worst kind of upstream."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class HangingServer:
    def __init__(self, on_connect: Callable[[], None] | None = None) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self.connections = 0
        self._held: list[socket.socket] = []
        self._on_connect = on_connect
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)
            self.connections += 1
            if self._on_connect is not None:
                self._on_connect()

    def close(self) -> None:
        self._stopped.set()
        self._sock.close()
        for conn in self._held:
            conn.close()
