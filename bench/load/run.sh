#!/usr/bin/env bash
# Load benchmark: palisade serve (one thread, pinned to CPU 0) under wrk (pinned to CPU 1) with 32
# keep-alive TLS connections POSTing a realistic AdmissionReview to /validate and /mutate, and the
# same load against nginx returning a canned answer of the same size, as the yardstick.
#
#   bench/load/run.sh [--build-dir DIR] [--duration SECONDS] [--connections N] [--wrk-threads N]
#                     [--rounds N]      # N runs per target, each reported by its median run
#                     [--binary PATH]   # measure another palisade binary (before/after comparisons)
#                     [--churn N]       # also /validate with a new TLS connection every N requests
#                                       # (default 3: like 40 concurrent reviews through the API
#                                       # server's 25 idle connections; 0 skips it)
#                     [--nginx-log-buffer SIZE]  # nginx's access log buffered (e.g. 64k), as
#                                       # Palisade's info lines are; default: a write per request,
#                                       # nginx's default
#   bench/load/run.sh --soak SECONDS     # mixed /validate+/mutate load, RSS sampled every 10 s
#   bench/load/run.sh --scale            # memory at scale: palisade connected to the fake API
#                     [--namespaces N]   # server with N Namespaces (default 10,000, 5 labels
#                     [--policies M]     # each) and M policies (default 1,000); /validate,
#                                        # /mutate and churn load, no nginx; target RSS <= 20 MiB
#
# Needs: wrk, nginx (nginx-light), openssl, curl, taskset. Builds only the palisade target.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build_dir="$repo/build"
duration=15
connections=32
wrk_threads=1
rounds=1
soak=0
binary=""
churn=3
nginx_log_buffer=""
scale=0
scale_namespaces=10000
scale_policies=1000
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$(cd "$2" && pwd)"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --wrk-threads) wrk_threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --soak) soak="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --churn) churn="$2"; shift 2 ;;
    --nginx-log-buffer) nginx_log_buffer="$2"; shift 2 ;;
    --scale) scale=1; shift ;;
    --namespaces) scale=1; scale_namespaces="$2"; shift 2 ;;
    --policies) scale=1; scale_policies="$2"; shift 2 ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
shared_dir="${PALISADE_SHARED_DIR:-$repo/../shared}"
review="$shared_dir/testdata/review_realistic.json"
[[ -f "$review" ]] || { echo "run.sh: $review not found (set PALISADE_SHARED_DIR)" >&2; exit 2; }
for tool in wrk nginx openssl curl taskset; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 2; }
done
if [[ "$(nproc)" -lt 2 ]]; then
  echo "run.sh: needs 2 CPUs (server on 0, client on 1)" >&2
  exit 2
fi

if [[ -n "$binary" ]]; then
  palisade="$binary"
else
  cmake --build "$build_dir" --target palisade >/dev/null
  palisade="$build_dir/cli/palisade"
