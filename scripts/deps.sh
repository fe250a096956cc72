#!/usr/bin/env bash
# Installs what building and testing totemd needs, when it is missing. Debian, as root.
# Idempotent and quiet when everything is there.
set -euo pipefail

need_apt=()
command -v gcc >/dev/null || need_apt+=(gcc)
command -v git >/dev/null || need_apt+=(git)

if ((${#need_apt[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing ${need_apt[*]}; run as root or install them: apt-get install ${need_apt[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! command -v go >/dev/null && [ ! -x /usr/local/go/bin/go ]; then
  echo "deps: Go 1.26 is required (https://go.dev/doc/install); it is not on PATH" >&2
  exit 1
fi
