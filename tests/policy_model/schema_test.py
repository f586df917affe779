#!/usr/bin/env python3
"""`palisade policy schema` against real policies and python3-jsonschema: every good policy passes,
representative bad ones fail, lint and the schema agree case by case, and the chart's values schema
holds the same spec schema (scripts/sync-policy-schema.py)."""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import unittest

import jsonschema
import yaml

ARGS = None
HEADER = "apiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata:\n  name: team\n"


def run(*args, check=True):
    return subprocess.run([ARGS.binary, *args], capture_output=True, text=True, check=check)


def validator(spec_only=False):
    schema = json.loads(run("policy", "schema", *(["--spec"] if spec_only else [])).stdout)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def documents(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


# (name, spec as YAML, valid?)
CASES = [
    ("minimal", "namespaces: [team]", True),
    ("everything", """
        namespaces: ["payments", "payments-*"]
        podSecurity: {enforce: restricted, warn: "restricted:latest", audit: "restricted:v1.30"}
        defaults:
          seccompProfile: {type: RuntimeDefault}
          appArmorProfile: {type: Localhost, localhostProfile: k8s-payments}
          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
          allowPrivilegeEscalation: false
          runAsNonRoot: true
          runtimeClassName: gvisor
        rules:
          action: warn
          allowedCapabilities: [NET_BIND_SERVICE]
          requiredDropCapabilities: [ALL]
          allowedSeccompProfiles: ["RuntimeDefault", "Localhost/profiles/*"]
          allowedAppArmorProfiles: ["Unconfined"]
          allowedRuntimeClasses: [gvisor]
        workloads: warn
        exemptions: {usernames: ["system:serviceaccount:ci:x"], runtimeClasses: [], images: ["r/*"]}
        """, True),
    ("nulls remove inherited fields", """
        namespaces: ["*"]
        podSecurity: {enforce: null}
        defaults: null
        rules: {action: null, allowedCapabilities: null}
        workloads: null
        exemptions: {images: null}
        """, True),
    ("null capabilities and localhostProfile", """
        namespaces: [team]
        defaults: {capabilities: null, seccompProfile: {type: RuntimeDefault, localhostProfile: null}}
        """, True),
    ("a version newer than the binary (a warning)", "namespaces: [team]\npodSecurity: {enforce: 'baseline:v1.99'}", True),
    ("typo", "namespaces: [team]\ndefaults: {runAsNonRot: true}", False),
    ("unknown section", "namespaces: [team]\nextras: {}", False),
    ("unknown level", "namespaces: [team]\npodSecurity: {warn: strict}", False),
    ("version 2", "namespaces: [team]\npodSecurity: {enforce: 'restricted:v2.1'}", False),
    ("leading zero version", "namespaces: [team]\npodSecurity: {enforce: 'restricted:v1.030'}", False),
    ("namespaces as a string", "namespaces: team", False),
    ("no namespaces", "namespaces: []", False),
    ("namespaces null", "namespaces: null", False),
    ("namespaces missing", "podSecurity: {enforce: baseline}", False),
    ("namespace twice", "namespaces: [team, team]", False),
    ("upper-case namespace", "namespaces: [Team]", False),
    ("action deny", "namespaces: [team]\nrules: {action: deny}", False),
    ("workloads audit", "namespaces: [team]\nworkloads: audit", False),
    ("CAP_ prefix", "namespaces: [team]\nrules: {allowedCapabilities: [CAP_NET_ADMIN]}", False),
    ("lower-case capability", "namespaces: [team]\ndefaults: {capabilities: {drop: [all]}}", False),
    ("profile type", "namespaces: [team]\ndefaults: {seccompProfile: {type: Default}}", False),
    ("Localhost without a profile", "namespaces: [team]\ndefaults: {seccompProfile: {type: Localhost}}", False),
    ("profile path without Localhost", "namespaces: [team]\ndefaults: {appArmorProfile: {type: RuntimeDefault, localhostProfile: x}}", False),
    ("bare Localhost allowed profile", "namespaces: [team]\nrules: {allowedSeccompProfiles: [Localhost]}", False),
    ("boolean as a string", "namespaces: [team]\ndefaults: {runAsNonRoot: 'true'}", False),
    ("empty runtime class", "namespaces: [team]\ndefaults: {runtimeClassName: ''}", False),
    ("number in a list", "namespaces: [team]\nexemptions: {images: [1]}", False),
    ("section as a list", "namespaces: [team]\ndefaults: [a]", False),
    ("selector only", "namespaceSelector: {matchLabels: {team: a}}", True),
    ("empty selector", "namespaceSelector: {}", True),
    ("selector and namespaces", "namespaces: [x]\nnamespaceSelector: {matchExpressions: [{key: env, operator: NotIn, values: [dev, '']}]}", True),
    ("selector null", "namespaceSelector: null", False),
    ("selector In without values", "namespaceSelector: {matchExpressions: [{key: env, operator: In}]}", False),
    ("selector Exists with values", "namespaceSelector: {matchExpressions: [{key: env, operator: Exists, values: [a]}]}", False),
    ("selector operator Gt", "namespaceSelector: {matchExpressions: [{key: env, operator: Gt, values: ['1']}]}", False),
    ("selector bad value", "namespaceSelector: {matchLabels: {team: '-a'}}", False),
    ("selector unknown field", "namespaceSelector: {matchLabel: {team: a}}", False),
]


def case_text(spec, header=HEADER):
    return header + "spec:\n" + textwrap.indent(textwrap.dedent(spec).strip(), "  ") + "\n"


class SchemaTest(unittest.TestCase):
    def test_every_good_policy_passes(self):
        check = validator()
        root = pathlib.Path(ARGS.source_dir)
        files = sorted(root.glob("deploy/policies/*.yaml")) + sorted(
            root.glob("tests/cli/testdata/policies/*.yaml")) + sorted(
            root.glob("tests/cli/testdata/apparmor-policies/*.yaml"))
        self.assertGreater(len(files), 3)
        for path in files:
            for document in documents(path):
                with self.subTest(file=str(path), policy=document["metadata"]["name"]):
                    self.assertEqual([e.message for e in check.iter_errors(document)], [])

    def test_bad_policies_fail(self):
        check = validator()
        root = pathlib.Path(ARGS.source_dir)
        bad = documents(root / "tests/cli/testdata/bad-policies/cluster-default.yaml")
        for document in bad:
            with self.subTest(policy=document["metadata"]["name"]):
                self.assertFalse(check.is_valid(document))
        for header in ("apiVersion: v1\nkind: NamespacePolicy\nmetadata: {name: a}\n",
                       "apiVersion: palisade.dev/v1\nkind: Policy\nmetadata: {name: a}\n",
                       "apiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata: {name: Team}\n",
                       "apiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata: {name: a, labels: {x: 1}}\n"):
            with self.subTest(header=header):
                self.assertFalse(check.is_valid(yaml.safe_load(case_text("namespaces: [a]", header))))

    def test_lint_and_schema_agree(self):
        check = validator()
        spec_check = validator(spec_only=True)
        for name, spec, valid in CASES:
            with self.subTest(case=name), tempfile.TemporaryDirectory() as directory:
                text = case_text(spec)
                (pathlib.Path(directory) / "policy.yaml").write_text(text)
                lint = json.loads(run("policy", "lint", "-o", "json", directory, check=False).stdout)
                document = yaml.safe_load(text)
                schema_errors = [e.message for e in check.iter_errors(document)]
                self.assertEqual(lint["errors"] == [], valid, lint["errors"])
                self.assertEqual(schema_errors == [], valid, schema_errors)
                self.assertEqual(spec_check.is_valid(document["spec"]), valid)

    def test_sync_script_writes_and_checks_the_values_schema(self):
        script = pathlib.Path(ARGS.source_dir) / "scripts/sync-policy-schema.py"
        sync = [sys.executable, str(script), "--binary", ARGS.binary]
        with tempfile.TemporaryDirectory() as directory:
            path = pathlib.Path(directory) / "values.schema.json"
            # What the chart's file holds before the first sync: a placeholder.
            path.write_text(json.dumps({"type": "object", "$defs": {"namespacePolicySpec": {"type": "object"}}}))
            self.assertEqual(subprocess.run(sync + ["--values-schema", str(path), "--check"],
                                            capture_output=True).returncode, 1)
            subprocess.run(sync + ["--values-schema", str(path)], check=True)
            self.assertEqual(subprocess.run(sync + ["--values-schema", str(path), "--check"]).returncode, 0)
            written = json.loads(path.read_text())
            self.assertEqual(written["type"], "object")
            self.assertEqual(written["$defs"]["namespacePolicySpec"],
                             json.loads(run("policy", "schema", "--spec").stdout))

    def test_chart_values_schema_in_sync(self):
        path = pathlib.Path(ARGS.source_dir) / "charts/palisade/values.schema.json"
        if not path.exists():
            self.skipTest(f"{path} is not there yet")
        script = pathlib.Path(ARGS.source_dir) / "scripts/sync-policy-schema.py"
        self.assertEqual(subprocess.run([sys.executable, str(script), "--binary", ARGS.binary,
                                         "--values-schema", str(path), "--check"]).returncode, 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--source-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest])
