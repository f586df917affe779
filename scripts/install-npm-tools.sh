#!/usr/bin/env bash
# Installs the test-only npm tools pinned in scripts/npm-tools/package-lock.json into DIR (default:
# build/npm-tools): kubernetes-models, which validates rendered chart objects against the Kubernetes
# API's schemas offline. Does nothing when DIR already holds this exact lock file's install.
#   scripts/install-npm-tools.sh [DIR]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/npm-tools"
DEST="$(mkdir -p "${1:-$ROOT/build/npm-tools}" && cd "${1:-$ROOT/build/npm-tools}" && pwd)"

if ! command -v npm >/dev/null; then
  echo "install-npm-tools: npm is missing (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
stamp="$DEST/.installed-$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -c1-16)"
[ -e "$stamp" ] && exit 0
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
rm -f "$DEST"/.installed-*
(cd "$DEST" && npm ci --no-audit --no-fund --loglevel=error) >&2
touch "$stamp"
