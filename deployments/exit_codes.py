"""Exit codes of the healthmon command (documented in README.md and docs/operations.md)."""

OK = 0  #: everything checked is healthy / the command did what it was asked
NOT_HEALTHY = 1  #: at least one result is degraded, unhealthy or unknown
USAGE = 2  #: bad usage or configuration; the message names the option or key
STORAGE = 3  #: healthmon's own store could not be reached or written
