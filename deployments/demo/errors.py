"""The demo's one error type, shared by the supervisor and the runner."""

from __future__ import annotations


class DemoError(Exception):
    """Something the demo cannot start without; the message says what and how to fix it."""
