# tools/deps.sh — sourced by tools/test and tools/demo: install what is missing.
#
# deps_install PKG... installs the Debian packages not yet installed, with
# apt-get when run as root (one `apt-get update` first), and otherwise says
# which are missing and how to get them.
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

# The build needs these; the tests and plots add Python's numpy and
# matplotlib, the sqlite3 CLI, procps (pkill) and git (the build records the
# commit).  SLURM and munge are installed by tools/slurm-local when the SLURM
# test starts them.
BUILD_PKGS=(gcc pkg-config meson ninja-build git libgsl-dev libopenblas-dev libsqlite3-dev
            libopenmpi-dev openmpi-bin openssh-client libinih-dev sqlite3 procps
            python3 python3-numpy python3-matplotlib python3-pandas python3-scipy strace)
