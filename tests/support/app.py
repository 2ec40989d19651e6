"""What tests share about building a runtime: the secret key and the factory's type.

Kept out of tests/conftest.py so that a test module imports only what it uses, and the root
conftest stays cheap to load (its fixtures import healthmon's heavy parts when first used)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from healthmon.flows.app import App

SECRET_KEY = "test-secret-key-for-healthmon-0123456789"

#: make_app(database_url, config=None, redis_url=None, secret_key=SECRET_KEY) -> App
AppFactory = Callable[..., "App"]
