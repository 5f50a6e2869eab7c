#!/usr/bin/env python3
"""Print the fenced ```sh code block of a Markdown file whose first line is exactly LINE (a comment
such as "# on host A (10.0.0.5): the learner"), so that a test runs the commands of the docs as they
are written. Exits 1 if there is no such block, or more than one."""
import re
import sys

doc, first = sys.argv[1], sys.argv[2]
blocks = re.findall(r"^```sh\n(.*?)^```$", open(doc, encoding="utf-8").read(), flags=re.S | re.M)
found = [b for b in blocks if b.split("\n", 1)[0].strip() == first]
if len(found) != 1:
    sys.exit(f"doc_blocks: {len(found)} blocks of {doc} start with {first!r}")
sys.stdout.write(found[0])
