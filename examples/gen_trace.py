#!/usr/bin/env python3
"""Synthetic job-trace generator for `mlc sim`, modelled on the seed's scale.

About 1,000 users in 40 projects submit ~30,000 jobs a day with a diurnal arrival rate; flavors
mix CPU and GPU shapes from the default catalog (cpu-2-8 ... gpu-8-96-1024, plus 3-node gangs of
gpu-8-96-1024); durations are lognormal (CPU median 15 min, GPU median 30 min); 90% of jobs have a
deadline 6-24 h after submit; some read datasets (for data affinity) and all name an image.
bench/synthetic.cc draws from the same distributions in-process.

Deterministic: the same --seed gives the same trace. Writes CSV (default) or JSONL to stdout.

    python3 examples/gen_trace.py --seed 1 > day.csv
    python3 examples/gen_trace.py --seed 2 --jobs 500 --format jsonl > small.jsonl
    mlc sim day.csv --nodes 120 --json day.json --plot day.png
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys

# (flavor, weight as a fraction of jobs, replicas)
MIX = [
    ("cpu-2-8", 0.25, 1), ("cpu-4-16", 0.20, 1), ("cpu-8-32", 0.12, 1), ("cpu-16-64", 0.06, 1),
    ("mem-8-128", 0.04, 1), ("gpu-1-12-128", 0.18, 1), ("gpu-2-24-256", 0.07, 1),
    ("gpu-4-48-512", 0.04, 1), ("gpu-8-96-1024", 0.03, 1), ("gpu-8-96-1024", 0.01, 3),
]
FIELDS = ["id", "submit", "project", "user", "flavor", "replicas", "duration", "priority",
          "preemptible", "datasets", "image", "deadline"]


def generate(jobs: int, users: int, projects: int, seed: int, days: float) -> list[dict]:
    rng = random.Random(seed)
    datasets = ["%064x" % rng.getrandbits(256) for _ in range(500)]
    span = 86400.0 * days
    peak = 1.6 * jobs / span
    total_weight = sum(w for _, w, _ in MIX)
    out: list[dict] = []
    t = 0.0
    while len(out) < jobs:
        t += rng.expovariate(peak)
        if t >= span:
            t -= span
        rate = 1.0 + 0.6 * math.sin(2 * math.pi * (t % 86400 - 6 * 3600) / 86400)
        if rng.random() * 1.6 > rate:
            continue
        user = int(rng.random() ** 2 * users)  # a few heavy users, a long tail
        pick = rng.random() * total_weight
        flavor, replicas = MIX[-1][0], MIX[-1][2]
        for name, weight, reps in MIX:
            pick -= weight
            if pick <= 0:
                flavor, replicas = name, reps
                break
        gpu = flavor.startswith("gpu")
        minutes = rng.lognormvariate(math.log(30.0 if gpu else 15.0), 1.0)
        minutes = min(max(minutes, 1.0), 24 * 60.0 if gpu else 12 * 60.0)
        duration = int(minutes * 60)
        p = rng.random()
        priority = "low" if p < 0.20 else "normal" if p < 0.85 else "high" if p < 0.97 else "critical"
        preemptible = p < 0.20 or rng.random() < 0.25
        picked = [datasets[int(rng.random() ** 3 * 500)] for _ in range(int(rng.random() * 3))]
        deadline = duration + int((6 + 18 * rng.random()) * 3600) if rng.random() < 0.9 else 0
        out.append({
            "id": f"job-{len(out) + 1}", "submit": int(t), "project": f"project-{user % projects}",
            "user": f"user-{user}", "flavor": flavor, "replicas": replicas, "duration": duration,
            "priority": priority, "preemptible": preemptible, "datasets": sorted(set(picked)),
            "image": f"registry.local/train:{int(rng.random() * 30)}", "deadline": deadline,
        })
    out.sort(key=lambda j: (j["submit"], j["id"]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=30000, help="jobs in the trace (default 30000)")
    parser.add_argument("--users", type=int, default=1000, help="distinct users (default 1000)")
    parser.add_argument("--projects", type=int, default=40, help="projects (default 40)")
    parser.add_argument("--days", type=float, default=1.0, help="span of submits in days (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.users < 1 or args.projects < 1 or args.days <= 0:
        parser.error("--jobs, --users, --projects and --days must be positive")
    jobs = generate(args.jobs, args.users, args.projects, args.seed, args.days)
    w = sys.stdout.write
    if args.format == "jsonl":
        for j in jobs:
            w(json.dumps(j, separators=(",", ":")) + "\n")
    else:
        w(",".join(FIELDS) + "\n")
        for j in jobs:
            row = dict(j, preemptible="true" if j["preemptible"] else "false",
                       datasets=";".join(j["datasets"]), deadline=j["deadline"] or "")
            w(",".join(str(row[f]) for f in FIELDS) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
