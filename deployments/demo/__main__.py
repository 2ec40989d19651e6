"""`python -m healthmon.deployments.demo`: the demo's own entry, the same as `healthmon demo`."""

from __future__ import annotations

import sys

from healthmon.deployments.cli.app import app


def main(argv: list[str] | None = None) -> None:
    # the options are `healthmon demo`'s own (deployments/cli/faces.py): one definition
    app(["demo", *(sys.argv[1:] if argv is None else argv)], prog_name="healthmon")


if __name__ == "__main__":
    main()
