# Shared by bench/guard-design.sh and bench/guard.sh (sourced, POSIX sh): what one idle
# process costs, read from /proc while it runs.
#
#   rss_kib PID        VmRSS of /proc/PID/status, KiB (resident anon + file + shmem pages)
#   cpu_ticks PID      utime + stime of /proc/PID/stat (fields 14 and 15), clock ticks
#   cpu_ns PID         time on CPU of /proc/PID/schedstat (field 1), ns: the scheduler's
#                      own count, exact where a tick count over a minute of an idle process
#                      is a handful of 10 ms ticks
#   ratio A B          A / B to two decimals ("-" when B is 0)

TICK_MS=$((1000 / $(getconf CLK_TCK)))

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# The comm field (2) may hold spaces and parentheses: cut after the last ')'.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

cpu_ns() {
	# Sum over every thread: a runtime's worker or timer threads count too.
	cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {print s}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }

# Median of the numbers on stdin.
median() { sort -g | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
