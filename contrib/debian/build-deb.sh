#!/bin/sh
# Builds the Debian package of oomlens with cargo-deb (`cargo install cargo-deb --locked`):
# the binary and the guard's daemon binary beside it (`oomlens guard` execs oomlens-guard), its man page and shell completions, oomlens-guard.service (enabled and started
# on install through cargo-deb's systemd-units), the journal catalog and
# /etc/default/oomlens-guard (a conffile). The package metadata is [package.metadata.deb]
# in crates/oomlens/Cargo.toml.
#
#   contrib/debian/build-deb.sh [--target TRIPLE] [--profile NAME] [--no-build] [cargo-deb options...]
#
# --target picks target/TRIPLE/release (the QEMU test bed packages its static binary that
# way: --target x86_64-unknown-linux-gnu --no-build); --profile a cargo profile other than
# release (`dev` packages target/debug); --no-build packages what is built.
# Other options go to cargo deb (e.g. --output FILE). The .deb is written to
# target/[TRIPLE/]debian/ unless --output says otherwise; its path is printed last.
set -eu
cd "$(dirname "$0")/../.."

target=""
profile=release
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --target) target="$2"; shift 2 ;;
        --profile) profile="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        *) break ;;
    esac
done

target_dir="${CARGO_TARGET_DIR:-target}"
profile_dir="$profile"
[ "$profile" = dev ] && profile_dir=debug
release="$target_dir/${target:+$target/}$profile_dir"
if [ "$build" = 1 ]; then
    # Both binaries, always together: `oomlens guard` execs the oomlens-guard beside it, and a
    # stale one (left from an older build) would run instead of this build's guard.
    cargo build --profile "$profile" -p oomlens -p oomlens-guard --bin oomlens --bin oomlens-guard \
        ${target:+--target "$target"}
fi

# cargo-deb copies files and does not run programs: the man page and the completions come
# from the built binary's own flag definitions (the hidden `generate` subcommand) first.
[ -x "$release/oomlens-guard" ] || { echo "build-deb.sh: no $release/oomlens-guard (build -p oomlens-guard)" >&2; exit 1; }
gen="$release/generated"
mkdir -p "$gen"
# Debian policy wants man pages gzipped; cargo-deb compresses only files it does not take
# from the target directory.
"$release/oomlens" generate man | gzip -9n > "$gen/oomlens.1.gz"
"$release/oomlens" generate bash > "$gen/oomlens.bash"
"$release/oomlens" generate zsh > "$gen/_oomlens"
"$release/oomlens" generate fish > "$gen/oomlens.fish"

exec cargo deb -p oomlens --no-build --profile "$profile" ${target:+--target "$target"} "$@"
