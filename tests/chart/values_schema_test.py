#!/usr/bin/env python3
"""charts/palisade/values.schema.json accepts the chart's value sets and refuses unknown fields,
wrong types and bad enums, as `helm install` checks it (helm-template does not): Helm validates the
chart's defaults merged with the user's values, so this test merges the same way.
"""

import copy
import json
import os
import sys
import unittest

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chart_render import CHART  # noqa: E402

VALUES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "values")

with open(os.path.join(CHART, "values.schema.json")) as f:
    SCHEMA = json.load(f)
with open(os.path.join(CHART, "values.yaml")) as f:
    DEFAULTS = yaml.safe_load(f)


def coalesce(base, override):
    """Helm's merge of values: maps merge key by key, anything else replaces, null deletes."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def errors(user_values):
    validator = jsonschema.Draft7Validator(SCHEMA)
    found = validator.iter_errors(coalesce(DEFAULTS, user_values))
    return sorted("%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message) for e in found)


def spec_schema_filled():
    return SCHEMA["$defs"]["namespacePolicySpec"] != {"type": "object"}


class ValuesSchemaTest(unittest.TestCase):
    def test_schema_is_valid_draft7_and_ends_with_the_policy_spec_definition(self):
        jsonschema.Draft7Validator.check_schema(SCHEMA)
        self.assertEqual(list(SCHEMA)[-1], "$defs")
        self.assertEqual(SCHEMA["properties"]["policies"]["additionalProperties"],
                         {"$ref": "#/$defs/namespacePolicySpec"})

    def test_chart_value_sets_are_accepted(self):
        self.assertEqual(errors({}), [])
        names = sorted(os.listdir(VALUES_DIR))
        self.assertGreaterEqual(len(names), 6)
        for name in names:
            with self.subTest(values=name):
                with open(os.path.join(VALUES_DIR, name)) as f:
                    self.assertEqual(errors(yaml.safe_load(f)), [])

    def test_every_default_value_has_a_schema(self):
        # additionalProperties: false wherever the chart owns the shape, so a value added to
        # values.yaml without a schema entry fails here, not at a user's `helm install`.
        def walk(value, schema, path):
            if "$ref" in schema or not isinstance(value, dict) or "properties" not in schema:
                return
            if isinstance(schema.get("additionalProperties"), dict):  # a map by user-chosen name
                for key in set(value) & set(schema["properties"]):
                    walk(value[key], schema["properties"][key], "%s.%s" % (path, key))
                return
            self.assertIs(schema.get("additionalProperties"), False, path or "(top level)")
            for key, child in value.items():
                self.assertIn(key, schema["properties"], "%s.%s" % (path, key) if path else key)
                walk(child, schema["properties"][key], "%s.%s" % (path, key) if path else key)
        walk(DEFAULTS, SCHEMA, "")

    BAD = [
        ("unknown top-level key", {"replicas": 3}, "Additional properties are not allowed ('replicas' was unexpected)"),
        ("unknown nested key", {"server": {"prot": 8443}}, "Additional properties are not allowed ('prot' was unexpected)"),
        ("string for an integer", {"replicaCount": "3"}, "replicaCount: '3' is not of type 'integer'"),
        ("string for a boolean", {"hostNetwork": "yes"}, "hostNetwork: 'yes' is not of type 'boolean'"),
        ("map for a list", {"extraEnv": {"A": "b"}}, "extraEnv: {'A': 'b'} is not of type 'array'"),
        ("certificate mode", {"certificates": {"mode": "selfSigned"}}, "certificates/mode: 'selfSigned' is not one of"),
        ("failure policy", {"webhook": {"mutating": {"failurePolicy": "Retry"}}},
         "webhook/mutating/failurePolicy: 'Retry' is not one of ['Fail', 'Ignore']"),
        ("log level", {"server": {"logLevel": "trace"}}, "server/logLevel: 'trace' is not one of"),
        ("timeout above 30", {"webhook": {"timeoutSeconds": 31}}, "webhook/timeoutSeconds: 31 is greater than the maximum of 30"),
        ("port out of range", {"server": {"port": 70000}}, "server/port: 70000 is greater than the maximum of 65535"),
        ("policy name", {"policies": {"Team_A": {"namespaces": ["a"]}}}, "'Team_A' does not match"),
        ("policy spec not a map", {"policies": {"team": ["a"]}}, "policies/team: ['a'] is not of type 'object'"),
        ("policy source", {"policySource": "etcd"}, "policySource: 'etcd' is not one of ['configMaps', 'directory']"),
        # The old layout: policies.source is now a policy name, and a string is no policy spec.
        ("old policies.source", {"policies": {"source": "directory"}},
         "policies/source: 'directory' is not of type 'object'"),
        ("annotation value not a string", {"podAnnotations": {"a": 1}}, "podAnnotations/a: 1 is not of type 'string'"),
        ("env entry without name", {"extraEnv": [{"value": "x"}]}, "extraEnv/0: 'name' is a required property"),
    ]

    def test_a_policy_may_be_named_source(self):
        self.assertEqual(errors({"policySource": "directory", "policies": {"source": {"namespaces": ["a"]}}}), [])

    def test_bad_values_are_refused(self):
        for name, values, expected in self.BAD:
            with self.subTest(case=name):
                found = errors(values)
                self.assertTrue(any(expected in e for e in found), "%s not in %s" % (expected, found))

    @unittest.skipUnless(spec_schema_filled(), "the NamespacePolicy spec schema has not landed in $defs yet")
    def test_bad_policy_spec_is_refused(self):
        found = errors({"policies": {"team": {"namespaces": ["team"], "podSecurity": {"warn": "restrictd"}}}})
        # podSecurity may also be null (removes the inherited block), so the error is reported
        # at podSecurity, naming the bad value.
        self.assertTrue(any(e.startswith("policies/team/podSecurity") and "restrictd" in e
                            for e in found), found)
        found = errors({"policies": {"team": {"namespaces": ["team"], "podSecurty": {}}}})
        self.assertTrue(any("podSecurty" in e for e in found), found)
        self.assertEqual(errors({"policies": {"team": {"namespaces": ["team"],
                                                       "podSecurity": {"warn": "restricted:v1.30"}}}}), [])


if __name__ == "__main__":
    unittest.main()
