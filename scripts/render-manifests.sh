#!/usr/bin/env bash
# Renders deploy/manifests/palisade.yaml: the Helm chart with its default values, except that the
# certificates come from cert-manager (certificates.mode=certManager) and the `helm test` pod is
# left out (tests.enabled=false). The chart's default mode
# generates a new random CA on every render, which a checked-in file cannot hold; cert-manager must
# therefore be installed before `kubectl apply -f deploy/manifests/palisade.yaml`.
#   scripts/render-manifests.sh          rewrite the file
#   scripts/render-manifests.sh --check  exit 1 (with a diff) if the file is out of date
# HELM_TEMPLATE overrides the renderer (default: the shared helm-template tool).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELM_TEMPLATE="${HELM_TEMPLATE:-$ROOT/../shared/tools/helm-template/helm-template}"
OUT="$ROOT/deploy/manifests/palisade.yaml"
NAMESPACE=palisade-system
KUBE_VERSION=1.31.0

render() {
  cat <<HEADER
# Palisade, rendered from charts/palisade by scripts/render-manifests.sh; do not edit by hand.
# Default chart values, with certificates.mode=certManager: install cert-manager first.
# The server is told the cluster runs Kubernetes ${KUBE_VERSION%.*} (--kubernetes-version); change
# it to your cluster's version. Policies: edit the palisade-policies ConfigMap.
---
apiVersion: v1
kind: Namespace
metadata:
  name: $NAMESPACE
  labels:
    # Palisade's own namespace is exempt from its webhooks; PSA keeps it restricted.
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
HEADER
  "$HELM_TEMPLATE" palisade "$ROOT/charts/palisade" -n "$NAMESPACE" --kube-version "$KUBE_VERSION" \
    --set certificates.mode=certManager --set tests.enabled=false
}

if [ "${1:-}" = "--check" ]; then
  tmp="$(mktemp)"
  trap 'rm -f "$tmp"' EXIT
  render >"$tmp"
  if ! diff -u "$OUT" "$tmp"; then
    echo "deploy/manifests/palisade.yaml is out of date: run scripts/render-manifests.sh" >&2
    exit 1
  fi
  exit 0
fi
mkdir -p "$(dirname "$OUT")"
render >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
