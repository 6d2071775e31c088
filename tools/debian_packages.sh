# Sourced by the project's scripts: `install_missing PREFIX PKG...` installs those of the Debian
# packages that are not installed yet (with sudo when not root), saying so behind PREFIX; it
# returns 1 when every package was already there.
install_missing() {
  local prefix=$1 p sudo=""
  shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 1
  printf '%s installing Debian packages: %s\n' "$prefix" "${missing[*]}"
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
