#!/usr/bin/env python3
"""Writes the NamespacePolicy spec schema (`palisade policy schema --spec`) into the chart's values
schema as $defs.namespacePolicySpec, so `values.policies` is checked by the same rules as the
server's. `--check` only compares (exit 1 when out of sync).

    scripts/sync-policy-schema.py --binary build/cli/palisade [--values-schema FILE] [--check]
"""
import argparse
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def spec_schema(binary):
    out = subprocess.run([binary, "policy", "schema", "--spec"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="the palisade binary")
    parser.add_argument("--values-schema", default=str(ROOT / "charts/palisade/values.schema.json"))
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when different")
    args = parser.parse_args()

    path = pathlib.Path(args.values_schema)
    values_schema = json.loads(path.read_text())
    wanted = spec_schema(args.binary)
    current = values_schema.get("$defs", {}).get("namespacePolicySpec")
    if args.check:
        if current != wanted:
            print(f"{path}: $defs.namespacePolicySpec differs from `palisade policy schema --spec`;"
                  f" run scripts/sync-policy-schema.py --binary BINARY", file=sys.stderr)
            return 1
        return 0
    values_schema.setdefault("$defs", {})["namespacePolicySpec"] = wanted
    path.write_text(json.dumps(values_schema, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
