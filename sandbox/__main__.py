"""`python -m healthmon.sandbox [--host H] [--port P] [--tenants N] [--seed S] [--bed DIR]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from healthmon.sandbox.bed import write_bed
from healthmon.sandbox.server import run
from healthmon.sandbox.state import SandboxState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m healthmon.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tenants", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--bed", type=Path, help="also write healthmon.yaml and tenants.yaml into this directory"
    )
    args = parser.parse_args(argv)
    if args.bed is not None:
        state = SandboxState.generate(args.tenants, args.seed)
        write_bed(args.bed, f"http://{args.host}:{args.port}", state)
    run(args.host, args.port, args.tenants, seed=args.seed)


if __name__ == "__main__":
    main()
