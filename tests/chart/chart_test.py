#!/usr/bin/env python3
"""Renders charts/palisade under several value sets and asserts on the objects.

Run one group: python3 chart_test.py DefaultValuesTest (ctest registers one test per class).
"""

import base64
import os
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chart_render import CHART, NAMESPACE, by_kind, fail_message, one, render  # noqa: E402

NAMESPACED_KINDS = {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "ConfigMap", "Secret",
                    "Role", "RoleBinding",
                    "Issuer", "Certificate", "ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Pod",
                    "HorizontalPodAutoscaler"}
VALUES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "values")

EXPECTED_NAMESPACE_SELECTOR = {
    "matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", NAMESPACE]},
        {"key": "palisade.dev/ignore", "operator": "NotIn", "values": ["true"]},
    ]
}

POD_RULES = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
              "resources": ["pods", "pods/ephemeralcontainers"], "scope": "Namespaced"}]

MUTATING_POD_RULES = [
    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"],
     "scope": "Namespaced"},
    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["pods/ephemeralcontainers"], "scope": "Namespaced"},
]

POLICY_CONFIGMAP_RULES = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                           "resources": ["configmaps"], "scope": "Namespaced"}]

# The webhooks for pods and workloads (the policy ConfigMap entry selects the release namespace).
POD_HOOKS = ("pods.validate.palisade.dev", "workloads.validate.palisade.dev", "pods.mutate.palisade.dev")

