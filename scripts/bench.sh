#!/usr/bin/env bash
# Throughput benchmarks, run through the same executor and graph files a user runs:
#   (a)  generator -> 5 pass-through maps -> null_sink   (sequence numbers, then records)
#   (b)  1,000,000-line JSON Lines file -> filter -> map -> file_sink
# The input of (b) is the peer benchmark's stream (shared/bench/gen_events.py, same bytes).
# Prints events/s and peak resident memory of each run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p streamloom --no-default-features
bin="${CARGO_TARGET_DIR:-target}/release/streamloom"
work="${BENCH_DIR:-target/bench}"
mkdir -p "$work"
work="$(cd "$work" && pwd)" # absolute, for the paths handed to the graphs and the tools
n="${BENCH_EVENTS:-1000000}"
data="$work/events_$n.jsonl"
[ -f "$data" ] || "$bin" gen-events "$n" "$data"

run() {
    local name="$1" graph="$2" counted="$3"
    /usr/bin/time -f '%M' -o "$work/$name.rss" \
        env BENCH_DATA="$data" BENCH_OUT="$work/$name.out.jsonl" \
        "$bin" --headless "$graph" --quiet --metrics-out "$work/$name.json" 2>"$work/$name.log"
    python3 - "$work/$name.json" "$work/$name.rss" "$name" "$counted" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
rss_kib = int(open(sys.argv[2]).read().split()[-1])
node = m["metrics"]["nodes"][sys.argv[4]]
events = max(node["events_in"], node["events_out"])
secs = m["metrics"]["elapsed_secs"]
print(f"{sys.argv[3]:<28} {events:>10} events in {secs:6.2f} s = {events/secs/1e6:6.2f} M events/s   peak RSS {rss_kib/1024:6.1f} MiB   ({m['outcome']})")
PY
}

run "a_sequence" assets/graphs/bench/passthrough.ron gen
run "a_records" assets/graphs/bench/passthrough_records.ron gen
run "b_jsonl_filter_map_file" assets/graphs/bench/jsonl_pipeline.ron read

# Workload A (shared/bench/README.md): file -> filter -> map -> 10 s event-time window per
# user -> file, Streamloom's whole process next to the hand-written yardstick's, measured in
# this same run (timings move 2x between machines: compare the ratio). One warm-up each, then
# the median wall time of 3 runs, the largest peak RSS; every output is checked by validate.py.
shared="${BENCH_SHARED:-../shared/bench}"
if [ ! -f "$shared/validate.py" ]; then
    echo "workload A skipped: no $shared/validate.py (set BENCH_SHARED to the shared bench folder)"
    exit 0
fi
yard_target="$work/yardstick"
(cd "$shared/yardstick" && CARGO_TARGET_DIR="$yard_target" cargo build --release -q)
yard="$yard_target/release/baseline_a"

# timed FILE CMD...: runs CMD under /usr/bin/time (for its peak RSS) and writes "wall_s rss_kib"
# to FILE, the wall time to the microsecond (time's own %e counts in steps of 10 ms, a twentieth
# of workload A's yardstick).
timed() {
    local file="$1"
    shift
    local start end
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$file.rss" "$@"
    end=$(date +%s%N)
    echo "$(((end - start) / 1000)) $(tail -n 1 "$file.rss")" | awk '{ printf "%.6f %s\n", $1 / 1e6, $2 }' >"$file"
}

# times NAME OUTPUT CMD...: warm-up, 3 timed runs, each output validated; prints "wall rss_kib".
times() {
    local name="$1" out="$2"
    shift 2
    local walls=() rss=0
    for i in 0 1 2 3; do
        timed "$work/$name.time" "$@" >/dev/null 2>"$work/$name.log"
        python3 "$shared/validate.py" A "$data" "$out" >"$work/$name.valid" || {
            cat "$work/$name.valid" >&2
            exit 1
        }
        [ "$i" = 0 ] && continue
        read -r wall kib <"$work/$name.time"
        walls+=("$wall")
        [ "$kib" -gt "$rss" ] && rss="$kib"
    done
    local median
    median=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n 2p)
    echo "$median $rss"
}

out_a="$work/workload_a.out.jsonl"
read -r sl_wall sl_rss < <(times workload_a "$out_a" env BENCH_DATA="$data" BENCH_OUT="$out_a" \
    "$bin" --headless assets/graphs/bench/workload_a.ron --quiet)
