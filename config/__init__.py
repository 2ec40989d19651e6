"""HEALTHMON_* settings and the YAML config's schema. Read only by flows and the entry layer."""

from config.errors import ConfigError
from config.loader import load_config
from config.schema import HealthmonConfig
from config.settings import Settings

__all__ = ["ConfigError", "HealthmonConfig", "Settings", "load_config"]
