#!/bin/sh
# `oomlens guard` against earlyoom (Debian's package), measured in the same run (issue 14):
#
#   bench/guard.sh [RUNS [KILLS]]          defaults: 3 runs, 50 kills per run
#
# Per run, three processes start together and idle side by side (same machine noise):
#   earlyoom   in the foreground with Debian's default arguments (/etc/default/earlyoom:
#              -r 3600), not as a service;
#   guard      `oomlens guard` on this host: recorder on (--state-dir in bench/out), metrics
#              on (127.0.0.1), kernel log `auto`;
#   guard-fake `oomlens guard --root TREE` on a fake tree of $CGROUPS cgroups and $PROCESSES
#              processes (cgroup v1, written by oomlens-faketree, crates/oomlens-testkit, on
#              /dev/shm), its kernel log an empty file.
# Measured: VmRSS (and VmLck, the pages locked) SETTLE (30) s after start; CPU over the next WINDOW (60) s, as utime+stime
# of /proc/PID/stat (10 ms ticks) and the scheduler's exact on-CPU ns (schedstat, all
# threads), per minute and as % of one core. Then earlyoom and guard-fake stop and
# crates/oomlens-guard/examples/bench_kills.rs makes KILLS real OOM kills in child v1 memory
# cgroups under our own and times each from the kernel's `Killed process` record to the
# guard's record of it (clocks: see that file). Requires root, a writable v1 memory cgroup
# and /dev/kmsg (as the real-kernel tests), and `apt-get install earlyoom`. Last, threshold
# crossed -> signal sent of the guard's pre-emption over PREEMPT_RUNS (20) runs per rate
# (bench/preempt.sh's guard mode; needs nohang installed too; PREEMPT_RUNS=0 skips it).
set -eu
RUNS=${1:-3}
KILLS=${2:-50}
CGROUPS=${CGROUPS:-10000}
PROCESSES=${PROCESSES:-50000}
# Shorter only for a smoke test of the script itself; the numbers are taken with 30 and 60.
SETTLE=${SETTLE:-30}
WINDOW=${WINDOW:-60}
cd "$(dirname "$0")/.."
. bench/guard-common.sh
command -v earlyoom >/dev/null || { echo "bench/guard.sh: earlyoom missing (apt-get install earlyoom)" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p oomlens -p oomlens-testkit -p oomlens-guard \
	--bin oomlens --bin oomlens-guard --bin oomlens-faketree --bin oomlens-hog --example bench_kills
BIN="$CARGO_TARGET_DIR/release"
OUT=bench/out/guard
rm -rf "$OUT"
mkdir -p "$OUT"
TREE=$(mktemp -d "${TMPDIR:-/dev/shm}/oomlens-guard-tree.XXXXXX")
PIDS=
trap 'for p in $PIDS; do kill "$p" 2>/dev/null || true; done; rm -rf "$TREE"' EXIT
# A signal (or a closed pipe: `| head`) exits through the EXIT trap too.
trap 'exit 1' INT TERM HUP PIPE
"$BIN/oomlens-faketree" "$TREE" "$CGROUPS" "$PROCESSES" >/dev/null
# The guard arms a PSI trigger by writing to <root>/proc/pressure/memory; on a fake tree
# that file is a plain file, and the write replaced its contents (found by this bench at
# guard 5525286: every sampler pass then failed to parse it). Without the file the guard
# arms no system trigger and samples no system PSI, and does everything else.
rm -f "$TREE/proc/pressure/memory"
: > "$OUT/empty.log"
earlyoom_args="-r 3600"
# `oomlens guard`; before the binary wires it, the guard crate's own `oomlens-guard` (same
# flags); with neither, only earlyoom's half is measured.
procs="earlyoom guard fake"
if "$BIN/oomlens" guard --help >/dev/null 2>&1; then
	GUARD="$BIN/oomlens guard" GUARD_NAME="oomlens guard"
elif "$BIN/oomlens-guard" --help >/dev/null 2>&1; then
	GUARD="$BIN/oomlens-guard" GUARD_NAME=oomlens-guard
else
	echo "bench/guard.sh: no guard in this build: measuring earlyoom only" >&2
	procs=earlyoom GUARD_NAME="no guard"
fi

RESULTS="$OUT/results"
: > "$RESULTS"
run=1
while [ "$run" -le "$RUNS" ]; do
	port=$((19800 + run * 2))
	earlyoom $earlyoom_args > "$OUT/earlyoom.$run.log" 2>&1 &
	pid_earlyoom=$!
	PIDS=$pid_earlyoom
	if [ "$procs" != earlyoom ]; then
		$GUARD --state-dir "$OUT/state.$run" --listen "127.0.0.1:$port" \
			> "$OUT/guard.$run.log" 2>&1 &
		pid_guard=$!
		$GUARD --root "$TREE" --log "$OUT/empty.log" --state-dir "$OUT/state-fake.$run" \
			--listen "127.0.0.1:$((port + 1))" > "$OUT/guard-fake.$run.log" 2>&1 &
		pid_fake=$!
		PIDS="$PIDS $pid_guard $pid_fake"
	fi
	sleep "$SETTLE"
	for d in $procs; do
		eval "p=\$pid_$d"
		kill -0 "$p" 2>/dev/null || { echo "bench/guard.sh: $d exited early; see $OUT/*.$run.log" >&2; exit 1; }
		eval "rss_$d=$(rss_kib "$p") orss_$d=$(own_rss_kib "$p") lck_$d=$(own_lck_kib "$p") t0_$d=$(cpu_ticks "$p") n0_$d=$(cpu_ns "$p") o0_$d=$(own_cpu_ns "$p")"
	done
	# The kernel log is shared with other containers: their OOM kills are incidents this
	# guard records (work, not idling). Counted over the CPU window, and printed.
	inc0=$(grep -c 'recorded incident' "$OUT/guard.$run.log" 2>/dev/null || true)
	if [ "$procs" != earlyoom ]; then
		# Metrics on means served: count the guard's series once, before the CPU window.
		series=$(curl -s -m 5 "http://127.0.0.1:$port/metrics" | grep -c '^oomlens_' || true)
		echo "metrics $run $series" >> "$RESULTS"
	fi
	sleep "$WINDOW"
	inc1=$(grep -c 'recorded incident' "$OUT/guard.$run.log" 2>/dev/null || true)
	echo "foreign $run $((${inc1:-0} - ${inc0:-0}))" >> "$RESULTS"
	for d in $procs; do
		eval "p=\$pid_$d"
		eval "t1_$d=$(cpu_ticks "$p") n1_$d=$(cpu_ns "$p") o1_$d=$(own_cpu_ns "$p")"
		eval "rss=\$rss_$d; orss=\$orss_$d; lck=\$lck_$d; t0=\$t0_$d; t1=\$t1_$d; n0=\$n0_$d; n1=\$n1_$d; o0=\$o0_$d; o1=\$o1_$d"
		tick_ms=$(awk -v t="$((t1 - t0))" -v w="$WINDOW" -v m="$TICK_MS" 'BEGIN {printf "%.0f", t * m * 60 / w}')
		ns_ms=$(awk -v a="$n0" -v b="$n1" -v w="$WINDOW" 'BEGIN {printf "%.2f", (b - a) / 1e6 * 60 / w}')
		own_ms=$(awk -v a="$o0" -v b="$o1" -v w="$WINDOW" 'BEGIN {printf "%.2f", (b - a) / 1e6 * 60 / w}')
		echo "idle $run $d $rss $tick_ms $ns_ms $orss $own_ms $lck" >> "$RESULTS"
	done
	kill "$pid_earlyoom"
	if [ "$procs" = earlyoom ]; then
		PIDS=
		run=$((run + 1))
		continue
	fi
	kill "$pid_fake"
	PIDS="$pid_guard"
	"$BIN/examples/bench_kills" "$OUT/state.$run" "$BIN/oomlens-hog" "$KILLS" > "$OUT/kills.$run" 2>&1 ||
		echo "bench/guard.sh: run $run: some kills not recorded (see $OUT/kills.$run)" >&2
	summary=$(grep '^kills=' "$OUT/kills.$run" || echo "kills=$KILLS recorded=0")
	echo "kills $run $(rss_kib "$pid_guard") $summary" >> "$RESULTS"
	kill "$pid_guard"
	PIDS=
	run=$((run + 1))
done

field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p"; }
echo "$GUARD_NAME vs earlyoom $(earlyoom -v 2>&1 | head -1 | sed 's/^earlyoom //') ($earlyoom_args): $RUNS runs, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "fake tree: $CGROUPS cgroups, $PROCESSES processes; $KILLS kills per run"
awk '$1 == "metrics" {printf "run %s: the guard'"'"'s /metrics answered with %s oomlens_ samples\n", $2, $3}' "$RESULTS"
awk '$1 == "foreign" {printf "run %s: the guard recorded %s incident(s) of other processes during the CPU window\n", $2, $3}' "$RESULTS"
[ "$procs" = earlyoom ] && echo "NO GUARD in this build: earlyoom only"
echo "(RSS and CPU include living children, e.g. the guard's journalctl; 'own' is the process alone)"
printf '%-4s %-10s %9s %12s %12s %10s %9s %12s %9s\n' run process 'RSS KiB' 'CPU ms/min' 'sched ms/min' '% of core' 'own RSS' 'own sched' 'VmLck KiB'
awk '$1 == "idle" {printf "%-4s %-10s %9s %12s %12s %10.3f %9s %12s %9s\n", $2, ($3 == "fake" ? "guard-fake" : $3), $4, $5, $6, $6 / 600, $7, $8, $9}' "$RESULTS"
[ "$procs" = earlyoom ] && exit 0
echo
echo "ratios guard / earlyoom, per run (targets: RSS <= 2, CPU <= 1); guard-fake % of one core (target <= 1)"
printf '%-4s %9s %12s %12s %9s %12s %12s\n' run RSS 'CPU ticks' 'CPU sched' 'own RSS' 'own sched' 'fake %core'
run=1
while [ "$run" -le "$RUNS" ]; do
	row() { awk -v r="$run" -v d="$1" '$1 == "idle" && $2 == r && $3 == d {print $4, $5, $6, $7, $8}' "$RESULTS"; }
	set -- $(row earlyoom); er=$1 et=$2 en=$3
	set -- $(row guard); gr=$1 gt=$2 gn=$3 gor=$4 gon=$5
	set -- $(row fake); fn=$3
	printf '%-4s %9s %12s %12s %9s %12s %12s\n' "$run" "$(ratio "$gr" "$er")" "$(ratio "$gt" "$et")" "$(ratio "$gn" "$en")" \
		"$(ratio "$gor" "$er")" "$(ratio "$gon" "$en")" "$(awk -v n="$fn" 'BEGIN {printf "%.3f", n / 600}')"
	run=$((run + 1))
done
# Pooled over the runs (the sum of each one's scheduler time): one 60 s window on a shared
# host swings by 2x from run to run, the sum less so.
awk '$1 == "idle" && $3 == "earlyoom" {e += $6} $1 == "idle" && $3 == "guard" {g += $6}
	END {if (e > 0) printf "all runs, sched ms/min summed: guard %.2f, earlyoom %.2f, ratio %.2f\n", g, e, g / e}' "$RESULTS"
echo
echo "kill -> incident recorded (kernel's Killed-process record time -> guard's recorded_unix)"
printf '%-4s %8s %9s %9s %9s %9s %12s %13s\n' run kills recorded 'p50 ms' 'p99 ms' 'max ms' 'seen p99 ms' 'RSS after KiB'
awk '$1 == "kills"' "$RESULTS" | while read -r _ r grss rest; do
	printf '%-4s %8s %9s %9s %9s %9s %12s %13s\n' "$r" "$(echo " $rest" | field kills)" "$(echo " $rest" | field recorded)" \
		"$(echo " $rest" | field p50_ms)" "$(echo " $rest" | field p99_ms)" "$(echo " $rest" | field max_ms)" \
		"$(echo " $rest" | field seen_p99_ms)" "$grss"
done
all=$(cat "$OUT"/kills.* | sed -n 's/.* latency_ms=\([^ ]*\).*/\1/p' | sort -g)
n=$(echo "$all" | grep -c . || true)
if [ "$n" -gt 0 ]; then
	p() { echo "$all" | awk -v p="$1" -v n="$n" '{v[NR] = $1} END {i = int(p / 100 * n); if (i < p / 100 * n) i++; if (i < 1) i = 1; print v[i]}'; }
	echo "all runs: $n kills recorded, p50 $(p 50) ms, p99 $(p 99) ms"
fi
# Threshold crossed -> signal sent (issue 15), the guard's pre-emption on the real kernel:
# bench/preempt.sh's guard mode, PREEMPT_RUNS runs per rate (default 20: 60 runs; 0 skips).
PREEMPT_RUNS=${PREEMPT_RUNS:-20}
if [ "$PREEMPT_RUNS" -gt 0 ]; then
	echo
	echo "threshold crossed -> signal sent: MODES=guard bench/preempt.sh $PREEMPT_RUNS"
	MODES=guard OUT="$OUT/preempt" sh bench/preempt.sh "$PREEMPT_RUNS" | grep -v '^|---'
fi