fi
[[ -x "$palisade" ]] || { echo "run.sh: $palisade was not built" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/palisade-load-XXXXXX")"
server_pid=""
nginx_pid=""
fake_pid=""
# `|| true`: under `set -e` a child that dies of the SIGTERM (the fake API server: 143) would
# otherwise end the script with that status after a run that passed.
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null || true
  [[ -n "$nginx_pid" ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- Certificates: a CA and a serving certificate for localhost (ECDSA P-256, as cert-manager).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=load-ca" \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$work/tls.key" -out "$work/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$work/ext.cnf"
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -days 2 -extfile "$work/ext.cnf" -out "$work/tls.crt" 2>/dev/null

# --- The namespace policy of the review's namespace (--scale: among the many policies).
mkdir "$work/policies"
serve_cluster=()
if [[ "$scale" -eq 0 ]]; then
  cp "$here/payments.yaml" "$work/policies/payments.yaml"
else
  # The fake API server (on CPU 1: it idles once seeded), seeded with the namespaces; the
  # policies and a kubeconfig for it written by scale_world.py.
  mkdir "$work/fake"
  taskset -c 1 python3 "$repo/tests/support/fake_apiserver.py" --dir "$work/fake" --token bench \
    >"$work/fake/ports" 2>"$work/fake/stderr" &
  fake_pid=$!
  for _ in $(seq 1 200); do
    [[ -s "$work/fake/ports" ]] && break
    kill -0 "$fake_pid" 2>/dev/null || { cat "$work/fake/stderr" >&2; exit 1; }
    sleep 0.05
  done
  fake_port() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$work/fake/ports" "$1"; }
  seeded="$(python3 "$here/scale_world.py" --fake-dir "$work/fake" --port "$(fake_port port)" \
    --control-port "$(fake_port control_port)" --token bench --kubeconfig "$work/kubeconfig" \
    --policy-dir "$work/policies" --namespaces "$scale_namespaces" --policies "$scale_policies")"
  "$palisade" policy lint "$work/policies" >/dev/null ||
    { echo "run.sh: the generated policies do not lint" >&2; exit 1; }
  serve_cluster=(--kubeconfig "$work/kubeconfig")
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port="$(free_port)"
metrics_port="$(free_port)"
nginx_port="$(free_port)"

# --- /proc readings.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, clock ticks
status_kib() { awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status"; }
ticks_per_second="$(getconf CLK_TCK)"
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# Anonymous memory (the heap: mimalloc's segments) and file-backed pages (code, libraries) of $1.
rss_split() {
  awk '$1 == "Rss:" {rss = $2} $1 == "Anonymous:" {anon = $2}
    END {printf "anonymous %.1f MiB, file-backed %.1f MiB", anon / 1024, (rss - anon) / 1024}' \
    "/proc/$1/smaps_rollup"
}

# --- wrk scripts: POST the review; print machine-readable totals from done().
lua_body="$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$review")"
write_wrk_script() {  # $1 = file, $2 = request() body or empty
  cat >"$1" <<EOF
wrk.method = "POST"
wrk.body = $lua_body
wrk.headers["Content-Type"] = "application/json"
$2
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d " ..
    "non2xx=%d connect=%d read=%d write=%d timeout=%d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, e.status, e.connect, e.read,
    e.write, e.timeout))
end
EOF
}
write_wrk_script "$work/post.lua" ""
write_wrk_script "$work/mixed.lua" '
local counter = 0
function request()
  counter = counter + 1
  return wrk.format(nil, counter % 2 == 0 and "/validate?timeout=10s" or "/mutate?timeout=10s")
end'

# Every Nth request of a wrk thread asks to close its connection: wrk opens a new one (a full TLS
# handshake, as the API server's Go client does without session resumption) for the next.
write_wrk_script "$work/churn.lua" "
local counter = 0
local closing = nil
function request()
  counter = counter + 1
  if counter % $churn ~= 0 then return wrk.format() end
  if closing == nil then  -- wrk.format() takes these headers instead of wrk.headers, not besides
    closing = {}
    for name, value in pairs(wrk.headers) do closing[name] = value end
    closing[\"Connection\"] = \"close\"
  end
  return wrk.format(nil, nil, closing)
end"

field() { sed -n "s/.*[ ]$2=\([0-9]*\).*/\1/p" <<<"$1"; }

# Runs wrk against $1 (URL) for $2 seconds with script $3, measuring process $4.
# Sets: rate p50 p99 failures cpu_us_per_req cpu_share rss_kib hwm_kib client_share (wrk's CPU:
# at 100% the client, not the server, sets the rate and the latency).
measure() {
  local url="$1" seconds="$2" script="$3" pid="$4"
  local ticks_before ticks_after out requests duration_us sampler rss_file="$work/rss.$pid"
  ticks_before="$(cpu_ticks "$pid")"
  # The RSS high point during the run, sampled every 0.5 s.
  (
    max=0
    while kill -0 "$pid" 2>/dev/null; do
      now="$(status_kib "$pid" VmRSS)"
      [[ -n "$now" && "$now" -gt "$max" ]] && max="$now" && echo "$max" >"$rss_file"
      sleep 0.5
    done
  ) &
  sampler=$!
  out="$({
    TIMEFORMAT='CLIENT_CPU %U %S %R'
    time taskset -c 1 wrk -t "$wrk_threads" -c "$connections" -d "${seconds}s" --latency \
      -s "$script" "$url" 2>&1
  } 2>&1)"
  ticks_after="$(cpu_ticks "$pid")"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  local result
  result="$(grep '^RESULT' <<<"$out")" || { echo "$out" >&2; return 1; }
  requests="$(field "$result" requests)"
  duration_us="$(field "$result" duration_us)"
  rate="$(awk -v r="$requests" -v d="$duration_us" 'BEGIN {printf "%.0f", r / (d / 1e6)}')"
  p50="$(awk -v v="$(field "$result" p50_us)" 'BEGIN {printf "%.2f", v / 1000}')"
  p99="$(awk -v v="$(field "$result" p99_us)" 'BEGIN {printf "%.2f", v / 1000}')"
  failures=$(($(field "$result" non2xx) + $(field "$result" connect) + $(field "$result" read) +
    $(field "$result" write) + $(field "$result" timeout)))
  cpu_us_per_req="$(awk -v t=$((ticks_after - ticks_before)) -v hz="$ticks_per_second" \
    -v r="$requests" 'BEGIN {printf "%.1f", t * 1e6 / hz / r}')"
  cpu_share="$(awk -v t=$((ticks_after - ticks_before)) -v hz="$ticks_per_second" \
    -v d="$duration_us" 'BEGIN {printf "%.0f%%", 100 * t / hz / (d / 1e6)}')"
  rss_kib="$(cat "$rss_file" 2>/dev/null || status_kib "$pid" VmRSS)"
  hwm_kib="$(status_kib "$pid" VmHWM)"
  client_share="$(awk '$1 == "CLIENT_CPU" {printf "%.0f%%", 100 * ($2 + $3) / $4}' <<<"$out")"
}

