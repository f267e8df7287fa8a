#!/bin/sh
# The innocent sibling in the QEMU systemd guest (issue 15): kernel / systemd-oomd / guard.
#
#   bench/preempt-guest.sh [RUNS]     default 20 runs per rate and mode, one guest boot
#
# Runs crates/oomlens-qemu/tests/systemd_preempt.rs (systemd 252, cgroup v2, TCG): a transient
# service with MemoryMax=128M, no swap, an 80 MiB steady main process (the unit's MainPID) and a
# leaker at 10, 50, 500 MiB/s asked (TCG reaches about 120-150 MiB/s at most), under
#   kernel        nothing else: the kernel's memcg OOM killer;
#   systemd-oomd  the unit with ManagedOOMMemoryPressure=kill, ManagedOOMMemoryPressureLimit=20%,
#                 DefaultMemoryPressureDurationSec=2s;
#   guard         oomlens guard --interval 100ms --config, one [[preempt]] policy on the unit's
#                 cgroup (share 0.8, fastest-growing, grace 2 s).
# Prints the table of who survives and, for the guard, the leaker's crossed 0.8 x limit ->
# SIGTERM-handler latency (an upper bound: the crossing is stamped at the start of its MiB).
# MODES (kernel,oomd,guard) and RATES (10,50,500) narrow it; RUNS_<mode> (RUNS_kernel=5) give
# one mode fewer runs in a boot of its own. The guest test's own assertions may fail a run
# (the table still shows it); the exit status is then 1. OOMLENS_PREEMPT_STRICT=1 (forwarded
# into the guest) makes a guard run lost to the kernel at 500 MiB/s such a failure.
# TABLE_ONLY=1 prints the table of the last series again (from $OUT/run-*.log), no guest.
set -eu
RUNS=${1:-20}
RATES=${RATES:-10,50,500}
MODES=${MODES:-kernel,oomd,guard}
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
OUT=${OUT:-bench/out/preempt-guest}
status=0
if [ "${TABLE_ONLY:-0}" != 1 ]; then
rm -rf "$OUT"
mkdir -p "$OUT"
# One boot per distinct run count (modes with the default count share one).
plan=$(for m in $(echo "$MODES" | tr , ' '); do
	eval "n=\${RUNS_$m:-$RUNS}"
	echo "$n $m"
done | sort -s -n -k1,1 | awk '{a[$1] = a[$1] (a[$1] ? "," : "") $2} END {for (n in a) print n, a[n]}')
echo "$plan" | while read -r n modes; do
	# The boot's time limit: about 5 s of guest time per run, plus room.
	runs_total=$((n * $(echo "$modes" | tr , '\n' | wc -l) * $(echo "$RATES" | tr , '\n' | wc -l)))
	log="$OUT/run-$(echo "$modes" | tr , -).log"
	echo "bench/preempt-guest.sh: $n run(s) per rate of $modes at $RATES MiB/s ($runs_total runs)" >&2
	start=$(date +%s)
	OOMLENS_PREEMPT_RUNS=$n OOMLENS_PREEMPT_MODES=$modes OOMLENS_PREEMPT_RATES=$RATES \
	OOMLENS_QEMU_TIMEOUT_SECS=$((runs_total * 20 + 300)) \
		cargo run --release -q -p oomlens-qemu -- run --test systemd_preempt -- --nocapture \
		>"$log" 2>&1 || { echo "bench/preempt-guest.sh: the guest test failed, see $log" >&2; touch "$OUT/failed"; }
	echo "bench/preempt-guest.sh: $modes took $(($(date +%s) - start)) s" >&2
done
fi
[ -e "$OUT/failed" ] && status=1
grep -ho 'PREEMPT-SYSTEMD .*' "$OUT"/run-*.log | sort -u | sed 's/^PREEMPT-SYSTEMD /guest: /'
grep -ho 'PREEMPT-ROW {.*}' "$OUT"/run-*.log | sed 's/^PREEMPT-ROW //' >"$OUT/all.jsonl" || true
python3 - "$OUT/all.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
if not rows:
    sys.exit("no PREEMPT-ROW lines: see the run logs")
