#!/usr/bin/env python3
"""Writes charts/palisade/README.md from charts/palisade/README.md.in and the chart's values: every
value documented in values.yaml (the `# --` comment above its key, as helm-docs reads it) with its
type (from values.schema.json) and default. The marker line `@@VALUES@@` in README.md.in becomes
the table.

  scripts/chart-readme.py          rewrite the README
  scripts/chart-readme.py --check  exit 1 (with a diff) if the README is out of date
"""

import difflib
import json
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHART = os.path.join(ROOT, "charts", "palisade")
MARKER = "@@VALUES@@"


def documented_keys(path):
    """[(dotted key, description)] in file order, for every key with a `# --` comment above it."""
    entries = []
    stack = []  # (indent, key) of the enclosing keys
    comment = None  # lines of the `# --` comment being read, or None
    with open(path) as f:
        for line in f:
            stripped = line.strip()
            if stripped.startswith("# --"):
                comment = [stripped[4:].strip()]
                continue
            if stripped.startswith("#"):
                if comment is not None:
                    comment.append(stripped[1:].strip())
                continue
            if not stripped or stripped.startswith("- "):
                comment = None
                continue
            indent = len(line) - len(line.lstrip())
            key = stripped.split(":", 1)[0].strip().strip('"')
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, key))
            if comment is not None:
                entries.append((".".join(k for _, k in stack), " ".join(comment)))
            comment = None
    return entries


def lookup(tree, dotted):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def schema_type(schema, dotted):
    for part in dotted.split("."):
        props = schema.get("properties", {})
        if part not in props:
            return None
        schema = props[part]
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind


def cell(text, code=False):
    """Text for a table cell: `|` escaped; outside code spans `<` and `>` too (or they read as HTML)."""
    parts = text.replace("|", "\\|").split("`")
    for i in range(0 if not code else len(parts), len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def values_table():
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)
    with open(os.path.join(CHART, "values.schema.json")) as f:
        schema = json.load(f)
    rows = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for key, description in documented_keys(os.path.join(CHART, "values.yaml")):
        default = json.dumps(lookup(values, key), ensure_ascii=False, separators=(", ", ": "))
        kind = schema_type(schema, key)
        if kind is None:
            sys.exit("chart-readme: %s has no type in values.schema.json" % key)
        rows.append("| `%s` | %s | `%s` | %s |" % (key, kind, cell(default, code=True), cell(description)))
    return "\n".join(rows) + "\n"


def render():
    with open(os.path.join(CHART, "README.md.in")) as f:
        template = f.read()
    if template.count(MARKER + "\n") != 1:
        sys.exit("chart-readme: README.md.in must hold the line %s once" % MARKER)
    return template.replace(MARKER + "\n", values_table())


def main():
    out = os.path.join(CHART, "README.md")
    text = render()
    if sys.argv[1:] == ["--check"]:
        with open(out) as f:
            current = f.read()
        if current != text:
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), text.splitlines(True),
                                                       "charts/palisade/README.md", "generated"))
            print("charts/palisade/README.md is out of date: run scripts/chart-readme.py", file=sys.stderr)
            return 1
        return 0
    if sys.argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    with open(out + ".tmp", "w") as f:
        f.write(text)
    os.replace(out + ".tmp", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