# measure, $rounds times after a 2 s warm-up; sets the same variables from the median run by rate,
# and `measured`, those values as an array in measure's order.
# Failures are summed over all runs. On a shared machine a single run can be off by 10%.
measure_rounds() {
  local url="$1" seconds="$2" script="$3" pid="$4" runs=() total_failures=0 i
  taskset -c 1 wrk -t "$wrk_threads" -c "$connections" -d 2s -s "$script" "$url" >/dev/null 2>&1
  for ((i = 0; i < rounds; i++)); do
    measure "$url" "$seconds" "$script" "$pid"
    runs+=("$rate $p50 $p99 $failures $cpu_us_per_req $cpu_share $rss_kib $hwm_kib $client_share")
    total_failures=$((total_failures + failures))
  done
  read -r rate p50 p99 failures cpu_us_per_req cpu_share rss_kib hwm_kib client_share \
    <<<"$(printf '%s\n' "${runs[@]}" | sort -n -k1,1 | sed -n "$((rounds / 2 + 1))p")"
  failures=$total_failures
  measured=("$rate" "$p50" "$p99" "$failures" "$cpu_us_per_req" "$cpu_share" "$rss_kib" "$hwm_kib" "$client_share")
}

# --- palisade: one event-loop thread on CPU 0, default (info) logging thrown away.
taskset -c 0 "$palisade" serve --policy-dir "$work/policies" --tls-cert-file "$work/tls.crt" \
  --tls-key-file "$work/tls.key" --listen "127.0.0.1:$port" \
  --metrics-listen "127.0.0.1:$metrics_port" --threads 1 --shutdown-delay 0s \
  "${serve_cluster[@]}" 2>/dev/null &
server_pid=$!
for _ in $(seq 1 600); do
  curl -fs "http://127.0.0.1:$metrics_port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "run.sh: palisade exited" >&2; exit 1; }
  sleep 0.05
done
curl -fs "http://127.0.0.1:$metrics_port/readyz" >/dev/null || { echo "run.sh: not ready" >&2; exit 1; }

