#!/bin/sh
# Pre-emption: the innocent-sibling table and threshold crossed -> signal latency (issue 15).
#
#   bench/preempt.sh [RUNS]          default 20 runs per rate and killer
#
# Each run (crates/oomlens-guard/tests/preempt_sibling.rs, its ignored `table` test): a v1
# child memory cgroup under ours with a 128 MiB limit, an 80 MiB steady main process
# (oomlens-hog hold) and a leaker (oomlens-hog alloc --rate R, R = 10, 50, 500 MiB/s). Side
# by side, in separate runs:
#   kernel    nothing but the kernel's memcg OOM killer;
#   guard     `oomlens-guard --interval 100ms --config` with one [[preempt]] policy on the
#             cgroup: share 0.8 of the limit, fastest-growing, grace 2 s;
#   earlyoom  Debian's earlyoom 1.7 (-r 0), pid 1 of its own pid namespace (`unshare --pid
#             --fork --mount-proc`), the run's processes started into it with nsenter: it
#             can kill only them, and it reads the host's /proc/meminfo;
#   nohang    Debian's nohang --monitor with /etc/nohang/nohang.conf, the same way.
# Per run: whether the main process survived, whether the leaker got SIGTERM (its handler
# stamps CLOCK_MONOTONIC), the cgroup's oom_kill count, and for the guard the latency from
# the start of the MiB during which the cgroup's usage crossed 0.8 x limit (the leaker reads
# memory.usage_in_bytes after each MiB) to the guard's pidfd_send_signal (its record's
# signalled_mono) and to the leaker's SIGTERM handler, and the guard's own eventfd-read ->
# signal-sent time. MODES=guard-fifo runs the guard under chrt -f 50. systemd-oomd needs the QEMU systemd guest: not here.
# Requires root, a writable v1 memory cgroup (as the real-kernel tests), earlyoom, nohang.
set -eu
RUNS=${1:-20}
RATES=${RATES:-10,50,500}
MODES=${MODES:-kernel guard earlyoom nohang}  # also guard-fifo: the guard under chrt -f 50
cd "$(dirname "$0")/.."
for p in earlyoom nohang unshare nsenter; do
	command -v $p >/dev/null || { echo "bench/preempt.sh: $p missing (apt-get install earlyoom nohang util-linux)" >&2; exit 2; }
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p oomlens-testkit --bin oomlens-hog
OOMLENS_HOG="$CARGO_TARGET_DIR/release/oomlens-hog"
export OOMLENS_HOG
TEST=$(cargo test --release -q -p oomlens-guard --test preempt_sibling --no-run --message-format=json 2>/dev/null |
	sed -n 's/.*"executable":"\([^"]*preempt_sibling[^"]*\)".*/\1/p' | tail -1)
[ -x "$TEST" ] || { echo "bench/preempt.sh: no test binary" >&2; exit 2; }
OUT=${OUT:-bench/out/preempt}
rm -rf "$OUT"
mkdir -p "$OUT"
for mode in $MODES; do
	OOMLENS_PREEMPT_MODE=$mode OOMLENS_PREEMPT_RUNS=$RUNS OOMLENS_PREEMPT_RATES=$RATES \
	OOMLENS_REQUIRE_REAL_KERNEL=1 \
		"$TEST" --ignored --exact table --nocapture --test-threads 1 2>"$OUT/$mode.stderr" |
		grep -o '{"mode".*}' >"$OUT/$mode.jsonl"
done
cat "$OUT"/*.jsonl >"$OUT/all.jsonl"
python3 - "$OUT/all.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
modes = []
for r in rows:
    if r["mode"] not in modes:
        modes.append(r["mode"])
rates = sorted({r["rate"] for r in rows})
print("main process survived (runs), leaker stopped by SIGTERM, kernel OOM kills in the cgroup")
print("| rate MiB/s | " + " | ".join(modes) + " |")
print("|---|" + "---|" * len(modes))
for rate in rates:
    cells = []
    for m in modes:
        rs = [r for r in rows if r["mode"] == m and r["rate"] == rate]
        if not rs:
            cells.append("-")
            continue
        surv = sum(r["main_survived"] for r in rs)
        term = sum(r["leaker_terminated"] for r in rs)
        kills = sum(r["kernel_kills"] for r in rs)
        dead = sum(1 for r in rs if r["peer_alive"] is False)
        note = f", peer died in {dead}" if dead else ""
        cells.append(f"{surv}/{len(rs)} survived, {term} TERM, {kills} kernel kills{note}")
    print(f"| {rate} | " + " | ".join(cells) + " |")
def pct(v, q):
    v = sorted(v)
    i = min(len(v) - 1, max(0, int(round(q * (len(v) - 1)))))
    return v[i]
for key, what in [("crossed_to_sent_ms", "usage crossed -> guard's pidfd_send_signal"),
                  ("crossed_to_sigterm_ms", "usage crossed -> leaker's SIGTERM handler"),
                  ("guard_latency_ms", "guard: eventfd read -> signal sent")]:
    v = [r[key] for r in rows if r["mode"] == "guard" and r[key] is not None]
    f = [r[key] for r in rows if r["mode"] == "guard-fifo" and r[key] is not None]
    if f:
        print(f"{what} (guard under SCHED_FIFO): n={len(f)} p50={pct(f, .5):.3f} ms p99={pct(f, .99):.3f} ms max={max(f):.3f} ms")
    if v:
        print(f"{what}: n={len(v)} p50={pct(v, .5):.3f} ms p99={pct(v, .99):.3f} ms max={max(v):.3f} ms")
PY
