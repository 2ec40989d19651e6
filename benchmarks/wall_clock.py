"""Speed figures that used to be wall-clock assertions in tests (tests never bound time).

    .venv/bin/python benchmarks/wall_clock.py

Each figure is the median of `--rounds` runs; the last line is one JSON object with every
figure and its target, and `"ok"` when all figures are within their targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from healthmon.dashboard import frames
from healthmon.monitors.registry import MONITORS
from healthmon.sandbox import SandboxState, start_in_thread, write_bed
from healthmon.storage.queries import Cell

#: figure -> target in seconds (what the tests asserted before)
TARGETS = {
    "sandbox_generate_1000_s": 1.0,
    "write_bed_10000_s": 2.0,
    "matrix_frame_17000_cells_s": 1.0,
    "answers_beside_a_hung_request_s": 1.0,
}


def _median(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def _cells() -> list[Cell]:
    statuses = ["healthy", "degraded", "unhealthy", "unknown"]
    at = "2026-12-01T07:30:00+00:00"
    return [
        Cell(service, f"t{n:04d}", m.tier.value, statuses[(n + i) % 4], 12.5, at, at, None, 1.0, False)
        for n in range(1000)
        for i, (service, m) in enumerate(MONITORS.items())
    ]


async def _beside_a_hang(state: SandboxState, base_url: str) -> float:
    stuck, free = state.tenants[0], state.tenants[1]
    state.add_fault("shopify", "hang", stuck.id)
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=5.0) as http:
            hung = asyncio.ensure_future(
                http.get(f"/shopify/{stuck.shop}/admin/api/2026-10/shop.json", timeout=3)
            )
            await asyncio.sleep(0.1)
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    http.get(
                        f"/shopify/{free.shop}/admin/api/2026-10/shop.json",
                        headers={"X-Shopify-Access-Token": free.shopify_token},
                    )
                    for _ in range(20)
                )
            )
            took = time.perf_counter() - started
            hung.cancel()
            return took
    finally:
        state.clear_faults()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, float] = {}
    figures["sandbox_generate_1000_s"] = _median(lambda: SandboxState.generate(1000), args.rounds)
    big = SandboxState.generate(10_000)
    with tempfile.TemporaryDirectory() as tmp:
        figures["write_bed_10000_s"] = _median(
            lambda: write_bed(Path(tmp), "http://127.0.0.1:1", big), args.rounds
        )
    cells = _cells()
    figures["matrix_frame_17000_cells_s"] = _median(lambda: frames.matrix(cells), args.rounds)
    state = SandboxState.generate(2)
    with start_in_thread(state) as sandbox:
        runs = [asyncio.run(_beside_a_hang(state, sandbox.base_url)) for _ in range(args.rounds)]
    figures["answers_beside_a_hung_request_s"] = round(statistics.median(runs), 3)
    for name, value in figures.items():
        print(f"{name:36} {value:8.3f} s   (target < {TARGETS[name]:g} s)")
    ok = all(figures[name] < target for name, target in TARGETS.items())
    print(json.dumps({"benchmark": "wall_clock", **figures, "targets": TARGETS, "ok": ok}))


if __name__ == "__main__":
    main()
