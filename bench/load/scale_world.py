#!/usr/bin/env python3
"""The world of bench/load/run.sh --scale: seeds a running fake API server
(tests/support/fake_apiserver.py) with N Namespaces of 5 labels each and writes M NamespacePolicy
documents that cover them into a policy directory, plus a kubeconfig for the fake.

    scale_world.py --fake-dir DIR --port P --control-port C --token T --kubeconfig FILE
                   --policy-dir DIR [--namespaces 10000] [--policies 1000]

Deterministic: the same arguments give the same namespaces and policies. The review's namespace
"payments" is among the namespaces and has its own policy (bench/load/payments.yaml).
"""
import argparse
import json
import os
import urllib.request

ENVS = ["prod", "staging", "dev"]
APPS = ["api", "web", "worker", "db", "cache", "batch", "search", "auth", "billing", "events",
        "reports", "gateway", "ingest", "ml", "notify", "export", "cron"]
TEAMS = 200  # t000 .. t199
PSA_LEVELS = ["baseline", "restricted", "privileged"]


def namespace(i):
    """Namespace i: name and its 5 labels, as clusters label them."""
    team = "t%03d" % (i % TEAMS)
    env = ENVS[(i // TEAMS) % len(ENVS)]
    app = APPS[(i // (TEAMS * len(ENVS))) % len(APPS)]
    serial = i // (TEAMS * len(ENVS) * len(APPS))
    name = "%s-%s-%s" % (team, app, env) + ("-%d" % serial if serial else "")
    labels = {
        "kubernetes.io/metadata.name": name,
        "team": team,
        "env": env,
        "cost-center": "cc-%04d" % (1000 + (i % TEAMS) // 4),
    }
    # One namespace in four pins its PSA level with a label; the others name their system.
    if i % 4 == 0:
        labels["pod-security.kubernetes.io/enforce"] = PSA_LEVELS[(i // 4) % len(PSA_LEVELS)]
    else:
        labels["app.kubernetes.io/part-of"] = app
    return name, labels


def namespaces(count):
    result = [("payments", {"kubernetes.io/metadata.name": "payments", "team": "payments",
                            "env": "prod", "cost-center": "cc-0042",
                            "pod-security.kubernetes.io/enforce": "baseline"})]
    i = 0
    while len(result) < count:
        result.append(namespace(i))
        i += 1
    return result


DEFAULTS = """  defaults:
    seccompProfile: {type: RuntimeDefault}
    capabilities: {drop: [ALL]}
    allowPrivilegeEscalation: false
"""
RULES = """  rules:
    action: %s
    allowedCapabilities: [NET_BIND_SERVICE]
    requiredDropCapabilities: [ALL]
    allowedSeccompProfiles: ["RuntimeDefault", "Localhost/profiles/*"]
"""


def policy(name, match, enforce, warn, defaults=False, rules=None):
    text = ("apiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata:\n  name: %s\nspec:\n"
            "%s  podSecurity: {enforce: %s, warn: %s}\n" % (name, match, enforce, warn))
    if defaults:
        text += DEFAULTS
    if rules:
        text += RULES % rules
    return text


def policies(count, names):
    """`count` policies: the cluster default, payments, then in turn an exact-name policy, a
    kubernetes.io/metadata.name selector, team selectors with matchExpressions and cost-center
    selectors; one in three with defaults, one in five with rules."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "payments.yaml")) as f:
        docs = [policy("cluster-default", '  namespaces: ["*"]\n', "baseline", "restricted",
                       defaults=True),
                f.read()]
    exact = iter(names[1:])            # each namespace named by at most one policy
    by_label = iter(reversed(names))  # metadata.name selectors from the other end
    team = cost = 0
    i = 0
    while len(docs) < count:
        kind = i % 10
        defaults, rules = i % 3 == 0, ("enforce" if i % 10 == 1 else "warn") if i % 5 == 1 else None
        if kind < 5:
            name = next(exact)
            docs.append(policy("ns-" + name, '  namespaces: ["%s"]\n' % name, "restricted",
                               "restricted:latest", defaults, rules))
        elif kind == 5:
            name = next(by_label)
            match = ("  namespaceSelector:\n    matchLabels: {kubernetes.io/metadata.name: %s}\n"
                     % name)
            docs.append(policy("label-" + name, match, "baseline:v1.30", "restricted", defaults,
                               rules))
        elif kind < 9:
            t = "t%03d" % (team % TEAMS)
            envs = ["dev"] if team < TEAMS else ["dev", "staging"]
            match = ("  namespaceSelector:\n    matchLabels: {team: %s}\n    matchExpressions:\n"
                     "    - {key: env, operator: NotIn, values: [%s]}\n" % (t, ", ".join(envs)))
            if team >= 2 * TEAMS:
                match += "    - {key: pod-security.kubernetes.io/enforce, operator: DoesNotExist}\n"
            docs.append(policy("team-%s-%d" % (t, team // TEAMS), match, "baseline", "restricted",
                               defaults, rules))
            team += 1
        else:
            centers = ", ".join("cc-%04d" % (1000 + (cost * 3 + k) % 50) for k in range(3))
            match = ("  namespaceSelector:\n    matchExpressions:\n"
                     "    - {key: cost-center, operator: In, values: [%s]}\n"
                     "    - {key: env, operator: In, values: [prod]}\n"
                     "    - {key: app.kubernetes.io/part-of, operator: Exists}\n" % centers)
            docs.append(policy("cost-%03d" % cost, match, "restricted", "restricted:latest",
                               defaults, rules))
            cost += 1
        i += 1
    return docs


def control(port, request):
    data = json.dumps(request).encode()
    with urllib.request.urlopen(urllib.request.Request(
            "http://127.0.0.1:%d/control" % port, data=data,
            headers={"Content-Type": "application/json"})) as answer:
        return json.load(answer)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fake-dir", required=True, help="the fake's --dir (its ca.crt)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--kubeconfig", required=True, help="written here")
    parser.add_argument("--policy-dir", required=True, help="policies.yaml written here")
    parser.add_argument("--namespaces", type=int, default=10000)
    parser.add_argument("--policies", type=int, default=1000)
    args = parser.parse_args()

    world = namespaces(args.namespaces)
    # Batches of 1,000 keep each control request small; the fake stores them in one lock each.
    for start in range(0, len(world), 1000):
        objects = [{"metadata": {"name": name, "labels": labels}}
                   for name, labels in world[start:start + 1000]]
        control(args.control_port, {"op": "put_many", "collection": "/api/v1/namespaces",
                                    "objects": objects})
    with open(os.path.join(args.policy_dir, "policies.yaml"), "w") as f:
        # Exact-name policies name seeded namespaces while there are enough of them.
        names = [name for name, _ in namespaces(max(args.namespaces, 2 * args.policies))]
        f.write("---\n".join(policies(args.policies, names)))
    # JSON is YAML: no yaml module needed.
    with open(args.kubeconfig, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                   "clusters": [{"name": "fake", "cluster": {
                       "server": "https://127.0.0.1:%d" % args.port,
                       "certificate-authority": os.path.join(args.fake_dir, "ca.crt")}}],
                   "users": [{"name": "u", "user": {"token": args.token}}],
                   "contexts": [{"name": "c", "context": {"cluster": "fake", "user": "u"}}]}, f)
    print("seeded %d namespaces (rv %d), wrote %d policies" % (
        len(world), control(args.control_port, {"op": "state"})["rv"], args.policies))


if __name__ == "__main__":
    main()
