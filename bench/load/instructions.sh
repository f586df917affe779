#!/usr/bin/env bash
# User-space instructions per request of the server (or of nginx with a canned answer), counted by
# valgrind's callgrind: steady on a shared machine, where timings are not. The counters are zeroed
# after a warm-up; then wrk (8 connections) POSTs the shared review to /validate for 6 s.
#
#   bench/load/instructions.sh [--binary build/cli/palisade] [--churn N] [--nginx]
#
# --churn N: every Nth request of a connection asks `Connection: close` (a full TLS handshake for
# the next), as bench/load/run.sh does. The kernel's work is not counted.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
binary="$repo/build/cli/palisade"
churn=0
nginx=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --churn) churn="$2"; shift 2 ;;
    --nginx) nginx=1; shift ;;
    *) echo "instructions.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in valgrind callgrind_control callgrind_annotate wrk openssl curl; do
  command -v "$tool" >/dev/null || { echo "instructions.sh: needs $tool" >&2; exit 1; }
done
review="$repo/../shared/testdata/review_realistic.json"
work="$(mktemp -d /tmp/palisade-instructions-XXXXXX)"
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -keyout "$work/tls.key" -out "$work/tls.crt" >/dev/null 2>&1
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port="$(free_port)"

if [[ "$nginx" == 1 ]]; then
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1; daemon off; master_process off;
pid $work/nginx/nginx.pid; error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log /dev/null; client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/p;
  fastcgi_temp_path $work/nginx/f; uwsgi_temp_path $work/nginx/u; scgi_temp_path $work/nginx/s;
  keepalive_timeout 90s; keepalive_requests 100000000; client_max_body_size 8m;
  client_body_buffer_size 64k;
  server {
    listen 127.0.0.1:$port ssl; ssl_certificate $work/tls.crt; ssl_certificate_key $work/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;  # no resumption, as Palisade and the API server (see run.sh)
    location / { default_type application/json; return 200 'ok'; }
  }
}
CONF
  valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.%p" \
    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" 2>/dev/null &
  pid=$!
  ready() { curl -fsk -X POST "https://127.0.0.1:$port/" -o /dev/null; }
  what="nginx"
else
  mkdir -p "$work/policies"
  cp "$here/payments.yaml" "$work/policies/"
  metrics_port="$(free_port)"
  valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.%p" "$binary" serve \
    --policy-dir "$work/policies" --tls-cert-file "$work/tls.crt" --tls-key-file "$work/tls.key" \
    --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics_port" --threads 1 \
    --shutdown-delay 0s 2>/dev/null &
  pid=$!
  ready() { curl -fs "http://127.0.0.1:$metrics_port/readyz" -o /dev/null; }
  what="$binary"
fi
for _ in $(seq 1 200); do
  ready 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { echo "instructions.sh: the server exited" >&2; exit 1; }
  sleep 0.3
done

body="$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$review")"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = $body
wrk.headers["Content-Type"] = "application/json"
local counter = 0
local closing = nil
function request()
  counter = counter + 1
  if $churn == 0 or counter % $churn ~= 0 then return wrk.format() end
  if closing == nil then
    closing = {}
    for name, value in pairs(wrk.headers) do closing[name] = value end
    closing["Connection"] = "close"
  end
  return wrk.format(nil, nil, closing)
end
function done(summary, latency, requests) io.write(string.format("REQUESTS %d\n", summary.requests)) end
LUA
url="https://127.0.0.1:$port/validate"
wrk -t1 -c8 -d2s -s "$work/post.lua" "$url" >/dev/null 2>&1
callgrind_control -z "$pid" >/dev/null 2>&1
out="$(wrk -t1 -c8 -d6s --timeout 10s -s "$work/post.lua" "$url" 2>&1)"
callgrind_control -d "$pid" >/dev/null 2>&1
sleep 0.5
requests="$(sed -n 's/^REQUESTS //p' <<<"$out")"
dump="$(ls -t "$work"/callgrind.* | head -1)"
instructions="$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')"
echo "$what, new connection every ${churn} requests (0: keep-alive): $requests requests," \
  "$((instructions / requests)) instructions per request"
