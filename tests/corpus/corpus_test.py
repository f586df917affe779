#!/usr/bin/env python3
"""Judges the manifest corpus with `palisade check` and compares with the hand-derived oracle.

  corpus_test.py --binary build/cli/palisade [-v] [CorpusTest...]

For each level (privileged, baseline, restricted, at version latest) palisade judges every file
in manifests/ once; each object of expected.yaml then gets its own test: the strictest level it
passes, and the failing check IDs at each stricter level, must equal the oracle's. Objects marked
`known_gap` are expected failures: when one starts to pass, the run fails (an unexpected success)
so that the mark is removed.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFESTS = os.path.join(HERE, "manifests")
LEVELS = ["privileged", "baseline", "restricted"]  # from the loosest to the strictest
CHECK_IDS = {
    "privileged", "hostNamespaces", "capabilities_baseline", "capabilities_restricted",
    "hostPathVolumes", "restrictedVolumes", "hostPorts", "appArmorProfile", "seLinuxOptions",
    "procMount", "procMount_restricted", "seccompProfile_baseline", "seccompProfile_restricted",
    "sysctls", "windowsHostProcess", "hostProbesAndHostLifecycle", "allowPrivilegeEscalation",
    "runAsNonRoot", "runAsUser",
}

ARGS = None
EXPECTED = None  # key "Kind/namespace/name" -> entry of expected.yaml
JUDGED = {}  # level -> key -> object of `palisade check -o json`
INPUT = {}  # level -> the whole -o json answer


def manifest_files():
    found = []
    for root, _, files in os.walk(MANIFESTS):
        found += [os.path.join(root, f) for f in files if f.endswith((".yaml", ".yml", ".json"))]
    return sorted(found)


def load_expected():
    with open(os.path.join(HERE, "expected.yaml")) as f:
        return yaml.safe_load(f)["objects"]


def judge(level):
    """Runs palisade once on every file at LEVEL:latest; returns its -o json answer."""
    proc = subprocess.run([ARGS.binary, "check", "--level", f"{level}:latest", "-o", "json",
                           *manifest_files()], capture_output=True, text=True, timeout=300)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"palisade check --level {level}:latest exited {proc.returncode}: "
                           f"{proc.stderr}{proc.stdout[:2000]}")
    return json.loads(proc.stdout)


def setUpModule():
    for level in LEVELS:
        answer = judge(level)
        INPUT[level] = answer
        JUDGED[level] = {}
        for obj in answer["objects"]:
            key = f"{obj['kind']}/{obj['namespace']}/{obj['name']}"
            if key in JUDGED[level]:
                raise RuntimeError(f"{key} appears twice in the corpus")
            JUDGED[level][key] = obj


def palisade_view(key):
    """What palisade says about KEY: its strictest passing level and the failing checks."""
    fails = {}
    for level in LEVELS:
        obj = JUDGED[level].get(key)
        if obj is None:
            return None
        if obj["verdict"] != "allowed":
            fails[level] = sorted(obj["checks"])
    passing = [level for level in LEVELS if level not in fails]
    return {"level": passing[-1] if passing else None, "fails": fails}


def oracle_view(entry):
    return {"level": entry["level"],
            "fails": {level: sorted(ids) for level, ids in (entry.get("fails") or {}).items()}}


def describe(key):
    lines = []
    for level in LEVELS:
        obj = JUDGED[level].get(key)
        if obj and obj["message"]:
            lines.append(f"  {level}: {obj['message']}")
    return "\n".join(lines)


class OracleTest(unittest.TestCase):
    """The oracle itself is well formed, and covers exactly what palisade reads."""

    def test_every_entry_is_well_formed(self):
        for key, entry in EXPECTED.items():
            with self.subTest(key=key):
                self.assertRegex(key, r"^[A-Za-z]+/[a-z0-9-]+/[a-z0-9.-]+$")
                self.assertTrue(os.path.isfile(os.path.join(MANIFESTS, entry["file"])), entry["file"])
                self.assertIn(entry["level"], LEVELS)
                stricter = LEVELS[LEVELS.index(entry["level"]) + 1:]
                fails = entry.get("fails") or {}
                # A list for exactly the levels stricter than the one passed, none empty.
                self.assertEqual(sorted(fails), sorted(stricter))
                for level, ids in fails.items():
                    self.assertTrue(ids, level)
                    self.assertLessEqual(set(ids), CHECK_IDS, level)
                    self.assertEqual(len(ids), len(set(ids)), level)
                if "known_gap" in entry:
                    self.assertTrue(entry["known_gap"].strip(), "a known gap says why")

    def test_oracle_covers_exactly_the_corpus(self):
        for level in LEVELS:
            with self.subTest(level=level):
                answer = INPUT[level]
                self.assertEqual(answer["inputErrors"], [])
                self.assertEqual(answer["summary"]["skipped"], 0)
                self.assertEqual(sorted(JUDGED[level]), sorted(EXPECTED))

    def test_each_object_is_in_its_file(self):
        for key, entry in EXPECTED.items():
            with self.subTest(key=key):
                obj = JUDGED["privileged"][key]
                self.assertEqual(os.path.relpath(obj["file"], MANIFESTS), entry["file"])

    def test_corpus_is_large_and_varied(self):
        namespaces = {key.split("/")[1] for key in EXPECTED}
        kinds = {key.split("/")[0] for key in EXPECTED}
        levels = {entry["level"] for entry in EXPECTED.values()}
        self.assertGreaterEqual(len(EXPECTED), 30)
        self.assertGreaterEqual(len(namespaces), 8)
        self.assertEqual(levels, set(LEVELS))
        self.assertLessEqual({"Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob",
                              "ReplicationController", "PodTemplate"}, kinds)

    def test_privileged_admits_everything(self):
        # Sanity of the harness: at privileged nothing can fail.
        for key, obj in JUDGED["privileged"].items():
            with self.subTest(key=key):
                self.assertEqual(obj["verdict"], "allowed")


class CorpusTest(unittest.TestCase):
    """One test per object of expected.yaml, added below."""


def make_test(key, entry):
    def test(self):
        actual = palisade_view(key)
        self.assertIsNotNone(actual, f"palisade did not report {key}")
        self.assertEqual(actual, oracle_view(entry), f"{key} ({entry['file']})\n{describe(key)}")

    if "known_gap" in entry:
        test.__doc__ = f"known gap: {entry['known_gap']}"
        return unittest.expectedFailure(test)
    return test


def add_object_tests():
    for key, entry in EXPECTED.items():
        name = "test_" + re.sub(r"[^A-Za-z0-9]+", "_", key)
        setattr(CorpusTest, name, make_test(key, entry))


def main():
    global ARGS, EXPECTED
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    ARGS, rest = parser.parse_known_args()
    EXPECTED = load_expected()
    add_object_tests()
    program = unittest.main(argv=[sys.argv[0]] + rest, exit=False)
    result = program.result
    for test in result.unexpectedSuccesses:
        print(f"known_gap case now passes, remove its mark from expected.yaml: {test.id()}",
              file=sys.stderr)
    if result.expectedFailures:
        print(f"{len(result.expectedFailures)} known gap(s) still open:", file=sys.stderr)
        for test, _ in result.expectedFailures:
            print(f"  {test.id()}: {test._testMethodDoc}", file=sys.stderr)
    # wasSuccessful() is false on unexpected successes too.
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
