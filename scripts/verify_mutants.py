"""Re-run mutants that mutmut reports as survived, one fresh pytest process each, on the tests mutmut maps to them.

    python scripts/verify_mutants.py [--sample N] [--seed S] [NAME ...]   # after `make mutation`

mutmut 3 runs each mutant in a process forked from one that has imported the suite; on this project a spot check
found mutants that it reported as survived although their tests fail when run on their own (for instance
``roi_box_kd``'s shape check inverted). This script is that check: for each mutant it sets
``MUTANT_UNDER_TEST`` in a new ``pytest`` process inside ``mutants/`` and reports killed or survived. Prints
one line per mutant and the totals.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"


def survivors() -> list[str]:
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "mutmut"), "results"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [
        line.split(":")[0].strip() for line in done.stdout.splitlines() if line.strip().endswith(": survived")
    ]


def tests_for(mutant: str, stats: dict) -> list[str]:
    function = re.sub(r"__mutmut_\d+$", "", mutant)
    return sorted(set(stats["tests_by_mangled_function_name"].get(function, [])))


def run_mutant(mutant: str, tests: list[str]) -> bool:
    """True when some test fails (the mutant is killed)."""
    if not tests:
        return False
    env = {**os.environ, "MUTANT_UNDER_TEST": mutant}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=MUTANTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode in (4, 5):  # pytest usage error / no tests collected: a wrong test path, not a kill
        raise SystemExit(
            f"{mutant}: pytest could not run {tests}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done.returncode in (1, 2)  # a test failed, or collection broke (both mean the mutant is seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutant names (default: every reported survivor)")
    parser.add_argument("--sample", type=int, help="check a random sample of this many survivors")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tests", nargs="+", help="run these tests instead of mutmut's map (e.g. new ones)")
    args = parser.parse_args()
    if not (MUTANTS / "mutmut-stats.json").exists():
        raise SystemExit("no mutants/mutmut-stats.json: run `make mutation` first")
    stats = json.loads((MUTANTS / "mutmut-stats.json").read_text())
    names = args.names or survivors()
    if args.sample and args.sample < len(names):
        names = sorted(random.Random(args.seed).sample(names, args.sample))
    killed = 0
    for name in names:
        dead = run_mutant(name, args.tests or tests_for(name, stats))
        killed += dead
        print(f"{name}: {'killed' if dead else 'survived'}", flush=True)
    print(f"{len(names)} checked: {killed} killed, {len(names) - killed} survived")


if __name__ == "__main__":
    main()
