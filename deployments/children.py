"""Child processes that end with the process that started them."""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable


def die_with_parent() -> Callable[[], None] | None:
    """A preexec function that makes a child get SIGTERM when its parent dies, even by SIGKILL
    (Linux PR_SET_PDEATHSIG), so a killed serve or demo leaves no server behind on its port;
    resolved here, so the forked child only makes one libc call. None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return preexec
