from __future__ import annotations


class ConfigError(Exception):
    """A configuration problem, always naming the setting or key at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message
