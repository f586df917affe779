#!/usr/bin/env python3
"""Keeps the README's CLI example outputs true: runs each example block's command and compares what
it prints with the output the block shows.

An example block is an indented code block that starts with one `build/cli/palisade ...` command
(continued with trailing backslashes), then a blank line, then the output: what the command prints
on stdout and stderr, in order. In the shown output `…` stands for any text within a line (for what
varies: dates, ports, timestamps). Blocks of commands alone are not examples and are not run; a
block with output after two commands is an error (whose output would it be?).

  scripts/readme-examples.py --binary build/cli/palisade          exit 1 (with a diff) if a block
                                                                  shows other output than its
                                                                  command prints now
  scripts/readme-examples.py --binary build/cli/palisade --write  rewrite the outputs (blocks
                                                                  with `…` are left for a person)

Commands run from the repository root through bash, with `build/cli/palisade` standing for
--binary.
"""

import argparse
import difflib
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = "build/cli/palisade"
INDENT = "    "


class Example:
    def __init__(self, line, command, output, first_output_line):
        self.line = line  # 1-based line of the command in the README
        self.command = command  # the command as written, continuations joined with newlines
        self.output = output  # [line] of the shown output, unindented
        self.first_output_line = first_output_line  # 0-based index of its first line in the file


def examples(lines):
    """The example blocks of README lines ([str] without newlines)."""
    found = []
    i = 0
    while i < len(lines):
        starts_block = lines[i].startswith(INDENT + PROGRAM + " ") and (i == 0 or not lines[i - 1].strip())
        if not starts_block:
            i += 1
            continue
        start = i
        end = i
        while end < len(lines) and (lines[end].startswith(INDENT) or not lines[end].strip()):
            end += 1
        while end > start and not lines[end - 1].strip():
            end -= 1
        block = [line[len(INDENT):] for line in lines[start:end]]
        i = end
        command_end = 1
        while block[command_end - 1].endswith("\\"):
            command_end += 1
        rest = block[command_end:]
        if not rest or rest[0].strip():
            if any(not line.strip() for line in rest):
                raise ValueError("README.md:%d: output after more than one command: one command per "
                                 "example block" % (start + 1))
            continue  # commands alone
        found.append(Example(start + 1, "\n".join(block[:command_end]), rest[1:], start + command_end + 1))
    return found


def run(example, binary):
    command = re.sub(r"(^|\s)" + re.escape(PROGRAM) + r"(?=\s)", lambda m: m.group(1) + binary, example.command)
    proc = subprocess.run(["bash", "-c", command + " 2>&1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    return proc.stdout.rstrip("\n").split("\n")


def matches(shown, printed):
    if len(shown) != len(printed):
        return False
    for want, got in zip(shown, printed):
        pattern = "".join(".*" if part == "…" else re.escape(part) for part in re.split("(…)", want))
        if not re.fullmatch(pattern, got.rstrip()):
            return False
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)

    with open(args.readme) as f:
        lines = f.read().split("\n")
    try:
        found = examples(lines)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 1
    if not found:
        print("no example blocks in %s" % args.readme, file=sys.stderr)
        return 1
    stale = 0
    # Last first, so rewriting a block does not move the ones before it.
    for example in reversed(found):
        printed = run(example, binary)
        if matches(example.output, printed):
            print("ok README.md:%d %s" % (example.line, example.command.split("\n")[0]))
            continue
        if args.write and not any("…" in line for line in example.output):
            start = example.first_output_line
            lines[start:start + len(example.output)] = [(INDENT + line).rstrip() for line in printed]
            print("rewrote README.md:%d %s" % (example.line, example.command.split("\n")[0]))
            continue
        stale += 1
        print("README.md:%d: the output shown is not what `%s` prints now:" % (example.line, example.command))
        sys.stdout.writelines(difflib.unified_diff([line + "\n" for line in example.output],
                                                   [line + "\n" for line in printed], "shown", "printed"))
    if args.write:
        with open(args.readme, "w") as f:
            f.write("\n".join(lines))
    if stale:
        print("%d example(s) out of date: scripts/readme-examples.py --binary %s --write rewrites them"
              % (stale, PROGRAM))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
