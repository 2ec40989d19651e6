"""How each status looks, everywhere in the dashboard."""

from __future__ import annotations

from healthmon.monitors.result import Status

#: healthy green, degraded amber, unhealthy red, unknown grey
COLOURS: dict[str, str] = {
    Status.HEALTHY.value: "#2e7d32",
    Status.DEGRADED.value: "#f59e0b",
    Status.UNHEALTHY.value: "#d32f2f",
    Status.UNKNOWN.value: "#9e9e9e",
}
#: light backgrounds for table cells, so the text stays readable on them
BACKGROUNDS: dict[str, str] = {
    Status.HEALTHY.value: "#e8f5e9",
    Status.DEGRADED.value: "#fff3cd",
    Status.UNHEALTHY.value: "#fdecea",
    Status.UNKNOWN.value: "#eeeeee",
}
EMOJI: dict[str, str] = {
    Status.HEALTHY.value: "🟢",
    Status.DEGRADED.value: "🟠",
    Status.UNHEALTHY.value: "🔴",
    Status.UNKNOWN.value: "⚪",
}
#: a stale result (older than `watchdog.stale_after` tier intervals): purple and an hourglass,
#: unlike every status, so that old good news never looks green
STALE = "stale"
STALE_EMOJI = "⏳"
STALE_COLOUR = "#5e35b1"
STALE_BACKGROUND = "#ede7f6"
SEVERITY_EMOJI: dict[str, str] = {"p1": "🔴", "p2": "🟠", "p3": "🟡"}
ALERT_STATUS_EMOJI: dict[str, str] = {"open": "🔥", "acknowledged": "👀", "resolved": "✅"}
#: worst first: the order of the counts and of "worst status first" sorting
STATUS_ORDER: tuple[str, ...] = (
    Status.UNHEALTHY.value,
    Status.DEGRADED.value,
    Status.UNKNOWN.value,
    Status.HEALTHY.value,
)


def label(status: str | None, stale: bool = False) -> str:
    """`🔴 unhealthy`, or `⏳ stale (healthy)` for a stale result (the status it last had in
    brackets); empty for no status (a tenant without that integration)."""
    if not status:
        return ""
    if stale:
        return f"{STALE_EMOJI} {STALE} ({status})"
    return f"{EMOJI.get(status, '❔')} {status}"


def is_stale(text: object) -> bool:
    """Whether a label is a stale one."""
    return isinstance(text, str) and text.startswith(f"{STALE_EMOJI} {STALE}")


def status_of(text: object) -> str | None:
    """The status inside a label (for styling a cell from its text); for a stale label, the
    status it last had."""
    if not isinstance(text, str) or not text:
        return None
    word = text.rsplit(" ", 1)[-1].strip("()")
    return word if word in COLOURS else None


def legend(stale_after: float) -> str:
    """One line naming every mark a matrix cell can carry."""
    marks = " · ".join(label(s) for s in reversed(STATUS_ORDER))
    return (
        f"{marks} · {STALE_EMOJI} {STALE} (last status in brackets): no result for more than "
        f"{stale_after:g} tier intervals"
    )


def rank(status: str) -> int:
    """Sort key, worst first."""
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)


def severity_label(severity: str) -> str:
    return f"{SEVERITY_EMOJI.get(severity, '')} {severity}".strip()


def alert_status_label(status: str) -> str:
    return f"{ALERT_STATUS_EMOJI.get(status, '')} {status}".strip()
