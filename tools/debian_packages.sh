# Sourced by the project's scripts: `install_missing PREFIX PKG...` installs those of the Debian
# packages that are not installed yet (with sudo when not root), saying what it does behind PREFIX.
# It returns non-zero only when the install failed, so a caller under `set -e` stops there instead
# of building against missing packages. apt waits up to 15 minutes for another apt's lock.
install_missing() {
  local prefix=$1 p sudo=""
  shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    printf '%s all Debian packages present\n' "$prefix"
    return 0
  fi
  printf '%s installing Debian packages: %s\n' "$prefix" "${missing[*]}"
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get -o DPkg::Lock::Timeout=900 update -qq || return
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null || {
    printf '%s apt-get could not install: %s\n' "$prefix" "${missing[*]}" >&2
    return 1
  }
}