names = {"kernel": "kernel alone", "oomd": "systemd-oomd", "guard": "oomlens guard"}
modes = [m for m in ["kernel", "oomd", "guard"] if any(r["mode"] == m for r in rows)]
rates = sorted({r["rate"] for r in rows})
def median(v):
    v = sorted(v)
    return v[len(v) // 2] if v else None
def pct(v, q):  # nearest rank
    v = sorted(v)
    return v[min(len(v) - 1, max(0, -(-int(q * 100) * len(v) // 100) - 1))]
print("main process survived / runs; who killed it (K kernel, O systemd-oomd whole unit, G the guard's own signal, ? unexplained)")
print("| | " + " | ".join(f"{r} MiB/s" for r in rates) + " |")
print("|---|" + "---|" * len(rates))
for m in modes:
    cells = []
    for rate in rates:
        rs = [r for r in rows if r["mode"] == m and r["rate"] == rate]
        if not rs:
            cells.append("-")
            continue
        surv = sum(r["main_survived"] for r in rs)
        k = sum(r["main_killer"] == "kernel" for r in rs)
        o = sum(r["main_killer"] == "systemd-oomd" for r in rs)
        u = sum(r["main_killer"] == "unexplained" for r in rs)
        g = sum(r["main_killer"] == "oomlens-guard" for r in rs)
        c = f"{surv}/{len(rs)}"
        if k or o or u or g:
            c += f" (K {k}, O {o}" + (f", G {g}" if g else "") + (f", ? {u}" if u else "") + ")"
        if m == "guard":
            c += f", TERM {sum(r['leaker_terminated'] for r in rs)}"
        cells.append(c)
    print(f"| {names[m]} | " + " | ".join(cells) + " |")
print()
for rate in rates:
    v = [r["leak_rate_mibps"] for r in rows if r["rate"] == rate and r["leak_rate_mibps"]]
    kk = sum(r["kernel_kills"] for r in rows if r["rate"] == rate)
    print(f"{rate} MiB/s asked: leaker measured median {median(v):.1f} MiB/s; kernel kills in the unit, all modes: {kk}")
for m in modes:
    v = [r["max_full_avg10"] for r in rows if r["mode"] == m]
    print(f"{names[m]}: highest full avg10 of the unit's memory.pressure in a run: median {median(v):.2f}%, max {max(v):.2f}%")
oomd = [r for r in rows if r["mode"] == "oomd"]
if oomd:
    lines = [r["oomd_line"] for r in oomd if r["oomd_line"]]
    mon = sum(r.get("oomd_monitored") is True for r in oomd)
    print(f"systemd-oomd monitored the unit (oomctl dump, limit 20.00%) in {mon} of {len(oomd)} runs")
    print(f"systemd-oomd kill lines for the unit: {len(lines)} in {len(oomd)} runs")
    for l in lines[:3]:
        print(f"  {l}")
g = [r for r in rows if r["mode"] == "guard"]
lat = [r["crossed_to_sigterm_ms"] for r in g if r["crossed_to_sigterm_ms"] is not None]
use = [r["usage_at_signal_mib"] for r in g if r["usage_at_signal_mib"] is not None]
if lat:
    print(f"guard: usage crossed 0.8 x limit -> leaker's SIGTERM handler: n={len(lat)} "
          f"p50={pct(lat, .5):.1f} ms p99={pct(lat, .99):.1f} ms max={max(lat):.1f} ms")
    for rate in rates:
        v = [r["crossed_to_sigterm_ms"] for r in g if r["rate"] == rate and r["crossed_to_sigterm_ms"] is not None]
        if v:
            print(f"  {rate} MiB/s: n={len(v)} p50={pct(v, .5):.1f} ms p99={pct(v, .99):.1f} ms")
if use:
    print(f"guard: the unit's usage at the decision (threshold 102.4 MiB, limit 128): "
          f"p50={pct(use, .5):.1f} MiB max={max(use):.1f} MiB")
    trig = {}
    for r in g:
        if r["guard_line"]:
            t = r["guard_line"].split(", trigger ")[1].split(",")[0]
            trig[t] = trig.get(t, 0) + 1
    print("guard: decision triggered by " + ", ".join(f"{k} {v}" for k, v in sorted(trig.items())))
PY
exit $status
