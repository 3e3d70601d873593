"""Remove from tests/test_hostile_inputs.py's KNOWN_FAILING every case that now passes.

Usage: python tools/prune_known_failing.py PYTEST_OUTPUT   (the output of
``pytest tests/test_hostile_inputs.py -rX``). A fixed case shows as "XPASS(strict)"; its id is
deleted from the set, so the set only ever lists what is still broken.
"""

import re
import sys
from pathlib import Path

TEST = Path(__file__).resolve().parent.parent / "tests" / "test_hostile_inputs.py"


def main(report: str) -> int:
    fixed = set(re.findall(r"remove '([^']+)' from KNOWN_FAILING", Path(report).read_text()))
    lines = TEST.read_text().splitlines(keepends=True)
    kept = [
        ln
        for ln in lines
        if not any(re.fullmatch(rf'\s*"{re.escape(i)}",\s*(#.*)?\n?', ln) for i in fixed)
    ]
    TEST.write_text("".join(kept))
    print(f"removed {len(lines) - len(kept)} of {len(fixed)} fixed ids")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
