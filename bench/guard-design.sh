#!/bin/sh
# The guard's loop, two designs measured side by side before choosing (issue 14): a
# single-threaded rustix epoll loop (crates/oomlens-guard/examples/design_epoll.rs) and
# tokio's current_thread runtime (design_tokio.rs), doing the same work: N memory.events-like
# files watched with inotify, one PSI trigger on /proc/pressure/memory, a 1 s timer re-reading
# the N files, a /metrics responder on 127.0.0.1.
#
#   bench/guard-design.sh [RUNS [N [WRITES]]]      defaults: 3 runs, 100 files, 300 writes
#
# Per run, both prototypes run at once (same machine noise), each on its own directory:
#   idle RSS     VmRSS 30 s after start;
#   idle CPU     from 30 s to 90 s after start: utime+stime (/proc/PID/stat, 10 ms ticks) and
#                the scheduler's exact on-CPU ns (/proc/PID/task/*/schedstat), per minute;
#   latency      then, one prototype after the other (order alternating by run), WRITES
#                stamped writes 10 ms apart (design_drive latency): CLOCK_MONOTONIC before the
#                pwrite in the driver to CLOCK_MONOTONIC after the handler read the file back;
#                nearest-rank p50 and p99 in µs.
# Binary sizes: the release examples as built (profile.release keeps line tables) and
# stripped. Ratios are tokio / epoll; the last table gives each figure's median over runs.
set -eu
RUNS=${1:-3}
N=${2:-100}
WRITES=${3:-300}
# Shorter only for a smoke test of the script itself; the numbers are taken with 30 and 60.
SETTLE=${SETTLE:-30}
WINDOW=${WINDOW:-60}
cd "$(dirname "$0")/.."
. bench/guard-common.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p oomlens-guard --example design_epoll --example design_tokio --example design_drive
BIN="$CARGO_TARGET_DIR/release/examples"
OUT=bench/out/guard-design
rm -rf "$OUT"
mkdir -p "$OUT"
PIDS=
trap 'for p in $PIDS; do kill "$p" 2>/dev/null || true; done; rm -rf "$OUT/epoll" "$OUT/tokio"' EXIT
# A signal (or a closed pipe: `| head`) exits through the EXIT trap too.
trap 'exit 1' INT TERM HUP PIPE

for d in epoll tokio; do
	strip -o "$OUT/design_$d.stripped" "$BIN/design_$d"
	eval "size_$d=$(stat -c %s "$BIN/design_$d")"
	eval "ssize_$d=$(stat -c %s "$OUT/design_$d.stripped")"
done

RESULTS="$OUT/results"
: > "$RESULTS"
run=1
while [ "$run" -le "$RUNS" ]; do
	PIDS=
	port=$((19710 + run * 2))
	for d in epoll tokio; do
		rm -rf "${OUT:?}/$d"
		"$BIN/design_drive" setup "$OUT/$d" "$N"
		port=$((port + 1))
		"$BIN/design_$d" "$OUT/$d" "$N" "$port" 2>>"$OUT/stderr" &
		eval "pid_$d=$!; port_$d=$port"
		PIDS="$PIDS $!"
	done
	sleep "$SETTLE"
	for d in epoll tokio; do
		eval "p=\$pid_$d"
		eval "rss_$d=$(rss_kib "$p") t0_$d=$(cpu_ticks "$p") n0_$d=$(cpu_ns "$p")"
	done
	sleep "$WINDOW"
	for d in epoll tokio; do
		eval "p=\$pid_$d"
		eval "t1_$d=$(cpu_ticks "$p") n1_$d=$(cpu_ns "$p")"
	done
	if [ $((run % 2)) -eq 1 ]; then order="epoll tokio"; else order="tokio epoll"; fi
	for d in $order; do
		eval "port=\$port_$d"
		eval "lat_$d='$("$BIN/design_drive" latency "$OUT/$d" "$N" "$port" "$WRITES" 10)'"
	done
	for d in epoll tokio; do
		eval "p=\$pid_$d; rss=\$rss_$d; t0=\$t0_$d; t1=\$t1_$d; n0=\$n0_$d; n1=\$n1_$d; lat=\$lat_$d"
		kill "$p"
		tick_ms=$(awk -v t="$((t1 - t0))" -v w="$WINDOW" -v m="$TICK_MS" 'BEGIN {printf "%.0f", t * m * 60 / w}')
		ns_ms=$(awk -v a="$n0" -v b="$n1" -v w="$WINDOW" 'BEGIN {printf "%.2f", (b - a) / 1e6 * 60 / w}')
		p50=$(echo "$lat" | sed 's/.*p50_us=\([0-9.]*\).*/\1/')
		p99=$(echo "$lat" | sed 's/.*p99_us=\([0-9.]*\).*/\1/')
		n=$(echo "$lat" | sed 's/^n=\([0-9]*\).*/\1/')
		echo "$run $d $rss $tick_ms $ns_ms $p50 $p99 $n" >> "$RESULTS"
	done
	PIDS=
	run=$((run + 1))
done

psi=$(grep -c 'no PSI trigger' "$OUT/stderr" || true)
echo "guard loop designs: $N watched files, $WRITES writes per latency run, $RUNS runs, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$psi" -eq 0 ] && echo "PSI trigger armed in both (some 150000 2000000)" || echo "PSI trigger NOT armed ($psi times): see $OUT/stderr"
printf '%-4s %-6s %9s %12s %12s %9s %9s %6s\n' run design 'RSS KiB' 'CPU ms/min' 'sched ms/min' 'p50 µs' 'p99 µs' writes
while read -r r d rss tick ns p50 p99 n; do
	printf '%-4s %-6s %9s %12s %12s %9s %9s %6s\n' "$r" "$d" "$rss" "$tick" "$ns" "$p50" "$p99" "$n"
done < "$RESULTS"
echo
echo "ratios tokio / epoll, per run"
printf '%-4s %9s %12s %12s %9s %9s\n' run RSS 'CPU ticks' 'CPU sched' p50 p99
run=1
while [ "$run" -le "$RUNS" ]; do
	e=$(awk -v r="$run" '$1 == r && $2 == "epoll"' "$RESULTS")
	t=$(awk -v r="$run" '$1 == r && $2 == "tokio"' "$RESULTS")
	set -- $e; er=$3 et=$4 en=$5 e50=$6 e99=$7
	set -- $t; tr=$3 tt=$4 tn=$5 t50=$6 t99=$7
	printf '%-4s %9s %12s %12s %9s %9s\n' "$run" "$(ratio "$tr" "$er")" "$(ratio "$tt" "$et")" \
		"$(ratio "$tn" "$en")" "$(ratio "$t50" "$e50")" "$(ratio "$t99" "$e99")"
	run=$((run + 1))
done
echo
echo "medians over runs"
printf '%-6s %9s %12s %12s %9s %9s %14s %14s\n' design 'RSS KiB' 'CPU ms/min' 'sched ms/min' 'p50 µs' 'p99 µs' 'binary bytes' 'stripped'
for d in epoll tokio; do
	col() { awk -v d="$d" -v c="$1" '$2 == d {print $c}' "$RESULTS" | median; }
	eval "size=\$size_$d; ssize=\$ssize_$d"
	printf '%-6s %9s %12s %12s %9s %9s %14s %14s\n' "$d" "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)" "$(col 7)" "$size" "$ssize"
done
echo "stripped size ratio tokio / epoll: $(ratio "$ssize_tokio" "$ssize_epoll")"
