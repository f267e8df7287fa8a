#!/usr/bin/env bash
# Bench `oomlens explain --json` on a large generated kernel log against `grep -c`, measure
# its peak RSS on a small and a large log, and check that it found every inserted report.
# See bench/README.md. Exit status: 0 ok, 1 incident counts mismatch, 2 setup error.
# Timing never fails the run.
set -euo pipefail

SIZE=${SIZE:-200M}          # the large log
SMALL=${SMALL:-20M}         # the small log (RSS comparison)
FORM=${FORM:-dmesg}         # dmesg | journal | syslog | kmsg
SEED=${SEED:-1}
EVERY=${EVERY:-2M}          # mean distance between OOM reports
RUNS=${RUNS:-10}            # hyperfine runs per command
WARMUP=${WARMUP:-2}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/bench/out"
mkdir -p "$out"
cd "$root"

die() { echo "explain.sh: $*" >&2; exit 2; }

# Tools: hyperfine and GNU time are Debian packages.
need_pkg() { # command package
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "explain.sh: installing $2" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "$2" >/dev/null \
        || die "could not install $2; install it and rerun"
}
need_pkg hyperfine hyperfine
[ -x /usr/bin/time ] || need_pkg /usr/bin/time time
GNU_TIME=/usr/bin/time

cargo build --release --quiet -p oomlens --bin oomlens -p oomlens-testkit --bin oomlens-loggen \
    || die "cargo build failed"
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
OOMLENS="$target_dir/release/oomlens"
LOGGEN="$target_dir/release/oomlens-loggen"

# gen SIZE NAME: writes $out/NAME.log and NAME.tsv; prints the generator's summary line.
gen() {
    "$LOGGEN" --size "$1" --form "$FORM" --seed "$SEED" --report-every "$EVERY" \
        --manifest "$out/$2.tsv" -o "$out/$2.log" 2>"$out/$2.gen" || die "generator failed: $(cat "$out/$2.gen")"
    cat "$out/$2.gen"
}
field() { # summary key
    sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"
}

big="explain-$SIZE-$FORM-$SEED"
small="explain-$SMALL-$FORM-$SEED"
big_summary=$(gen "$SIZE" "$big")
small_summary=$(gen "$SMALL" "$small")
big_log="$out/$big.log"
bytes=$(field "$big_summary" bytes)

# Timing: oomlens vs grep on the same (page-cached) file. --output=pipe: GNU grep stops at
# the first match when its stdout is /dev/null, which hyperfine's default output is.
hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" --ignore-failure --output=pipe \
    --export-csv "$out/hyperfine.csv" \
    -n oomlens "'$OOMLENS' explain --json '$big_log' >/dev/null" \
    -n grep "grep -c 'Killed process' '$big_log'" >"$out/hyperfine.txt" 2>&1 \
    || die "hyperfine failed: $(tail -5 "$out/hyperfine.txt")"
# CSV columns: command,mean,stddev,median,user,system,min,max
mean() { awk -F, -v c="$1" '$1 == c { print $2 }' "$out/hyperfine.csv"; }
sdev() { awk -F, -v c="$1" '$1 == c { print $3 }' "$out/hyperfine.csv"; }
o_mean=$(mean oomlens); g_mean=$(mean grep)
o_sd=$(sdev oomlens); g_sd=$(sdev grep)

# Peak RSS (GNU time %M = ru_maxrss of the child, KiB) and the JSON for the count check.
rss() { # log json -> KiB
    "$GNU_TIME" -f %M -o "$out/rss.txt" "$OOMLENS" explain --json "$1" >"$2" 2>"$out/oomlens.stderr" || true
    tail -1 "$out/rss.txt"
}
rss_small=$(rss "$out/$small.log" "$out/$small.json")
rss_big=$(rss "$big_log" "$out/$big.json")

# Counts: every inserted report found once, nothing found in noise.
status=0
verify() { # name -> prints the verify report, sets status
    if ! "$LOGGEN" verify --manifest "$out/$1.tsv" "$out/$1.json" >"$out/$1.verify" 2>&1; then
        status=1
    fi
}
verify "$small"
verify "$big"
found_big=$(sed -n 's/^expected [0-9]* incidents, found \([0-9]*\).*/\1/p' "$out/$big.verify")
found_small=$(sed -n 's/^expected [0-9]* incidents, found \([0-9]*\).*/\1/p' "$out/$small.verify")
grep_count=$(grep -c 'Killed process' "$big_log" || true)
killed=$(field "$big_summary" killed_process_lines)
[ "$grep_count" = "$killed" ] || status=1

row() { printf '  %-36s %s\n' "$1" "$2"; }
verdict() { # verify-file
    if grep -qE '^(MISSED|SPLIT|EXTRA)' "$1"; then echo MISMATCH; else echo ok; fi
}
awk -v bytes="$bytes" -v om="$o_mean" -v gm="$g_mean" -v osd="$o_sd" -v gsd="$g_sd" \
    -v rs="$rss_small" -v rb="$rss_big" -v small="$SMALL" -v size="$SIZE" -v form="$FORM" \
    -v seed="$SEED" -v reports="$(field "$big_summary" reports)" \
    'BEGIN {
        printf "oomlens explain bench: %.1f MiB %s log, seed %s, %s OOM reports\n", bytes / 1048576, form, seed, reports
        printf "  %-36s %9s %9s\n", "", "mean", "stddev"
        printf "  %-36s %8.3fs %8.3fs\n", "oomlens explain --json FILE", om, osd
        printf "  %-36s %8.3fs %8.3fs\n", "grep -c '\''Killed process'\'' FILE", gm, gsd
        printf "  %-36s %8.1fx\n", "ratio oomlens/grep", om / gm
        printf "  %-36s %5.0f MiB/s\n", "oomlens throughput", bytes / 1048576 / om
        printf "  %-36s %5.1f MiB\n", "oomlens peak RSS, " small " log", rs / 1024
        printf "  %-36s %5.1f MiB\n", "oomlens peak RSS, " size " log", rb / 1024
    }'
row "incidents inserted/found, $SMALL log" \
    "$(field "$small_summary" incidents) / ${found_small:-?}  $(verdict "$out/$small.verify")"
row "incidents inserted/found, $SIZE log" \
    "$(field "$big_summary" incidents) / ${found_big:-?}  $(verdict "$out/$big.verify")"
ok() { [ "$1" = "$2" ] && echo ok || echo MISMATCH; }
row "Killed process lines inserted/grep" "$killed / $grep_count  $(ok "$killed" "$grep_count")"

if [ "$status" -ne 0 ]; then
    echo
    echo "explain.sh: oomlens did not find exactly the inserted reports:"
    for v in "$small" "$big"; do
        grep -E '^(MISSED|SPLIT|EXTRA|NOTE|\.\.\.)' "$out/$v.verify" | head -8 | sed "s|^|  $v: |"
    done
    echo "  (full lists: bench/out/*.verify; logs and manifests: bench/out/)"
fi
exit "$status"
