#!/usr/bin/env python3
"""Writes review_large.json: the shared realistic review grown into a real-world 50 KB pod.

Real pods are bigger than the test review: long env lists, a sidecar or two, the per-field
managedFields the API server records, and annotations such as kubectl's last-applied
configuration. Deterministic, so the benchmark's input does not change between runs.

    bench/data/make_large_review.py ../shared/testdata/review_realistic.json > bench/data/review_large.json
"""
import copy
import json
import sys


def fields_of(value):
    """The FieldsV1 set of a JSON value, as the API server's structured-merge-diff writes it."""
    if isinstance(value, dict):
        out = {}
        for key in sorted(value):
            sub = value[key]
            if key in ("containers", "initContainers", "env", "ports", "volumeMounts", "volumes") \
                    and isinstance(sub, list):
                keyed = {}
                for item in sub:
                    ident = {"name": item["name"]} if "name" in item else \
                        {"containerPort": item.get("containerPort"), "protocol": "TCP"}
                    keyed["k:" + json.dumps(ident, separators=(",", ":"))] = \
                        {".": {}, **fields_of(item)}
                out["f:" + key] = keyed
            elif isinstance(sub, dict):
                out["f:" + key] = {".": {}, **fields_of(sub)}
            else:
                out["f:" + key] = {}
        return out
    return {}


def main():
    review = json.load(open(sys.argv[1]))
    pod = review["request"]["object"]
    spec = pod["spec"]
    app = spec["containers"][0]
    settings = ["MAX_CONNECTIONS", "POOL_SIZE", "TIMEOUT_MS", "RETRY_LIMIT", "CACHE_TTL",
                "BATCH_SIZE", "QUEUE_DEPTH", "WORKERS", "BUFFER_BYTES", "LOG_SAMPLE_RATE"]
    areas = ["CART", "PAYMENT", "LEDGER", "FRAUD", "TAX", "SHIPPING", "INVENTORY", "NOTIFY",
             "PRICING", "SEARCH", "LOYALTY", "REFUND"]
    for area in areas:
        for setting in settings:
            app["env"].append({"name": f"{area}_{setting}", "value": str(len(area) * len(setting))})
    for area in areas:
        app["env"].append({"name": f"{area}_API_KEY", "valueFrom": {
            "secretKeyRef": {"name": f"checkout-{area.lower()}", "key": "api-key"}}})
    agent = copy.deepcopy(spec["containers"][1])
    agent["name"] = "otel-agent"
    agent["image"] = "otel/opentelemetry-collector-contrib:0.112.0"
    agent["args"] = ["--config=/etc/otel/agent.yaml", "--feature-gates=-pkg.translator.prometheus"]
    agent["env"] = [{"name": f"OTEL_RESOURCE_ATTRIBUTE_{i}", "value": f"k8s.label.{i}=v{i}"}
                    for i in range(40)]
    spec["containers"].append(agent)
    last_applied = {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {k: pod["metadata"][k] for k in ("labels", "namespace")},
                    "spec": spec}
    pod["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = \
        json.dumps(last_applied, separators=(",", ":"), sort_keys=True) + "\n"
    for i in range(12):
        pod["metadata"]["annotations"][f"config.shop.example.com/route-{i}"] = \
            f"https://checkout-{i}.payments.svc.cluster.local:8443/v2/route?weight={i * 7}"
    managed = pod["metadata"]["managedFields"][0]
    managed["manager"] = "kubectl-client-side-apply"
    managed["fieldsV1"] = {"f:metadata": fields_of({k: pod["metadata"][k]
                                                    for k in ("annotations", "labels")}),
                           "f:spec": fields_of(spec)}
    controller = copy.deepcopy(managed)
    controller["manager"] = "kube-controller-manager"
    controller["fieldsV1"] = {"f:metadata": {"f:ownerReferences": {
        ".": {}, "k:{\"uid\":\"0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d\"}": {}}}}
    pod["metadata"]["managedFields"].append(controller)
    json.dump(review, sys.stdout, separators=(",", ":"))


main()
