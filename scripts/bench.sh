#!/usr/bin/env bash
# Throughput benchmarks, run through the same executor and graph files a user runs:
#   (a)  generator -> 5 pass-through maps -> null_sink   (sequence numbers, then records)
#   (b)  1,000,000-line JSON Lines file -> filter -> map -> file_sink
# The input of (b) is the peer benchmark's stream (shared/bench/gen_events.py, same bytes).
# Prints events/s and peak resident memory of each run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p streamloom --no-default-features
bin=target/release/streamloom
work="${BENCH_DIR:-target/bench}"
mkdir -p "$work"
n="${BENCH_EVENTS:-1000000}"
data="$work/events_$n.jsonl"
[ -f "$data" ] || "$bin" gen-events "$n" "$data"

run() {
    local name="$1" graph="$2" counted="$3"
    /usr/bin/time -f '%M' -o "$work/$name.rss" \
        env BENCH_DATA="$PWD/$data" BENCH_OUT="$PWD/$work/$name.out.jsonl" \
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