read -r y_wall y_rss < <(times yardstick_a "$work/yardstick_a.out.jsonl" "$yard" "$data" "$work/yardstick_a.out.jsonl")
python3 - "$n" "$sl_wall" "$sl_rss" "$y_wall" "$y_rss" <<'PY'
import sys
n = int(sys.argv[1])
sl, sl_rss, y, y_rss = float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
for name, wall, rss in (("workload A streamloom", sl, sl_rss), ("workload A yardstick", y, y_rss)):
    print(f"{name:<28} {n:>10} events in {wall:6.3f} s = {n/wall/1e6:6.2f} M events/s   peak RSS {rss/1024:6.1f} MiB   (validated)")
print(f"workload A: streamloom / yardstick wall time = {sl/y:.2f}x (goal 1.5x), peak RSS {sl_rss/1024:.1f} MiB (goal 40 MiB)")
PY

# Workload B (shared/bench/README.md): the Node `ws` server sends the first n events as text
# messages, then {"eof":true}, and closes; the client counts them, keeps the purchases and sums
# value x 1.1. Streamloom (assets/graphs/bench/workload_b.ron) next to the yardstick's
# baseline_b, in this same run, a fresh server for each run (it serves one client); the same
# warm-up, median of 3 and validation as workload A.
if ! command -v node >/dev/null || [ -z "${WS_MODULE_DIR:-}" ]; then
    echo "workload B skipped: needs node and WS_MODULE_DIR (npm install ws@8.23.0 in a folder; WS_MODULE_DIR=that/node_modules/ws)"
    exit 0
fi
yard_b="$yard_target/release/baseline_b"

# times_b NAME OUTPUT CMD...: like `times`, with @URL@ in CMD replaced by a fresh server's URL.
times_b() {
    local name="$1" out="$2"
    shift 2
    local walls=() rss=0 ready port
    for i in 0 1 2 3; do
        coproc SERVER { exec node "$shared/ws_server.js" --file "$data" --count "$n" --timeout 300; }
        read -r ready port <&"${SERVER[0]}"
        [ "$ready" = READY ] || { echo "ws_server did not start" >&2; exit 1; }
        timed "$work/$name.time" "${@//@URL@/ws://127.0.0.1:$port/}" >/dev/null 2>"$work/$name.log"
        wait "$SERVER_PID" || true
        python3 "$shared/validate.py" B "$data" "$out" "$n" >"$work/$name.valid" || {
            cat "$work/$name.valid" >&2
            exit 1
        }
        [ "$i" = 0 ] && continue
        read -r wall kib <"$work/$name.time"
        walls+=("$wall")
        [ "$kib" -gt "$rss" ] && rss="$kib"
    done
    local median
    median=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n 2p)
    echo "$median $rss"
}

out_b="$work/workload_b.out.jsonl"
read -r slb_wall slb_rss < <(times_b workload_b "$out_b" env BENCH_WS_URL=@URL@ BENCH_OUT="$out_b" \
    "$bin" --headless assets/graphs/bench/workload_b.ron --quiet)
read -r yb_wall yb_rss < <(times_b yardstick_b "$work/yardstick_b.out.jsonl" "$yard_b" @URL@ "$work/yardstick_b.out.jsonl")
# The graph asks for one worker thread (settings.workers); for comparison, the default of one
# per core.
read -r slb2_wall slb2_rss < <(times_b workload_b_2w "$out_b" env BENCH_WS_URL=@URL@ BENCH_OUT="$out_b" \
    "$bin" --headless assets/graphs/bench/workload_b.ron --quiet --workers 2)
python3 - "$n" "$slb_wall" "$slb_rss" "$yb_wall" "$yb_rss" "$slb2_wall" "$slb2_rss" <<'PY'
import sys
n = int(sys.argv[1])
sl, sl_rss, y, y_rss = float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
sl2, sl2_rss = float(sys.argv[6]), int(sys.argv[7])
for name, wall, rss in (
    ("workload B streamloom", sl, sl_rss),
    ("workload B yardstick", y, y_rss),
    ("workload B streamloom, 2 wk", sl2, sl2_rss),
):
    print(f"{name:<28} {n:>10} messages in {wall:6.3f} s = {n/wall/1e6:6.2f} M messages/s   peak RSS {rss/1024:6.1f} MiB   (validated)")
print(f"workload B: streamloom / yardstick message rate = {y/sl:.2f}x (goal 0.8x), peak RSS {sl_rss/1024:.1f} MiB (goal 30 MiB)")
print(f"workload B with --workers 2 (one per core, the default without settings.workers): {y/sl2:.2f}x")
PY
