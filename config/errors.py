from __future__ import annotations

from collections.abc import Sequence


class ConfigError(Exception):
    """A configuration problem, always naming the setting or key at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message
        #: the line of the config file the key is on, when known
        self.line: int | None = None


class ConfigProblems(ConfigError):
    """Every problem found in one pass; `key` and `message` are the first one's.

    Commands stop at the first (its str says how many more there are); `healthmon config
    check` prints them all.
    """

    problems: list[ConfigError]

    def __init__(self, problems: Sequence[ConfigError]) -> None:
        if not problems:
            raise ValueError("ConfigProblems needs at least one problem")
        flat: list[ConfigError] = []
        for problem in problems:
            flat += problem.problems if isinstance(problem, ConfigProblems) else [problem]
        super().__init__(flat[0].key, flat[0].message)
        self.problems = flat
        if len(flat) > 1:
            more = f"{flat[0]} (and {len(flat) - 1} more; `healthmon config check` lists them all)"
            self.args = (more,)

    def __str__(self) -> str:
        return str(self.args[0])
