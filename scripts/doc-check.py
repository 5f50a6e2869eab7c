#!/usr/bin/env python3
"""Runs every command block of README.md and docs/operations.md marked runnable, as typed.

A block is runnable when its fence's info string says so: ```sh runnable. Each runs with
`bash -euo pipefail` in a fresh scratch directory, with BIN_DIR first on PATH (so `learner`,
`rollout-worker` and `tributary` are the binaries under test, as after `make install`) and
`.build/release` in the scratch directory linked to BIN_DIR (so the README's
`.build/release/tributary ...` lines run as typed). Each block gets TIMEOUT seconds (default
300). Prints one line per block and exits non-zero when any fails, with its output.

    scripts/doc-check.py BIN_DIR [FILE ...]
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["README.md", "docs/operations.md"]
FENCE = re.compile(r"^(`{3,})(.*)$")


def blocks(path):
    """(line number, info string, text) of every fenced block."""
    out, inside, start, info, lines, fence = [], False, 0, "", [], ""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            m = FENCE.match(line.rstrip("\n"))
            if not inside and m:
                inside, start, fence, info, lines = True, number, m.group(1), m.group(2).strip(), []
            elif inside and line.rstrip("\n") == fence:
                out.append((start, info, "".join(lines)))
                inside = False
            elif inside:
                lines.append(line)
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: doc-check.py BIN_DIR [FILE ...]")
    bin_dir = os.path.abspath(sys.argv[1])
    files = sys.argv[2:] or FILES
    timeout = int(os.environ.get("TIMEOUT", "300"))
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    # A config file in the caller's environment would change what the commands do.
    env.pop("TRIBUTARY_CONFIG", None)
    ran, failed = 0, 0
    for name in files:
        for line, info, text in blocks(os.path.join(ROOT, name)):
            if "runnable" not in info.split():
                continue
            if re.search(r"<[a-z_]+>", text):
                print(f"FAIL {name}:{line}: a runnable block has a <placeholder>")
                failed += 1
                continue
            ran += 1
            with tempfile.TemporaryDirectory(prefix="doc-check-") as scratch:
                os.makedirs(os.path.join(scratch, ".build"))
                os.symlink(bin_dir, os.path.join(scratch, ".build", "release"))
                try:
                    p = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=scratch, env=env,
                                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
                    ok, output = p.returncode == 0, p.stdout + p.stderr
                    why = f"exit {p.returncode}"
                except subprocess.TimeoutExpired as e:
                    ok, why = False, f"timed out after {timeout} s"
                    output = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace")
            first = text.strip().splitlines()[0]
            if ok:
                print(f"ok   {name}:{line}  {first}")
            else:
                failed += 1
                print(f"FAIL {name}:{line}  {first}: {why}\n" + "\n".join("     | " + l for l in output.splitlines()[-40:]))
    print(f"doc check: {ran} runnable block(s), {failed} failed")
    if ran == 0:
        sys.exit("doc check: no runnable block found")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
