"""Latency of ledger appends when two processes write the same SQLite ledger file at a fixed rate.

    python3 benchmarks/ledger_two_writers.py --rate 300      # appends per second in each process

Each process appends ``--count`` records on a fixed schedule and times every ``append`` (which returns only
once its record is committed); prints the percentiles over both processes.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time

import numpy as np


def _writer(path: str, count: int, rate: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    from tollgate.ledger import open_ledger
    from tollgate.model.ledger import DecisionDraft, digest_inputs

    ledger = open_ledger(f"sqlite:///{path}")
    latencies = []
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        ledger.append(DecisionDraft(kind="judge", environment="prod", verdict="pass", subject={"i": str(i)},
                                    inputs_digest=digest_inputs({"pid": str(os.getpid()), "i": str(i)}),
                                    payload={"i": i}, app="bench", actor="bench", tool_version="bench"))
        latencies.append(time.perf_counter() - began)
    ledger.close()
    out.put(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=300.0, help="appends per second in each process")
    parser.add_argument("--count", type=int, default=1000, help="appends in each process")
    args = parser.parse_args()
    from tollgate.ledger import open_ledger

    with tempfile.TemporaryDirectory(prefix="tollgate-ledger-") as tmp:
        path = os.path.join(tmp, "ledger.db")
        open_ledger(f"sqlite:///{path}").close()  # migrate once, so the writers race only on appends
        out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        procs = [mp.Process(target=_writer, args=(path, args.count, args.rate, out)) for _ in range(2)]
        for proc in procs:
            proc.start()
        ms = np.array([x for _ in procs for x in out.get()]) * 1000.0
        for proc in procs:
            proc.join()
    print(f"{len(ms)} appends, 2 processes at {args.rate:g}/s each: p50 {np.percentile(ms, 50):.2f} ms, "
          f"p99 {np.percentile(ms, 99):.2f} ms, max {ms.max():.2f} ms")


if __name__ == "__main__":
    main()
