"""python.import: the time `import mlcore` adds to a fresh interpreter, side by side with
`import mlflow` (the peer) — what a notebook or a job's script pays before its first line.

Each sample is a fresh process: `python -X importtime -c "import M"` would count the same, but
a wall clock around a whole interpreter is what the user waits for; the interpreter's own start
(`python -c pass`, measured in the same interleaved rounds) is subtracted. Runs interleave
baseline, ours and the peer; medians reported, min and max kept.

    python bench/python_bench.py --ours .venv/bin/python --peer .venv-bench/bin/python
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def wall(python: str, code: str) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", code], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", default=sys.executable, help="python with mlcore installed")
    ap.add_argument("--peer", default="", help="python with mlflow installed (empty: no peer)")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()

    # Warm-up (discarded): page cache, .pyc files.
    wall(args.ours, "import mlcore")
    if args.peer:
        wall(args.peer, "import mlflow")
    base_ours, base_peer, ours, peer = [], [], [], []
    for _ in range(args.runs):
        base_ours.append(wall(args.ours, "pass"))
        ours.append(wall(args.ours, "import mlcore"))
        if args.peer:
            base_peer.append(wall(args.peer, "pass"))
            peer.append(wall(args.peer, "import mlflow"))
    ms = lambda xs, base: [1000 * (x - statistics.median(base)) for x in xs]  # noqa: E731
    ours_ms = ms(ours, base_ours)
    value = statistics.median(ours_ms)
    line = {"bench": "python.import", "unit": "ms", "value": round(value, 1),
            "min": round(min(ours_ms), 1), "max": round(max(ours_ms), 1),
            "target": "<100 ms", "met": value < 100, "runs": args.runs, "stat": "median",
            "params": {"interpreter_start_ms": round(1000 * statistics.median(base_ours), 1)}}
    if args.peer:
        peer_ms = ms(peer, base_peer)
        peer_value = statistics.median(peer_ms)
        line.update({"peer": "import mlflow", "peer_value": round(peer_value, 1),
                     "ratio": round(peer_value / value, 2) if value > 0 else None})
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