idle_kib="$(status_kib "$server_pid" VmRSS)"  # after start, before any request
idle_hwm_kib="$(status_kib "$server_pid" VmHWM)"
idle_split="$(rss_split "$server_pid")"

post() {
  curl -fsS --cacert "$work/ca.crt" -H 'Content-Type: application/json' \
    --data-binary "@$review" "https://localhost:$port$1"
}
validate_answer="$(post /validate)"
post /mutate >/dev/null
# A short warm-up so the first measurement is not of page faults.
taskset -c 1 wrk -t 1 -c "$connections" -d 1s -s "$work/post.lua" \
  "https://localhost:$port/validate" >/dev/null 2>&1

echo "load: $(uptime | sed 's/.*load average: //') (1/5/15 min) on $(nproc) CPUs;" \
  "$connections connections, wrk -t $wrk_threads, ${duration}s per run, median of $rounds run(s)"
echo "review: $review ($(wc -c <"$review") bytes); /validate answer $(printf %s "$validate_answer" | wc -c) bytes"
if [[ "$scale" -eq 0 ]]; then
  nginx_log="a write per request"
  [[ -n "$nginx_log_buffer" ]] && nginx_log="buffered ($nginx_log_buffer)"
  echo "logs to /dev/null: nginx's access log $nginx_log; palisade's info lines a write per burst"
fi

if [[ "$scale" -eq 1 ]]; then
  grep -q 'policy \\"payments\\"' <<<"$validate_answer" ||
    { echo "run.sh: policy \"payments\" did not judge the review: $validate_answer" >&2; exit 1; }
  echo "scale: $seeded; palisade lists and watches them through --kubeconfig"
  echo "palisade idle RSS after start: $(mib "$idle_kib") MiB ($idle_split);" \
    "high-water so far $(mib "$idle_hwm_kib") MiB"
  measure_rounds "https://localhost:$port/validate?timeout=10s" "$duration" "$work/post.lua" "$server_pid"
  v=("${measured[@]}")
  measure_rounds "https://localhost:$port/mutate?timeout=10s" "$duration" "$work/post.lua" "$server_pid"
  m=("${measured[@]}")
  rows=(v m)
  if [[ "$churn" -gt 0 ]]; then
    measure_rounds "https://localhost:$port/validate?timeout=10s" "$duration" "$work/churn.lua" "$server_pid"
    vc=("${measured[@]}")
    rows+=(vc)
  fi
  echo
  printf '%-16s %8s %7s %7s %7s %6s %6s %12s %7s %5s\n' target "req/s" "p50 ms" "p99 ms" "us/req" busy \
    "wrk" "RSS peak MiB" "HWM MiB" fails
  declare -A row_names=([v]=/validate [m]=/mutate [vc]="/validate churn")
  peak_kib=0
  total_failures=0
  for name in "${rows[@]}"; do
    declare -n r="$name"
    printf '%-16s %8s %7s %7s %7s %6s %6s %12s %7s %5s\n' "${row_names[$name]}" "${r[0]}" "${r[1]}" \
      "${r[2]}" "${r[4]}" "${r[5]}" "${r[8]}" "$(mib "${r[6]}")" "$(mib "${r[7]}")" "${r[3]}"
    [[ "${r[6]}" -gt "$peak_kib" ]] && peak_kib="${r[6]}"
    total_failures=$((total_failures + r[3]))
    unset -n r
  done
  echo "palisade RSS after the load: $(mib "$(status_kib "$server_pid" VmRSS)") MiB ($(rss_split "$server_pid"));" \
    "high-water since start $(mib "$(status_kib "$server_pid" VmHWM)") MiB"
  echo
  ok=1
  check() { if awk "BEGIN {exit !($2)}"; then echo "  ok    $1"; else echo "  MISS  $1"; ok=0; fi; }
  echo "targets:"
  check "RSS under load <= 20 MiB with $scale_namespaces namespaces and $scale_policies policies ($(mib "$peak_kib") MiB peak)" \
    "$peak_kib <= 20 * 1024"
  check "no failed requests" "$total_failures == 0"
  [[ "$ok" -eq 1 ]]
  exit
