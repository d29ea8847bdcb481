#!/usr/bin/env python3
"""Runs scripts/extract-engine-flags.py on a fixture source tree and compares its rows with the
expected table: `check_extract.py EXTRACTOR ENGINE SRC EXPECTED`. Exit 1 with a diff on a
mismatch. The fixtures (tests/scripts/engine-src/) are synthetic files written in the shapes of
the engines' argument definitions, each shape a case the extractor must handle."""
import difflib
import subprocess
import sys


def main():
    extractor, engine, src, expected = sys.argv[1:5]
    out = subprocess.run([sys.executable, extractor, engine, src, "--commit", "fixture"],
                         check=True, capture_output=True, text=True).stdout
    got = [line for line in out.splitlines() if not line.startswith("#")]
    with open(expected, encoding="utf-8") as f:
        want = f.read().splitlines()
    if got != want:
        sys.stdout.writelines(difflib.unified_diff(
            [w + "\n" for w in want], [g + "\n" for g in got], expected, "extracted"))
        return 1
    header = [line for line in out.splitlines() if line.startswith("#")]
    if "# engine: %s" % engine not in header or "# commit: fixture" not in header:
        print("header lacks the engine or the commit:", header)
        return 1
    print("%s: %d rows as expected" % (engine, len(got)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
