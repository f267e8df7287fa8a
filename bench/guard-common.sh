# Shared by bench/guard-design.sh and bench/guard.sh (sourced, POSIX sh): what one idle
# process costs, read from /proc while it runs.
#
#   rss_kib PID        VmRSS of /proc/PID/status, KiB (resident anon + file + shmem pages)
#   cpu_ticks PID      utime + stime of /proc/PID/stat (fields 14 and 15), clock ticks
#   cpu_ns PID         time on CPU of /proc/PID/task/*/schedstat (field 1), ns: the
#                      scheduler's own count, exact where a tick count over a minute of an
#                      idle process is a handful of 10 ms ticks
# Each sums over PID and its living children (the guard's `journalctl -f` is part of what
# it costs; earlyoom and the prototypes have none), so PID's own share is also given:
#   own_rss_kib PID, own_cpu_ns PID
#   own_lck_kib PID    VmLck of /proc/PID/status, KiB (pages mlock'ed: the guard's and
#                      earlyoom's mlockall; 0 without CAP_IPC_LOCK)
#   children PID       the pids of PID's children, one a line
#   ratio A B          A / B to two decimals ("-" when B is 0)

TICK_MS=$((1000 / $(getconf CLK_TCK)))

children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . || true; }

own_rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
own_lck_kib() { awk '/^VmLck:/ {print $2}' "/proc/$1/status"; }

rss_kib() {
	for p in "$1" $(children "$1"); do own_rss_kib "$p"; done | awk '{s += $1} END {printf "%.0f\n", s}'
}

# The comm field (2) may hold spaces and parentheses: cut after the last ')'.
cpu_ticks() {
	for p in "$1" $(children "$1"); do sed 's/.*) //' "/proc/$p/stat"; done | awk '{s += $12 + $13} END {printf "%.0f\n", s}'
}

# Sum over every thread: a runtime's worker or timer threads count too.
own_cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%.0f\n", s}'; }

cpu_ns() {
	for p in "$1" $(children "$1"); do own_cpu_ns "$p"; done | awk '{s += $1} END {printf "%.0f\n", s}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }

# Median of the numbers on stdin.
median() { sort -g | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