fi

if [[ "$soak" -gt 0 ]]; then
  echo "soak: mixed /validate and /mutate for ${soak}s, VmRSS every 10 s"
  taskset -c 1 wrk -t "$wrk_threads" -c "$connections" -d "${soak}s" --latency \
    -s "$work/mixed.lua" "https://localhost:$port" >"$work/soak.out" 2>&1 &
  wrk_pid=$!
  samples=()
  start=$SECONDS
  while kill -0 "$wrk_pid" 2>/dev/null; do
    sleep 10
    kill -0 "$wrk_pid" 2>/dev/null || break
    rss="$(status_kib "$server_pid" VmRSS)"
    samples+=("$rss")
    echo "  t=$((SECONDS - start))s VmRSS $(mib "$rss") MiB"
  done
  wait "$wrk_pid" || true
  grep '^RESULT' "$work/soak.out" || cat "$work/soak.out"
  count=${#samples[@]}
  if [[ "$count" -lt 4 ]]; then
    echo "soak: too short to judge (need at least 40 s)"
    exit 0
  fi
  # After the first quarter (allocator warm-up), RSS may not grow by more than 1 MiB.
  reference="${samples[$((count / 4))]}"
  highest="$reference"
  for rss in "${samples[@]:$((count / 4))}"; do [[ "$rss" -gt "$highest" ]] && highest="$rss"; done
  growth=$((highest - reference))
  if [[ "$growth" -le 1024 ]]; then
    echo "soak: RSS flat (grew ${growth} KiB after the first quarter; limit 1024 KiB)"
  else
    echo "soak: RSS GREW by ${growth} KiB after the first quarter"
    exit 1
  fi
  exit 0
fi

measure_rounds "https://localhost:$port/validate?timeout=10s" "$duration" "$work/post.lua" "$server_pid"
v=("${measured[@]}")
measure_rounds "https://localhost:$port/mutate?timeout=10s" "$duration" "$work/post.lua" "$server_pid"
m=("${measured[@]}")
if [[ "$churn" -gt 0 ]]; then
  measure_rounds "https://localhost:$port/validate?timeout=10s" "$duration" "$work/churn.lua" "$server_pid"
  vc=("${measured[@]}")
fi

# --- nginx: one worker on CPU 0, same certificate, keep-alive, a canned answer of the same size.
case "$validate_answer" in
  *'$'*) echo "run.sh: the canned answer has a \$, which nginx would expand" >&2; exit 1 ;;
esac
# nginx's quoted strings take \\ and \' as escapes.
canned="${validate_answer//\\/\\\\}"
canned="${canned//\'/\\\'}"
mkdir -p "$work/nginx"
access_log="access_log /dev/null;"
[[ -n "$nginx_log_buffer" ]] && access_log="access_log /dev/null combined buffer=$nginx_log_buffer flush=1s;"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  $access_log
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_timeout 90s;
  keepalive_requests 100000000;
  client_max_body_size 8m;
  client_body_buffer_size 64k;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $work/tls.crt;
    ssl_certificate_key $work/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    # No session resumption, as Palisade offers none and the API server's client never resumes:
    # wrk resumes whenever a server lets it, and nginx's default tickets would make its churned
    # connections cheap resumptions instead of full handshakes.
    ssl_session_tickets off;
    location / {
      default_type application/json;
      return 200 '$canned';
    }
  }
}
EOF
taskset -c 0 nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 1 200); do
  [[ -s "$work/nginx/nginx.pid" ]] && curl -fs --cacert "$work/ca.crt" -X POST \
    "https://localhost:$nginx_port/validate" -o /dev/null && break
  sleep 0.05
