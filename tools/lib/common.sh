# tools/lib/common.sh — the one shell library of the tools, sourced by every
# entry point in tools/ (demo, test, bench, bench-sweep, study, submit,
# slurm-local) and by tests/test_slurm.sh.  It holds:
#
#   deps_install PKG...   install the Debian packages not yet installed, with
#                         apt-get when run as root (one `apt-get update`
#                         first); otherwise say which are missing and how to
#                         get them (returns 1)
#   BUILD_PKGS            what the build, the tests and the plots need
#   rs_build [TARGET...]  configure build/ if it has no build.ninja (also
#                         after a failed `meson setup`, which leaves the
#                         directory behind), then ninja; returns ninja's code
#   rs_bin                the rnnsweep to use: $RNNSWEEP_BIN if set (checked),
#                         else build/rnnsweep, built if missing or stale
#   rs_mpi_env            as root, the two variables Open MPI needs to run
#
# Paths are relative to the repository root: entry points `cd` there first.

deps_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The build needs these; the tests and plots add Python's numpy, pandas,
# scipy and matplotlib, the sqlite3 CLI, procps (pkill), strace (the crash
# tests), clang with libFuzzer (the parser fuzzers) and git (the build
# records the commit).  SLURM and munge are
# installed by tools/slurm-local when the SLURM test starts them.
BUILD_PKGS=(gcc pkg-config meson ninja-build git libgsl-dev libopenblas-dev libsqlite3-dev
            libopenmpi-dev openmpi-bin openssh-client libinih-dev sqlite3 procps
            python3 python3-numpy python3-matplotlib python3-pandas python3-scipy strace
            clang libclang-rt-14-dev)
# The dashboard's test looks at the page in Debian's headless Chromium, and
# the MPI test prints a hung launch's stacks with gdb; where they cannot be
# installed, that check is skipped and the stacks are not printed.
TEST_PKGS=(chromium gdb)

rs_build() {
  local dir=${RS_BUILD_DIR:-build}
  if [ ! -f "$dir/build.ninja" ]; then
    if [ -d "$dir" ]; then meson setup --wipe "$dir" >/dev/null || return 1
    else meson setup "$dir" >/dev/null || return 1; fi
  fi
  ninja -C "$dir" "$@" >/dev/null
}

rs_bin() {
  if [ -n "${RNNSWEEP_BIN:-}" ]; then
    command -v -- "$RNNSWEEP_BIN" >/dev/null || { echo "RNNSWEEP_BIN=$RNNSWEEP_BIN: not found" >&2; return 2; }
    realpath -- "$(command -v -- "$RNNSWEEP_BIN")"
  else
    rs_build rnnsweep || { echo "build failed (meson setup build && ninja -C build)" >&2; return 1; }
    realpath build/rnnsweep
  fi
}

rs_mpi_env() {
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}
