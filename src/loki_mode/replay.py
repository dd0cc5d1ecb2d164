"""A provider command that replays a recorded transcript: `python -m loki_mode.replay FILE`.

It stands in for a real CLI (the engine appends the CLI's flags, which are
ignored), so `loki demo` and tests can run whole sessions with no provider
installed and no credentials. Lines are printed as recorded, paced by
`--delay` seconds, and the exit code is `--exit-code`.
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib.resources import files
from pathlib import Path

DEMO = "demo-claude.jsonl"


def demo_transcript() -> Path:
    return Path(str(files("loki_mode").joinpath("replay_data", DEMO)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loki_mode.replay", description=__doc__)
    parser.add_argument("file", type=Path, help="transcript to print (JSON lines)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between lines")
    parser.add_argument("--exit-code", type=int, default=0)
    args, _provider_flags = parser.parse_known_args(argv)
    try:
        lines = args.file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        print(f"replay: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        for line in lines:
            if args.delay:
                time.sleep(args.delay)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except BrokenPipeError:
        return 0
    return int(args.exit_code)


if __name__ == "__main__":
    sys.exit(main())