done
nginx_worker="$(pgrep -P "$(cat "$work/nginx/nginx.pid")" | head -1)"
[[ -n "$nginx_worker" ]] || { echo "run.sh: nginx did not start" >&2; cat "$work/nginx/error.log" >&2; exit 1; }
nginx_answer="$(curl -fs --cacert "$work/ca.crt" -X POST "https://localhost:$nginx_port/validate")"
[[ "$nginx_answer" == "$validate_answer" ]] || { echo "run.sh: nginx's canned answer differs" >&2; exit 1; }
measure_rounds "https://localhost:$nginx_port/validate" "$duration" "$work/post.lua" "$nginx_worker"
n=("${measured[@]}")
if [[ "$churn" -gt 0 ]]; then
  measure_rounds "https://localhost:$nginx_port/validate" "$duration" "$work/churn.lua" "$nginx_worker"
  nc=("${measured[@]}")
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# Capacity: requests one fully busy core would serve at the measured CPU cost. Unlike req/s it does
# not depend on how much CPU the client got, so it is the fairer ratio on a shared machine.
capacity() { awk -v c="$1" 'BEGIN {printf "%.0f", 1e6 / c}'; }
echo
printf '%-10s %8s %6s %8s %6s %7s %7s %7s %6s %6s %7s %7s %5s\n' target "req/s" ratio "cap/core" \
  ratio "p50 ms" "p99 ms" "us/req" busy wrk "RSS MiB" "HWM MiB" fails
row() {  # $1 = name, $2 = the nginx row to compare with (name of an array), then the values
  local name="$1"
  local -n base="$2"
  shift 2
  printf '%-10s %8s %6s %8s %6s %7s %7s %7s %6s %6s %7s %7s %5s\n' "$name" "$1" \
    "$(ratio "$1" "${base[0]}")" "$(capacity "$5")" "$(ratio "${base[4]}" "$5")" "$2" "$3" "$5" \
    "$6" "$9" "$(mib "$7")" "$(mib "$8")" "$4"
  [[ "${9%\%}" -lt 95 ]] || echo "           (wrk used ${9} of its CPU: the client set this row's rate and latency)"
}
row /validate n "${v[@]}"
row /mutate n "${m[@]}"
row nginx n "${n[@]}"
if [[ "$churn" -gt 0 ]]; then
  echo "with a new TLS connection every $churn requests (ratios against nginx under the same churn):"
  row /validate nc "${vc[@]}"
  row nginx nc "${nc[@]}"
fi
echo "palisade idle RSS after start: $(mib "$idle_kib") MiB"
echo
ok=1
check() { if awk "BEGIN {exit !($2)}"; then echo "  ok    $1"; else echo "  MISS  $1"; ok=0; fi; }
echo "targets:"
check "/validate capacity per core >= 0.8x nginx ($(ratio "${n[4]}" "${v[4]}")x; req/s $(ratio "${v[0]}" "${n[0]}")x)" \
  "${n[4]} >= 0.8 * ${v[4]}"
check "/mutate capacity per core >= 0.8x nginx ($(ratio "${n[4]}" "${m[4]}")x; req/s $(ratio "${m[0]}" "${n[0]}")x)" \
  "${n[4]} >= 0.8 * ${m[4]}"
check "p99 not worse than nginx's (${v[2]} / ${m[2]} ms; nginx ${n[2]} ms)" \
  "${v[2]} <= ${n[2]} && ${m[2]} <= ${n[2]}"
if [[ "$churn" -gt 0 ]]; then
  check "under churn: capacity per core >= 0.8x nginx ($(ratio "${nc[4]}" "${vc[4]}")x), p99 not worse (${vc[2]} ms; nginx ${nc[2]} ms)" \
    "${nc[4]} >= 0.8 * ${vc[4]} && ${vc[2]} <= ${nc[2]}"
fi
check "RSS under load <= 30 MiB ($(mib "${m[7]}") MiB high-water)" "${m[7]} <= 30 * 1024"
check "idle RSS <= 15 MiB ($(mib "$idle_kib") MiB)" "$idle_kib <= 15 * 1024"
check "no failed requests" "${v[3]} + ${m[3]} + ${vc[3]:-0} == 0"
[[ "$ok" -eq 1 ]]
