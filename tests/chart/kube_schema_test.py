#!/usr/bin/env python3
"""Every object the chart renders is valid against the Kubernetes API's schemas (and cert-manager's
and prometheus-operator's), for several value sets, strictly: a field the schema of its kind does
not know is an error, as with the API server's strict field validation. Uses the npm package
kubernetes-models offline; scripts/install-npm-tools.sh installs it (into PALISADE_NPM_TOOLS, default
build/npm-tools).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chart_render import REPO, render  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VALUES_DIR = os.path.join(HERE, "values")
TOOLS = os.environ.get("PALISADE_NPM_TOOLS", os.path.join(REPO, "build", "npm-tools"))

# Value set name -> values files. Together they render every template.
VALUE_SETS = {
    "defaults": [],
    "certManager": ["cert-manager.yaml"],
    "existingSecret": ["existing-secret.yaml"],
    "monitoring and networkPolicy": ["monitoring-network-policy.yaml"],
    "HPA": ["autoscaling.yaml"],
    "hostNetwork": ["host-network.yaml"],
    "every option on": ["all-options.yaml"],
    "audit": ["audit.yaml"],
}


def validate(objects):
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(objects, f)
        f.flush()
        proc = subprocess.run(["node", os.path.join(HERE, "validate_kube_objects.js"), TOOLS, f.name],
                              capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


class KubeSchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        subprocess.run([os.path.join(REPO, "scripts", "install-npm-tools.sh"), TOOLS], check=True, timeout=600)

    def test_every_rendered_object_is_valid(self):
        kinds = set()
        for name, files in VALUE_SETS.items():
            with self.subTest(values=name):
                objects = render(values_files=[os.path.join(VALUES_DIR, f) for f in files])
                rc, output = validate(objects)
                self.assertEqual(rc, 0, output)
                self.assertEqual(output.count("\nok ") + output.startswith("ok "), len(objects), output)
                kinds.update(o["kind"] for o in objects)
        # Every template was rendered by some value set.
        self.assertEqual(sorted(kinds), [
            "Certificate", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "CronJob",
            "CustomResourceDefinition", "Deployment", "HorizontalPodAutoscaler", "Issuer",
            "MutatingWebhookConfiguration", "NetworkPolicy", "Pod", "PodDisruptionBudget", "PrometheusRule",
            "Role", "RoleBinding", "Secret", "Service", "ServiceAccount", "ServiceMonitor",
            "ValidatingWebhookConfiguration"])

    def test_the_validator_refuses_invalid_objects(self):
        # A check that cannot fail proves nothing: break objects the way a template bug would.
        objects = render()
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        deployment["spec"]["replicas"] = "3"
        webhook = next(o for o in objects if o["kind"] == "ValidatingWebhookConfiguration")
        del webhook["webhooks"][0]["sideEffects"]
        unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
        rc, output = validate([deployment, webhook, unknown])
        self.assertEqual(rc, 1, output)
        self.assertIn("invalid apps/v1/Deployment palisade: data/spec/replicas must be integer", output)
        self.assertIn("invalid admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration palisade", output)
        self.assertIn("sideEffects", output)
        self.assertIn("invalid example.com/v1/Widget w: no schema known for this kind", output)

    def test_unknown_fields_are_reported(self):
        # kubernetes-models alone accepts unknown fields; a misspelt field is silently dropped (or
        # refused by strict field validation) by the API server.
        objects = render(values_files=[os.path.join(VALUES_DIR, "all-options.yaml")])
        objects += render(values_files=[os.path.join(VALUES_DIR, "audit.yaml")])
        deployment = next(o for o in objects if o["kind"] == "Deployment")
        deployment["spec"]["template"]["spec"]["nodeSelectr"] = {"disk": "ssd"}
        deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
        deployment["metadata"]["labels"]["example.com/any-label"] = "labels are a map: any key"
        crd = next(o for o in objects if o["kind"] == "CustomResourceDefinition")
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        schema["descripton"] = "misspelt"
        schema["properties"]["results"]["items"]["x-kubernetes-map-typ"] = "atomic"
        monitor = next(o for o in objects if o["kind"] == "ServiceMonitor")
        monitor["spec"]["endpoints"][0]["intervall"] = "30s"
        rc, output = validate([deployment, crd, monitor])
        self.assertEqual(rc, 1, output)
        lines = output.splitlines()
        self.assertEqual(lines[0], "invalid apps/v1/Deployment %s: unknown field spec.template.spec.nodeSelectr; "
                                   "unknown field spec.template.spec.containers[0].imagePullPolicyy"
                         % deployment["metadata"]["name"])
        in_schema = "unknown field spec.versions[0].schema.openAPIV3Schema."
        self.assertEqual(lines[1], "invalid apiextensions.k8s.io/v1/CustomResourceDefinition reports.openreports.io: "
                         + in_schema + "descripton; " + in_schema + "properties.results.items.x-kubernetes-map-typ")
        self.assertEqual(lines[2], "invalid monitoring.coreos.com/v1/ServiceMonitor %s: unknown field "
                                   "spec.endpoints[0].intervall" % monitor["metadata"]["name"])

    def test_a_misspelt_field_in_a_template_is_reported(self):
        # The same check on a render: a copy of the chart whose deployment template misspells
        # nodeSelector renders fine and must still fail validation.
        with tempfile.TemporaryDirectory() as tmp:
            chart = os.path.join(tmp, "palisade")
            shutil.copytree(os.path.join(REPO, "charts", "palisade"), chart)
            template = os.path.join(chart, "templates", "deployment.yaml")
            with open(template) as f:
                text = f.read()
            self.assertIn("      nodeSelector:\n", text)
            with open(template, "w") as f:
                f.write(text.replace("      nodeSelector:\n", "      nodeSelectr:\n"))
            objects = render(sets=["nodeSelector.disk=ssd"], chart=chart)
        rc, output = validate(objects)
        self.assertEqual(rc, 1, output)
        self.assertIn("invalid apps/v1/Deployment palisade: unknown field spec.template.spec.nodeSelectr\n", output)


if __name__ == "__main__":
    unittest.main()
