"""HEALTHMON_* settings and the YAML config's schema. Read only by flows and the entry layer."""

from healthmon.config.errors import ConfigError
from healthmon.config.loader import load_config
from healthmon.config.schema import HealthmonConfig
from healthmon.config.settings import Settings

__all__ = ["ConfigError", "HealthmonConfig", "Settings", "load_config"]