WORKLOAD_RULES = [
    {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"], "scope": "Namespaced"},
    {"apiGroups": ["batch"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["jobs", "cronjobs"], "scope": "Namespaced"},
    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["replicationcontrollers", "podtemplates"], "scope": "Namespaced"},
]

TEST_CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUEXAMPLEEXAMPLEEXAMPLEEXAMPLEwCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
"""


def container(deployment):
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, containers
    return containers[0]


def flag(args, name):
    """The value of --name=value in args, or None."""
    values = [a.split("=", 1)[1] for a in args if a.startswith(name + "=")]
    assert len(values) <= 1, (name, args)
    return values[0] if values else None


def webhooks(objects, kind):
    return {w["name"]: w for w in one(objects, kind)["webhooks"]}


def openssl(*args, stdin=None):
    proc = subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), proc.stderr))
    return proc.stdout


class DefaultValuesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = render()
        cls.deployment = one(cls.objects, "Deployment", "palisade")

    def test_renders_exactly_the_default_objects(self):
        kinds = sorted((o["kind"], o["metadata"]["name"]) for o in self.objects)
        self.assertEqual(kinds, [
            ("ClusterRole", "palisade-namespaces"),
            ("ClusterRoleBinding", "palisade-namespaces"),
            ("ConfigMap", "palisade-policies"),
            ("Deployment", "palisade"),
            ("MutatingWebhookConfiguration", "palisade"),
            ("Pod", "palisade-test"),
            ("PodDisruptionBudget", "palisade"),
            ("Role", "palisade"),
            ("RoleBinding", "palisade"),
            ("Secret", "palisade-tls"),
            ("Service", "palisade"),
            ("ServiceAccount", "palisade"),
            ("ValidatingWebhookConfiguration", "palisade"),
        ])

    def test_namespaced_objects_carry_the_release_namespace(self):
        for o in self.objects:
            if o["kind"] in NAMESPACED_KINDS:
                self.assertEqual(o["metadata"].get("namespace"), NAMESPACE, o["kind"])
            else:
                self.assertNotIn("namespace", o["metadata"], o["kind"])

    def test_mutating_webhook(self):
        hooks = webhooks(self.objects, "MutatingWebhookConfiguration")
        self.assertEqual(list(hooks), ["pods.mutate.palisade.dev"])
        hook = hooks["pods.mutate.palisade.dev"]
        self.assertEqual(hook["rules"], MUTATING_POD_RULES)
        self.assertEqual(hook["failurePolicy"], "Fail")
        self.assertEqual(hook["reinvocationPolicy"], "IfNeeded")
        self.assertEqual(hook["sideEffects"], "None")
        self.assertEqual(hook["matchPolicy"], "Equivalent")
        self.assertEqual(hook["admissionReviewVersions"], ["v1", "v1beta1"])
        self.assertEqual(hook["timeoutSeconds"], 10)
        self.assertEqual(hook["namespaceSelector"], EXPECTED_NAMESPACE_SELECTOR)
        self.assertNotIn("objectSelector", hook)
        self.assertEqual(hook["clientConfig"]["service"],
                         {"name": "palisade", "namespace": NAMESPACE, "path": "/mutate", "port": 443})

    def test_validating_webhooks(self):
        hooks = webhooks(self.objects, "ValidatingWebhookConfiguration")
        self.assertEqual(list(hooks), ["pods.validate.palisade.dev", "workloads.validate.palisade.dev",
                                       "policies.validate.palisade.dev"])
        self.assertEqual(hooks["pods.validate.palisade.dev"]["rules"], POD_RULES)
        self.assertEqual(hooks["workloads.validate.palisade.dev"]["rules"], WORKLOAD_RULES)
        policies = hooks.pop("policies.validate.palisade.dev")
        self.assertEqual(policies["rules"], POLICY_CONFIGMAP_RULES)
        self.assertEqual(policies["failurePolicy"], "Ignore")  # installs never wait on palisade
        self.assertEqual(policies["objectSelector"], {"matchLabels": {"palisade.dev/policy": "true"}})
        self.assertEqual(policies["namespaceSelector"],
                         {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}})
        self.assertEqual(policies["clientConfig"]["service"]["path"], "/validate")
        for name, hook in hooks.items():
            with self.subTest(webhook=name):
                self.assertEqual(hook["failurePolicy"], "Fail")
                self.assertNotIn("reinvocationPolicy", hook)  # not a field of validating webhooks
                self.assertEqual(hook["sideEffects"], "None")
                self.assertEqual(hook["matchPolicy"], "Equivalent")
                self.assertEqual(hook["admissionReviewVersions"], ["v1", "v1beta1"])
                self.assertEqual(hook["timeoutSeconds"], 10)
                self.assertEqual(hook["namespaceSelector"], EXPECTED_NAMESPACE_SELECTOR)
                self.assertEqual(hook["clientConfig"]["service"],
                                 {"name": "palisade", "namespace": NAMESPACE, "path": "/validate", "port": 443})

    def test_service_routes_443_to_the_https_port_and_exposes_metrics(self):
        service = one(self.objects, "Service", "palisade")
        ports = {p["name"]: p for p in service["spec"]["ports"]}
        self.assertEqual(ports["https"]["port"], 443)
        self.assertEqual(ports["metrics"]["port"], 9090)
        container_ports = {p["name"]: p["containerPort"] for p in container(self.deployment)["ports"]}
        self.assertEqual(container_ports, {"https": 8443, "metrics": 9090})
        self.assertEqual(container_ports[ports["https"]["targetPort"]], 8443)
        self.assertEqual(container_ports[ports["metrics"]["targetPort"]], 9090)
        self.assertEqual(service["spec"]["selector"], self.deployment["spec"]["selector"]["matchLabels"])

    def test_deployment_shape(self):
        spec = self.deployment["spec"]
        self.assertEqual(spec["replicas"], 3)
        pod_labels = spec["template"]["metadata"]["labels"]
        for k, v in spec["selector"]["matchLabels"].items():
            self.assertEqual(pod_labels[k], v)
        pod = spec["template"]["spec"]
        # The token is mounted: the server watches policy ConfigMaps and namespaces.
        self.assertIs(pod["automountServiceAccountToken"], True)
        self.assertEqual(pod["serviceAccountName"], "palisade")
        self.assertEqual(one(self.objects, "ServiceAccount")["automountServiceAccountToken"], False)
        self.assertEqual(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0)

    def test_probes_use_the_metrics_port(self):
        c = container(self.deployment)
        self.assertEqual(c["startupProbe"]["httpGet"], {"path": "/healthz", "port": "metrics"})
        self.assertEqual(c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"], 60)
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "metrics"})
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "metrics"})

    def test_security_context_is_restricted(self):
        pod = self.deployment["spec"]["template"]["spec"]
        self.assertEqual(pod["securityContext"], {
            "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"}})
        self.assertEqual(container(self.deployment)["securityContext"], {
            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "runAsUser": 65532, "runAsGroup": 65532, "privileged": False, "capabilities": {"drop": ["ALL"]}})
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            self.assertNotIn(field, pod)
        for volume in pod["volumes"]:
            self.assertNotIn("hostPath", volume)

    def test_server_flags_point_into_the_mounted_volumes(self):
        c = container(self.deployment)
        pod = self.deployment["spec"]["template"]["spec"]
        args = c["args"]
        self.assertEqual(args, [
            "--policy-configmaps=" + NAMESPACE,
            "--watch-namespaces=true",
            "--tls-cert-file=/etc/palisade/tls/tls.crt",
            "--tls-key-file=/etc/palisade/tls/tls.key",
            "--listen=0.0.0.0:8443",
            "--metrics-listen=0.0.0.0:9090",
            "--kubernetes-version=1.31",
            "--log-level=info",
            "--log-format=json",
            "--shutdown-delay=5s",
            "--shutdown-grace=20s",
        ])
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        self.assertNotIn("/etc/palisade/policies", mounts)  # read through the API
        self.assertEqual(volumes[mounts["/etc/palisade/tls"]]["secret"]["secretName"], "palisade-tls")
        for m in c["volumeMounts"]:
            if m["mountPath"] != "/tmp":
                self.assertIs(m["readOnly"], True, m)

    def test_topology_spread_across_zones_and_nodes(self):
        constraints = self.deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        self.assertEqual([c["topologyKey"] for c in constraints],
                         ["topology.kubernetes.io/zone", "kubernetes.io/hostname"])
        selector = self.deployment["spec"]["selector"]["matchLabels"]
        for c in constraints:
            self.assertEqual(c["labelSelector"], {"matchLabels": selector})
            self.assertEqual(c["maxSkew"], 1)
            self.assertEqual(c["whenUnsatisfiable"], "ScheduleAnyway")
            self.assertEqual(c["matchLabelKeys"], ["pod-template-hash"])

    def test_policy_configmap_has_no_checksum_but_generated_certificate_does(self):
        annotations = self.deployment["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(sorted(annotations), ["checksum/tls"])
        self.assertRegex(annotations["checksum/tls"], "^[0-9a-f]{64}$")

    def test_pdb_when_more_than_one_replica(self):
        pdb = one(self.objects, "PodDisruptionBudget", "palisade")
        self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], self.deployment["spec"]["selector"]["matchLabels"])

    def test_policy_configmap_holds_one_namespace_policy_document_per_value(self):
        with open(os.path.join(CHART, "values.yaml")) as f:
            policies = yaml.safe_load(f)["policies"]
        configmap = one(self.objects, "ConfigMap", "palisade-policies")
        self.assertEqual(configmap["metadata"]["labels"]["palisade.dev/policy"], "true")
        data = configmap["data"]
        self.assertEqual(sorted(data), sorted(name + ".yaml" for name in policies))
        for name, spec in policies.items():
            documents = list(yaml.safe_load_all(data[name + ".yaml"]))
            self.assertEqual(documents, [{"apiVersion": "palisade.dev/v1", "kind": "NamespacePolicy",
                                          "metadata": {"name": name}, "spec": spec}])

    def test_a_policy_may_be_named_source(self):
        # The policy source is the top-level policySource: no key of policies is reserved.
        objects = render(["policies.source.namespaces={team-a}", "policies.source.podSecurity.enforce=restricted"])
        data = one(objects, "ConfigMap", "palisade-policies")["data"]
        self.assertEqual(sorted(data), ["cluster-default.yaml", "source.yaml"])
        self.assertEqual(yaml.safe_load(data["source.yaml"])["spec"],
                         {"namespaces": ["team-a"], "podSecurity": {"enforce": "restricted"}})
        self.assertEqual(flag(container(one(objects, "Deployment"))["args"], "--policy-configmaps"), NAMESPACE)

    def test_every_value_is_documented_by_a_comment_above_it(self):
        # A key is documented by a comment line directly above it, or by one above an enclosing key.
        undocumented = []
        documented_parents = []  # (indent, documented) of the enclosing keys
        previous = ""
        with open(os.path.join(CHART, "values.yaml")) as f:
            for number, line in enumerate(f, 1):
                stripped = line.strip()
                if not stripped or stripped.startswith("- "):
                    previous = stripped
                    continue
                if stripped.startswith("#"):
                    previous = stripped
                    continue
                indent = len(line) - len(line.lstrip())
                key = stripped.split(":", 1)[0]
                while documented_parents and documented_parents[-1][0] >= indent:
                    documented_parents.pop()
                documented = previous.startswith("#") or any(d for _, d in documented_parents)
                leaf = stripped.split(":", 1)[1].strip() != ""
                if leaf and not documented:
                    undocumented.append("values.yaml:%d: %s" % (number, key))
                documented_parents.append((indent, documented))
                previous = stripped
        self.assertEqual(undocumented, [])

    def test_pods_are_system_cluster_critical_on_the_pod_network(self):
        pod = self.deployment["spec"]["template"]["spec"]
        self.assertEqual(pod["priorityClassName"], "system-cluster-critical")
        self.assertNotIn("dnsPolicy", pod)
        self.assertNotIn("env", container(self.deployment))

    def test_generated_keys_are_ecdsa_p256(self):
        secret = one(self.objects, "Secret", "palisade-tls")
        key = base64.b64decode(secret["data"]["tls.key"]).decode()
        self.assertIn("ASN1 OID: prime256v1", openssl("pkey", "-noout", "-text", stdin=key))
        for name in ("ca.crt", "tls.crt"):
            with self.subTest(certificate=name):
                text = openssl("x509", "-noout", "-text", stdin=base64.b64decode(secret["data"][name]).decode())
                self.assertIn("Public Key Algorithm: id-ecPublicKey", text)
                self.assertIn("NIST CURVE: P-256", text)
                self.assertIn("Signature Algorithm: ecdsa-with-SHA256", text)

    def test_generated_certificate_is_signed_by_the_webhooks_ca_for_the_service(self):
        secret = one(self.objects, "Secret", "palisade-tls")
        self.assertEqual(secret["type"], "kubernetes.io/tls")
        data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        self.assertEqual(sorted(data), ["ca.crt", "tls.crt", "tls.key"])
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            for name, hook in webhooks(self.objects, kind).items():
                with self.subTest(webhook=name):
                    self.assertEqual(base64.b64decode(hook["clientConfig"]["caBundle"]).decode(), data["ca.crt"])
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for k, v in data.items():
                paths[k] = os.path.join(tmp, k)
                with open(paths[k], "w") as f:
                    f.write(v)
            self.assertIn(": OK", openssl("verify", "-CAfile", paths["ca.crt"], paths["tls.crt"]))
            sans = openssl("x509", "-in", paths["tls.crt"], "-noout", "-ext", "subjectAltName")
            for dns in ("palisade", "palisade.palisade-system", "palisade.palisade-system.svc",
                        "palisade.palisade-system.svc.cluster.local"):
                self.assertIn("DNS:%s," % dns, sans.replace("\n", ",") + ",")
            self.assertEqual(openssl("x509", "-in", paths["tls.crt"], "-noout", "-pubkey"),
                             openssl("pkey", "-in", paths["tls.key"], "-pubout"))


class CertManagerTest(unittest.TestCase):
    def test_chart_ca_issuer_chain_and_injected_bundle(self):
        objects = render(["certificates.mode=certManager"])
        self.assertEqual(by_kind(objects, "Secret"), [])
        self.assertEqual(sorted(o["metadata"]["name"] for o in by_kind(objects, "Issuer")),
                         ["palisade-ca", "palisade-selfsigned"])
        ca = one(objects, "Certificate", "palisade-ca")
        self.assertIs(ca["spec"]["isCA"], True)
        self.assertEqual(ca["spec"]["issuerRef"]["name"], "palisade-selfsigned")
        self.assertEqual(one(objects, "Issuer", "palisade-ca")["spec"], {"ca": {"secretName": "palisade-ca"}})
        serving = one(objects, "Certificate", "palisade-tls")
        self.assertEqual(serving["spec"]["issuerRef"], {"group": "cert-manager.io", "kind": "Issuer",
                                                        "name": "palisade-ca"})
        self.assertIn("palisade.palisade-system.svc", serving["spec"]["dnsNames"])
        self.assertEqual(serving["spec"]["secretName"], "palisade-tls")
        deployment = one(objects, "Deployment")
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes["tls"]["secret"]["secretName"], "palisade-tls")
        self.assertNotIn("annotations", deployment["spec"]["template"]["metadata"])
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            config = one(objects, kind)
            self.assertEqual(config["metadata"]["annotations"],
                             {"cert-manager.io/inject-ca-from": "palisade-system/palisade-tls"})
            for hook in config["webhooks"]:
                self.assertNotIn("caBundle", hook["clientConfig"])

    def test_given_issuer_signs_the_serving_certificate(self):
        objects = render(["certificates.mode=certManager", "certificates.certManager.issuerRef.kind=ClusterIssuer",
                          "certificates.certManager.issuerRef.name=corp-ca",
                          "certificates.certManager.issuerRef.group=cert-manager.io"])
        self.assertEqual(by_kind(objects, "Issuer"), [])
        self.assertEqual([c["metadata"]["name"] for c in by_kind(objects, "Certificate")], ["palisade-tls"])
        self.assertEqual(one(objects, "Certificate")["spec"]["issuerRef"],
                         {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "corp-ca"})


class ExistingSecretTest(unittest.TestCase):
    def test_pem_bundle_is_encoded_and_secret_is_mounted(self):
        objects = render(["certificates.mode=existingSecret", "certificates.existingSecret.name=my-tls"],
                         set_strings=["certificates.existingSecret.caBundle=" + TEST_CA_PEM])
        self.assertEqual(by_kind(objects, "Secret"), [])
        self.assertEqual(by_kind(objects, "Certificate"), [])
        deployment = one(objects, "Deployment")
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes["tls"]["secret"]["secretName"], "my-tls")
        self.assertNotIn("annotations", deployment["spec"]["template"]["metadata"])
        expected = base64.b64encode(TEST_CA_PEM.strip().encode()).decode()
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            config = one(objects, kind)
            self.assertNotIn("annotations", config["metadata"])
            for hook in config["webhooks"]:
                self.assertEqual(hook["clientConfig"]["caBundle"], expected)

    def test_base64_bundle_is_passed_through(self):
        encoded = base64.b64encode(TEST_CA_PEM.encode()).decode()
        objects = render(["certificates.mode=existingSecret", "certificates.existingSecret.name=my-tls",
                          "certificates.existingSecret.caBundle=" + encoded])
        for hook in one(objects, "ValidatingWebhookConfiguration")["webhooks"]:
            self.assertEqual(hook["clientConfig"]["caBundle"], encoded)


class SingleReplicaTest(unittest.TestCase):
    def test_no_pdb_with_one_replica(self):
        objects = render(["replicaCount=1"])
        self.assertEqual(one(objects, "Deployment")["spec"]["replicas"], 1)
        self.assertEqual(by_kind(objects, "PodDisruptionBudget"), [])

    def test_pdb_can_be_disabled(self):
        self.assertEqual(by_kind(render(["podDisruptionBudget.enabled=false"]), "PodDisruptionBudget"), [])


class MonitoringAndNetworkPolicyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = render(["metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true",
                              "networkPolicy.enabled=true", "metrics.serviceMonitor.labels.release=prom"])

    def test_service_monitor_scrapes_the_metrics_port_of_the_service(self):
        monitor = one(self.objects, "ServiceMonitor", "palisade")
        service = one(self.objects, "Service", "palisade")
        self.assertEqual(monitor["metadata"]["labels"]["release"], "prom")
        for k, v in monitor["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(service["metadata"]["labels"][k], v)
        self.assertEqual(monitor["spec"]["namespaceSelector"], {"matchNames": [NAMESPACE]})
        self.assertEqual([e["port"] for e in monitor["spec"]["endpoints"]], ["metrics"])
        self.assertIn("metrics", [p["name"] for p in service["spec"]["ports"]])
        self.assertEqual(monitor["spec"]["endpoints"][0]["path"], "/metrics")

    def test_prometheus_rule_alerts(self):
        rule = one(self.objects, "PrometheusRule", "palisade")
        (group,) = rule["spec"]["groups"]
        alerts = {r["alert"]: r for r in group["rules"]}
        self.assertEqual(sorted(alerts), ["PalisadeCertificateExpiringSoon", "PalisadeDenialSpike",
                                          "PalisadeHighLatency", "PalisadePolicyReloadFailed"])
        sel = 'job="palisade",namespace="palisade-system"'
        self.assertIn('palisade_requests_total{%s,decision="denied"}[5m]' % sel, alerts["PalisadeDenialSpike"]["expr"])
        self.assertIn("offset 1d", alerts["PalisadeDenialSpike"]["expr"])
        self.assertEqual(alerts["PalisadeHighLatency"]["expr"].strip(),
                         "histogram_quantile(0.99, sum by (le) (rate(palisade_request_duration_seconds_bucket{%s}[5m])))"
                         " > 0.25" % sel)
        self.assertEqual(alerts["PalisadePolicyReloadFailed"]["expr"].strip(),
                         'sum(increase(palisade_policy_reloads_total{%s,result="error"}[10m])) > 0' % sel)
        self.assertEqual(alerts["PalisadeCertificateExpiringSoon"]["expr"].strip(),
                         "min(palisade_tls_certificate_expiry_timestamp_seconds{%s}) - time() < %d" % (sel, 14 * 86400))
        for name, alert in alerts.items():
            with self.subTest(alert=name):
                self.assertIn(alert["labels"]["severity"], ("warning", "critical"))
                self.assertTrue(alert["annotations"]["summary"])
                # Prometheus templates survive the chart's own templating.
                self.assertNotIn("{{ {{", alert["annotations"]["description"])

    def test_network_policy_opens_webhook_and_metrics_ports_only(self):
        policy = one(self.objects, "NetworkPolicy", "palisade")
        deployment = one(self.objects, "Deployment")
        self.assertEqual(policy["spec"]["podSelector"], {"matchLabels": deployment["spec"]["selector"]["matchLabels"]})
        self.assertEqual(policy["spec"]["policyTypes"], ["Ingress", "Egress"])
        # Only the Kubernetes API (by IP, no DNS).
        self.assertEqual(policy["spec"]["egress"],
                         [{"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]}])
        self.assertEqual(policy["spec"]["ingress"], [
            {"ports": [{"port": "https", "protocol": "TCP"}]},
            {"ports": [{"port": "metrics", "protocol": "TCP"}],
             "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]},
        ])
        names = [p["name"] for p in container(deployment)["ports"]]
        self.assertIn("https", names)
        self.assertIn("metrics", names)


class OptionsTest(unittest.TestCase):
    def test_rbac_is_least_privilege(self):
        objects = render()
        role = one(objects, "Role", "palisade")
        self.assertEqual(role["rules"], [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
        ])
        self.assertEqual(one(objects, "ClusterRole")["rules"], [
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}])
        subject = [{"kind": "ServiceAccount", "name": "palisade", "namespace": NAMESPACE}]
        self.assertEqual(one(objects, "RoleBinding")["subjects"], subject)
        self.assertEqual(one(objects, "RoleBinding")["roleRef"]["name"], "palisade")
        self.assertEqual(one(objects, "ClusterRoleBinding")["subjects"], subject)
        self.assertEqual(one(objects, "ClusterRoleBinding")["roleRef"]["name"], "palisade-namespaces")
        kinds = {o["kind"] for o in render(["rbac.create=false"])}
        self.assertFalse(kinds & {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})

    def test_directory_source_mounts_the_policies_and_reads_no_configmaps(self):
        objects = render(["policySource=directory"])
        args = container(one(objects, "Deployment"))["args"]
        self.assertEqual(flag(args, "--policy-dir"), "/etc/palisade/policies")
        self.assertIsNone(flag(args, "--policy-configmaps"))
        self.assertEqual(flag(args, "--watch-namespaces"), "true")
        self.assertEqual(by_kind(objects, "Role"), [])
        self.assertEqual(len(by_kind(objects, "ClusterRole")), 1)
        self.assertNotIn("palisade.dev/policy", one(objects, "ConfigMap")["metadata"]["labels"])
        self.assertNotIn("policies.validate.palisade.dev",
                         webhooks(objects, "ValidatingWebhookConfiguration"))
        # Not connected at all: no token, no RBAC, no egress.
        objects = render(["policySource=directory", "server.watchNamespaces=false",
                          "networkPolicy.enabled=true"])
        deployment = one(objects, "Deployment")
        self.assertIs(deployment["spec"]["template"]["spec"]["automountServiceAccountToken"], False)
        self.assertIsNone(flag(container(deployment)["args"], "--watch-namespaces"))
        self.assertEqual(by_kind(objects, "ClusterRole"), [])
        self.assertEqual(one(objects, "NetworkPolicy")["spec"]["egress"], [])
        self.assertEqual(fail_message(["policySource=etcd"]), "palisade: policySource must be configMaps or directory")

    def test_label_guard_flag_and_namespace_webhook(self):
        self.assertNotIn("namespaces.validate.palisade.dev",
                         webhooks(render(), "ValidatingWebhookConfiguration"))
        objects = render(["labelGuard.enabled=true", "labelGuard.admins={alice,sre-team}"])
        self.assertEqual(flag(container(one(objects, "Deployment"))["args"], "--label-guard-admins"),
                         "alice,sre-team")
        hook = webhooks(objects, "ValidatingWebhookConfiguration")["namespaces.validate.palisade.dev"]
        self.assertEqual(hook["rules"], [{"apiGroups": [""], "apiVersions": ["v1"],
                                          "operations": ["CREATE", "UPDATE"],
                                          "resources": ["namespaces"], "scope": "Cluster"}])
        self.assertEqual(hook["failurePolicy"], "Fail")
        self.assertEqual(hook["clientConfig"]["service"]["path"], "/validate")

    def test_excluded_namespaces_and_custom_opt_out_label(self):
        objects = render(["webhook.excludedNamespaces={monitoring,kube-system}", "webhook.optOutLabel=example.com/skip"])
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            for hook in one(objects, kind)["webhooks"]:
                if hook["name"] not in POD_HOOKS:
                    continue
                self.assertEqual(hook["namespaceSelector"]["matchExpressions"], [
                    {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                     "values": ["kube-system", NAMESPACE, "monitoring"]},
                    {"key": "example.com/skip", "operator": "NotIn", "values": ["true"]},
                ])

    def test_workloads_failure_policy_and_switch(self):
        hooks = webhooks(render(["webhook.workloads.failurePolicy=Ignore", "webhook.timeoutSeconds=5"]),
                         "ValidatingWebhookConfiguration")
        hooks.pop("policies.validate.palisade.dev")
        self.assertEqual(hooks["workloads.validate.palisade.dev"]["failurePolicy"], "Ignore")
        self.assertEqual(hooks["pods.validate.palisade.dev"]["failurePolicy"], "Fail")
        self.assertEqual({h["timeoutSeconds"] for h in hooks.values()}, {5})
        hooks = webhooks(render(["webhook.workloads.enabled=false", "policySource=directory"]),
                         "ValidatingWebhookConfiguration")
        self.assertEqual(list(hooks), ["pods.validate.palisade.dev"])

    def test_webhook_configurations_can_be_turned_off(self):
        objects = render(["webhook.mutating.enabled=false"])
        self.assertEqual(by_kind(objects, "MutatingWebhookConfiguration"), [])
        self.assertEqual(len(by_kind(objects, "ValidatingWebhookConfiguration")), 1)

    def test_release_name_becomes_the_service_and_certificate_name(self):
        objects = render(release="guard", namespace="security")
        service = one(objects, "Service")
        self.assertEqual(service["metadata"]["name"], "guard-palisade")
        for hook in one(objects, "ValidatingWebhookConfiguration")["webhooks"]:
            self.assertEqual(hook["clientConfig"]["service"]["name"], "guard-palisade")
            if hook["name"] == "policies.validate.palisade.dev":
                self.assertEqual(hook["namespaceSelector"]["matchLabels"],
                                 {"kubernetes.io/metadata.name": "security"})
                continue
            self.assertEqual(hook["namespaceSelector"]["matchExpressions"][0]["values"], ["kube-system", "security"])
        secret = one(objects, "Secret")
        with tempfile.NamedTemporaryFile("w", suffix=".crt") as f:
            f.write(base64.b64decode(secret["data"]["tls.crt"]).decode())
            f.flush()
            self.assertIn("DNS:guard-palisade.security.svc", openssl("x509", "-in", f.name, "-noout", "-ext", "subjectAltName"))

    def test_older_cluster_gets_its_version_and_no_match_label_keys(self):
        deployment = one(render(kube_version="1.26.3"), "Deployment")
        self.assertEqual(flag(container(deployment)["args"], "--kubernetes-version"), "1.26")
        for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]:
            self.assertNotIn("matchLabelKeys", c)
        deployment = one(render(["server.kubernetesVersion=1.29"]), "Deployment")
        self.assertEqual(flag(container(deployment)["args"], "--kubernetes-version"), "1.29")

    def test_server_options_become_flags(self):
        deployment = one(render(["server.listenAddress=::", "server.threads=4", "server.logFormat=text",
                                 "server.clientCA.configMapName=apiserver-ca", "server.extraArgs={--foo=bar}"]),
                         "Deployment")
        c = container(deployment)
        args = c["args"]
        self.assertEqual(flag(args, "--listen"), "[::]:8443")
        self.assertEqual(flag(args, "--metrics-listen"), "[::]:9090")
        self.assertEqual(flag(args, "--threads"), "4")
        self.assertEqual(flag(args, "--log-format"), "text")
        self.assertEqual(flag(args, "--client-ca-file"), "/etc/palisade/client-ca/ca.crt")
        self.assertEqual(args[-1], "--foo=bar")
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes[mounts["/etc/palisade/client-ca"]]["configMap"]["name"], "apiserver-ca")

    def test_host_network_uses_the_nodes_ports_and_cluster_dns(self):
        deployment = one(render(values_files=[os.path.join(VALUES_DIR, "host-network.yaml")]), "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        self.assertIs(pod["hostNetwork"], True)
        self.assertEqual(pod["dnsPolicy"], "ClusterFirstWithHostNet")
        c = container(deployment)
        self.assertEqual({p["name"]: p["containerPort"] for p in c["ports"]}, {"https": 10250, "metrics": 10251})
        self.assertEqual(flag(c["args"], "--listen"), "0.0.0.0:10250")
        self.assertEqual(flag(c["args"], "--metrics-listen"), "0.0.0.0:10251")
        pod = one(render(["hostNetwork=true", "dnsPolicy=Default"]), "Deployment")["spec"]["template"]["spec"]
        self.assertEqual(pod["dnsPolicy"], "Default")

    def test_failure_policy_per_webhook(self):
        objects = render(["webhook.mutating.failurePolicy=Ignore", "webhook.validating.failurePolicy=Ignore"])
        self.assertEqual(webhooks(objects, "MutatingWebhookConfiguration")["pods.mutate.palisade.dev"]["failurePolicy"],
                         "Ignore")
        hooks = webhooks(objects, "ValidatingWebhookConfiguration")
        self.assertEqual(hooks["pods.validate.palisade.dev"]["failurePolicy"], "Ignore")
        self.assertEqual(hooks["workloads.validate.palisade.dev"]["failurePolicy"], "Fail")

    def test_every_option_on(self):
        objects = render(values_files=[os.path.join(VALUES_DIR, "all-options.yaml")])
        deployment = one(objects, "Deployment", "guard")
        self.assertEqual(deployment["metadata"]["annotations"], {"example.com/rollout": "manual"})
        pod = deployment["spec"]["template"]["spec"]
        self.assertEqual(pod["priorityClassName"], "platform-critical")
        c = container(deployment)
        self.assertEqual(c["env"], [{"name": "MIMALLOC_PURGE_DELAY", "value": "0"}])
        self.assertEqual(c["volumeMounts"][-1], {"name": "profiles", "mountPath": "/etc/palisade/extra",
                                                 "readOnly": True})
        self.assertEqual(pod["volumes"][-1], {"name": "profiles", "configMap": {"name": "palisade-extra"}})
        self.assertEqual(c["startupProbe"]["failureThreshold"], 60)
        self.assertEqual(deployment["spec"]["template"]["metadata"]["annotations"], {"example.com/scrape": "true"})
        self.assertEqual(one(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"], "50%")
        self.assertEqual(one(objects, "HorizontalPodAutoscaler")["spec"]["minReplicas"], 3)
        self.assertNotIn("startupProbe", container(one(render(["startupProbe.enabled=false"]), "Deployment")))

    def test_localhost_seccomp_profile(self):
        deployment = one(render(["podSecurityContext.seccompProfile.type=Localhost",
                                 "podSecurityContext.seccompProfile.localhostProfile=palisade.json"]), "Deployment")
        self.assertEqual(deployment["spec"]["template"]["spec"]["securityContext"]["seccompProfile"],
                         {"type": "Localhost", "localhostProfile": "palisade.json"})

    def test_cluster_default_policy_can_be_removed(self):
        self.assertFalse(one(render(["policies.cluster-default=null"]), "ConfigMap", "palisade-policies").get("data"))
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump({"policies": {"cluster-default": None, "team": {"namespaces": ["team"]}}}, f)
            f.flush()
            data = one(render(values_files=[f.name]), "ConfigMap", "palisade-policies")["data"]
        self.assertEqual(sorted(data), ["team.yaml"])

    def test_policies_from_a_values_file_merge_with_the_defaults(self):
        extra = {"policies": {"payments": {"namespaces": ["payments", "payments-*"],
                                           "podSecurity": {"enforce": "restricted"},
                                           "rules": {"allowedCapabilities": ["NET_BIND_SERVICE"]}}}}
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(extra, f)
            f.flush()
            data = one(render(values_files=[f.name]), "ConfigMap")["data"]
        self.assertEqual(sorted(data), ["cluster-default.yaml", "payments.yaml"])
        self.assertEqual(yaml.safe_load(data["payments.yaml"]),
                         {"apiVersion": "palisade.dev/v1", "kind": "NamespacePolicy",
                          "metadata": {"name": "payments"}, "spec": extra["policies"]["payments"]})


class HelmTestHookTest(unittest.TestCase):
    """The `helm test` pod: the palisade image runs `palisade selftest` against the Service."""

    def hook(self, objects, name="palisade-test"):
        pod = one(objects, "Pod", name)
        self.assertEqual(pod["metadata"]["annotations"]["helm.sh/hook"], "test")
        return pod

    def test_hook_pod_calls_the_service_with_the_webhooks_ca(self):
        objects = render()
        pod = self.hook(objects)
        self.assertEqual(pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"],
                         "before-hook-creation,hook-succeeded")
        spec = pod["spec"]
        self.assertEqual(spec["restartPolicy"], "Never")
        self.assertIs(spec["automountServiceAccountToken"], False)
        c = spec["containers"][0]
        deployment = one(objects, "Deployment")
        self.assertEqual(c["image"], container(deployment)["image"])
        self.assertEqual(c["command"], ["/usr/bin/palisade"])
        self.assertEqual(c["args"], ["selftest", "--url=https://palisade.palisade-system.svc:443",
                                     "--ca-file=/etc/palisade/ca/ca.crt", "--namespace=palisade-helm-test"])
        self.assertEqual(c["volumeMounts"], [{"name": "ca", "mountPath": "/etc/palisade/ca", "readOnly": True}])
        self.assertEqual(spec["volumes"], [{"name": "ca", "secret": {
            "secretName": "palisade-tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}])
        self.assertIn("ca.crt", one(objects, "Secret", "palisade-tls")["data"])
        # Not selected by the Service or the PodDisruptionBudget.
        selector = one(objects, "Service")["spec"]["selector"]
        labels = pod["metadata"]["labels"]
        self.assertFalse(all(labels.get(k) == v for k, v in selector.items()), labels)

    def test_existing_secret_ca_reaches_the_test_through_a_hook_config_map(self):
        objects = render(values_files=[os.path.join(VALUES_DIR, "existing-secret.yaml")])
        pod = self.hook(objects)
        config_map = one(objects, "ConfigMap", "palisade-test-ca")
        self.assertEqual(config_map["metadata"]["annotations"]["helm.sh/hook"], "test")
        self.assertEqual(config_map["metadata"]["annotations"]["helm.sh/hook-weight"], "-1")
        with open(os.path.join(VALUES_DIR, "existing-secret.yaml")) as f:
            bundle = yaml.safe_load(f)["certificates"]["existingSecret"]["caBundle"]
        self.assertEqual(config_map["data"]["ca.crt"].strip(), bundle.strip())
        self.assertEqual(pod["spec"]["volumes"], [{"name": "ca", "configMap": {"name": "palisade-test-ca"}}])

    def test_network_policy_lets_the_test_reach_the_webhook(self):
        objects = render(values_files=[os.path.join(VALUES_DIR, "monitoring-network-policy.yaml")])
        policy = one(objects, "NetworkPolicy")
        sources = policy["spec"]["ingress"][0]["from"]
        pod_labels = self.hook(objects)["metadata"]["labels"]
        self.assertEqual(sources[0], {"ipBlock": {"cidr": "10.0.0.0/8"}})
        selector = sources[1]["podSelector"]["matchLabels"]
        self.assertTrue(all(pod_labels[k] == v for k, v in selector.items()), (selector, pod_labels))

    def test_tests_can_be_turned_off_and_target_another_namespace(self):
        self.assertEqual(by_kind(render(["tests.enabled=false"]), "Pod"), [])
        pod = self.hook(render(["tests.namespace=team-a", "service.port=8443"], release="guard"), "guard-palisade-test")
        self.assertIn("--namespace=team-a", pod["spec"]["containers"][0]["args"])
        self.assertIn("--url=https://guard-palisade.palisade-system.svc:8443", pod["spec"]["containers"][0]["args"])


class AutoscalingTest(unittest.TestCase):
    def test_hpa_scales_the_deployment_on_cpu_and_the_pdb_follows_its_minimum(self):
        objects = render(values_files=[os.path.join(VALUES_DIR, "autoscaling.yaml")])
        deployment = one(objects, "Deployment")
        self.assertNotIn("replicas", deployment["spec"])
        hpa = one(objects, "HorizontalPodAutoscaler", "palisade")
        self.assertEqual(hpa["apiVersion"], "autoscaling/v2")
        self.assertEqual(hpa["spec"]["scaleTargetRef"], {"apiVersion": "apps/v1", "kind": "Deployment",
                                                         "name": "palisade"})
        self.assertEqual((hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]), (2, 6))
        self.assertEqual(hpa["spec"]["metrics"], [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}])
        self.assertEqual(one(objects, "PodDisruptionBudget")["spec"]["maxUnavailable"], 1)

    def test_no_pdb_when_the_hpa_may_go_down_to_one(self):
        objects = render(["autoscaling.enabled=true", "autoscaling.minReplicas=1", "replicaCount=3"])
        self.assertEqual(by_kind(objects, "PodDisruptionBudget"), [])
        self.assertEqual(len(by_kind(objects, "HorizontalPodAutoscaler")), 1)

    def test_no_hpa_by_default(self):
        self.assertEqual(by_kind(render(), "HorizontalPodAutoscaler"), [])


class AuditTest(unittest.TestCase):
    """audit.enabled: the CronJob, its own ServiceAccount and least-privilege RBAC, the Report CRD."""

    @classmethod
    def setUpClass(cls):
        cls.objects = render(values_files=[os.path.join(VALUES_DIR, "audit.yaml")])
        cls.cronjob = one(cls.objects, "CronJob", "palisade-audit")
        cls.pod = cls.cronjob["spec"]["jobTemplate"]["spec"]["template"]

    def test_off_by_default(self):
        objects = render()
        kinds = {o["kind"] for o in objects}
        self.assertFalse(kinds & {"CronJob", "CustomResourceDefinition"}, kinds)
        # The server's own RBAC stays; nothing of the audit's.
        names = [o["metadata"]["name"] for o in objects]
        self.assertFalse([n for n in names if "audit" in n], names)

    def test_cronjob_runs_audit_with_the_live_policies_and_writes_reports(self):
        self.assertEqual(self.cronjob["metadata"]["namespace"], NAMESPACE)
        self.assertEqual(self.cronjob["spec"]["schedule"], "*/30 * * * *")
        self.assertEqual(self.cronjob["spec"]["concurrencyPolicy"], "Forbid")
        (c,) = self.pod["spec"]["containers"]
        self.assertEqual(c["args"], ["audit", "--policy-configmaps=" + NAMESPACE, "--write-reports",
                                     "--exit-zero-on-findings", "--max-report-results=500"])
        self.assertEqual(self.pod["spec"]["restartPolicy"], "Never")
        self.assertEqual(self.pod["spec"]["serviceAccountName"], "palisade-audit")
        self.assertTrue(self.pod["spec"]["automountServiceAccountToken"])

    def test_the_policy_configmap_is_labelled_for_audit(self):
        configmap = one(self.objects, "ConfigMap", "palisade-policies")
        self.assertEqual(configmap["metadata"]["labels"]["palisade.dev/policy"], "true")

    def test_hardened_like_the_server(self):
        deployment = one(self.objects, "Deployment", "palisade")
        server = container(deployment)
        (c,) = self.pod["spec"]["containers"]
        self.assertEqual(c["securityContext"], server["securityContext"])
        self.assertEqual(self.pod["spec"]["securityContext"], deployment["spec"]["template"]["spec"]["securityContext"])
        self.assertTrue(c["securityContext"]["readOnlyRootFilesystem"])
        self.assertTrue(c["securityContext"]["runAsNonRoot"])
        self.assertEqual(c["securityContext"]["capabilities"], {"drop": ["ALL"]})
        self.assertEqual(self.pod["spec"]["securityContext"]["seccompProfile"], {"type": "RuntimeDefault"})

    def test_pods_are_not_selected_by_the_service_or_the_network_policy(self):
        labels = self.pod["metadata"]["labels"]
        self.assertEqual(labels["app.kubernetes.io/name"], "palisade-audit")
        self.assertEqual(labels["app.kubernetes.io/component"], "audit")

    def test_rbac_reads_workloads_writes_reports_and_nothing_else(self):
        role = one(self.objects, "ClusterRole", "palisade-audit")
        rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): r["verbs"] for r in role["rules"]}
        self.assertEqual(rules, {
            (("",), ("pods", "replicationcontrollers", "podtemplates", "namespaces")): ["get", "list"],
            (("apps",), ("deployments", "replicasets", "statefulsets", "daemonsets")): ["get", "list"],
            (("batch",), ("jobs", "cronjobs")): ["get", "list"],
            (("openreports.io",), ("reports",)): ["get", "list", "create", "update", "delete"],
        })
        policy_role = one(self.objects, "Role", "palisade-audit")
        self.assertEqual(policy_role["metadata"]["namespace"], NAMESPACE)
        self.assertEqual(policy_role["rules"], [{"apiGroups": [""], "resources": ["configmaps"],
                                                "verbs": ["get", "list"]}])
        for kind in ("ClusterRoleBinding", "RoleBinding"):
            binding = one(self.objects, kind, "palisade-audit")
            self.assertEqual(binding["subjects"], [{"kind": "ServiceAccount", "name": "palisade-audit",
                                                    "namespace": NAMESPACE}])
        account = one(self.objects, "ServiceAccount", "palisade-audit")
        self.assertEqual(account["metadata"]["namespace"], NAMESPACE)

    def test_report_crd_is_installed_and_kept_unless_turned_off(self):
        crd = one(self.objects, "CustomResourceDefinition", "reports.openreports.io")
        self.assertEqual(crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep")
        self.assertEqual(crd["spec"]["names"]["kind"], "Report")
        off = render(values_files=[os.path.join(VALUES_DIR, "audit.yaml")], sets=["audit.installCRD=false"])
        self.assertEqual(by_kind(off, "CustomResourceDefinition"), [])
        self.assertEqual(len(by_kind(off, "CronJob")), 1)


class BadValuesTest(unittest.TestCase):
    CASES = [
        ("unknown certificate mode", ["certificates.mode=selfSigned"],
         'palisade: certificates.mode must be one of generated, certManager or existingSecret (got "selfSigned")'),
        ("existing secret without name", ["certificates.mode=existingSecret"],
         "palisade: certificates.mode=existingSecret needs certificates.existingSecret.name "
         "(a kubernetes.io/tls Secret in the release namespace)"),
        ("existing secret without CA bundle", ["certificates.mode=existingSecret", "certificates.existingSecret.name=x"],
         "palisade: certificates.mode=existingSecret needs certificates.existingSecret.caBundle "
         "(the PEM CA that signed the Secret's certificate)"),
        ("zero replicas", ["replicaCount=0"], "palisade: replicaCount must be at least 1 (got 0)"),
        ("timeout too long", ["webhook.timeoutSeconds=31"],
         "palisade: webhook.timeoutSeconds must be between 1 and 30 (got 31)"),
        ("timeout zero", ["webhook.timeoutSeconds=0"],
         "palisade: webhook.timeoutSeconds must be between 1 and 30 (got 0)"),
        ("workload failure policy", ["webhook.workloads.failurePolicy=Retry"],
         'palisade: webhook.workloads.failurePolicy must be Fail or Ignore (got "Retry")'),
        ("pod failure policy", ["webhook.validating.failurePolicy=fail"],
         'palisade: webhook.validating.failurePolicy must be Fail or Ignore (got "fail")'),
        ("autoscaling bounds", ["autoscaling.enabled=true", "autoscaling.minReplicas=5", "autoscaling.maxReplicas=4"],
         "palisade: autoscaling needs 1 <= minReplicas <= maxReplicas (got 5 and 4)"),
        ("autoscaling without a CPU request", ["autoscaling.enabled=true", "resources.requests.cpu=null"],
         "palisade: autoscaling on CPU needs resources.requests.cpu (the utilization target is a percentage of it)"),
        ("log format", ["server.logFormat=xml"], 'palisade: server.logFormat must be json or text (got "xml")'),
        ("log level", ["server.logLevel=trace"],
         'palisade: server.logLevel must be debug, info, warn or error (got "trace")'),
        ("shutdown longer than the grace period", ["server.shutdownGraceSeconds=30"],
         "palisade: server.shutdownDelaySeconds (5) + server.shutdownGraceSeconds (30) must be below "
         "terminationGracePeriodSeconds (30), or the kubelet kills requests in flight"),
        ("kubernetes version", ["server.kubernetesVersion=v1.31.2"],
         'palisade: server.kubernetesVersion must look like 1.31 (got "v1.31.2")'),
        ("localhost seccomp without profile", ["podSecurityContext.seccompProfile.type=Localhost"],
         "palisade: podSecurityContext.seccompProfile.type=Localhost needs localhostProfile "
         "(the profile's path under the kubelet's seccomp directory)"),
        ("policy without namespaces", ["policies.team.podSecurity.enforce=restricted"],
         'palisade: policies.team.namespaces must be a non-empty list of namespace names or globs '
         '("*" is the cluster default)'),
        ("policy name not a key", ["policies.Team_A.namespaces={a}"],
         "palisade: policies.Team_A: a policy name must be lower-case letters, digits, '-' and '.' "
         "(it names a ConfigMap key and appears in messages)"),
        ("the old policies.source", ["policies.source=directory"],
         "palisade: policies.source moved to the top-level value policySource (set policySource: directory); "
         "every key of policies is a policy name"),
    ]

    def test_bad_values_fail_with_a_clear_message(self):
        for name, sets, message in self.CASES:
            with self.subTest(case=name):
                self.assertEqual(fail_message(sets), message)


if __name__ == "__main__":
    unittest.main()
