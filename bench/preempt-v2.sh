#!/bin/sh
# Pre-emption on cgroup v2 in the QEMU busybox guest: the innocent-sibling table and
# threshold crossed -> signal sent (issue 15, v2 half).
#
#   bench/preempt-v2.sh [RUNS]       default 20 guard runs per rate (and one kernel-alone run)
#
# Runs the innocent_sibling_* tests of crates/oomlens-qemu/tests/busybox_preempt.rs in one
# guest boot with OOMLENS_PREEMPT_V2_RUNS=RUNS: memory.max 128 MiB, an 80 MiB steady main
# process, a leaker at 10, 50 and 500 MiB/s; the guard at its default 1 s interval with one
# [[preempt]] policy (share 0.8 of memory.max, fastest-growing, grace 2 s). Each run prints a
# PREEMPT-V2-RUN JSON line; this script tabulates them. Needs what `oomlens-qemu run` needs
# (root, apt or a filled OOMLENS_QEMU_CACHE).
set -eu
RUNS=${1:-20}
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/out/preempt-v2}
rm -rf "$OUT"
mkdir -p "$OUT"
# A boot is killed after OOMLENS_QEMU_TIMEOUT_SECS: about 6 s per guard run under TCG.
OOMLENS_PREEMPT_V2_RUNS=$RUNS OOMLENS_QEMU_TIMEOUT_SECS=${OOMLENS_QEMU_TIMEOUT_SECS:-$((RUNS * 30 + 300))} \
	cargo run --release -q -p oomlens-qemu -- run --test busybox_preempt -- innocent_sibling \
	>"$OUT/run.log" 2>&1 || { tail -40 "$OUT/run.log" >&2; exit 1; }
grep -o 'PREEMPT-V2-RUN {.*}' "$OUT/run.log" | sed 's/^PREEMPT-V2-RUN //' >"$OUT/runs.jsonl"
python3 - "$OUT/runs.jsonl" <<'PY'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def pct(v, q):  # nearest rank
    v = sorted(v)
    return v[max(1, math.ceil(q * len(v))) - 1]
print("| leak rate (asked) | measured MiB/s (median) | kernel alone: main survived | guard: main survived | leaker got SIGTERM | kernel OOM kills with the guard | trigger | crossed -> sent p50 / p99 ms | crossed -> SIGTERM handler p50 / p99 ms |")
print("|---|---|---|---|---|---|---|---|---|")
for rate in sorted({r["rate"] for r in rows}):
    k = [r for r in rows if r["rate"] == rate and r["mode"] == "kernel"]
    g = [r for r in rows if r["rate"] == rate and r["mode"] == "guard"]
    meas = [r["measured_rate_mib_s"] for r in g if r["measured_rate_mib_s"]]
    sent = [r["crossed_to_sent_ms"] for r in g if r["crossed_to_sent_ms"] is not None]
    term = [r["crossed_to_sigterm_ms"] for r in g if r["crossed_to_sigterm_ms"] is not None]
    trig = {}
    for r in g:
        trig[r["trigger"]] = trig.get(r["trigger"], 0) + 1
    cell = lambda v: f"{pct(v, .5):.1f} / {pct(v, .99):.1f}" if v else "-"
    print(f"| {rate} MiB/s | {pct(meas, .5):.0f} | {sum(r['main_survived'] for r in k)}/{len(k)} "
          f"| {sum(r['main_survived'] and r['kernel_kills'] == 0 for r in g)}/{len(g)} "
          f"| {sum(r['leaker_terminated'] for r in g)}/{len(g)} | {sum(r['kernel_kills'] for r in g)} "
          f"| {', '.join(f'{t} {n}' for t, n in trig.items())} | {cell(sent)} | {cell(term)} |")
print()
print("kernel alone: ms before the OOM kill that each v2 source first showed")
for r in rows:
    if r["mode"] == "kernel" and r["warning_before_oom_ms"]:
        w = r["warning_before_oom_ms"]
        f = lambda x: "never" if x is None else f"{x:.0f} ms"
        print(f"  {r['rate']} MiB/s: usage crossed 0.8 x memory.max {f(w['crossed'])}, "
              f"memory.events max {f(w['max_event'])}, memory.pressure stall {f(w['psi_stall'])}")
PY
