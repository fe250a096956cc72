#!/usr/bin/env bash
# Installs what building and testing totemd needs, when it is missing. Debian, as root.
# Idempotent and quiet when everything is there.
#   gcc, pkg-config, libusb-1.0-0-dev  cgo build of github.com/google/gousb (USB printers)
#   socat                              pty pairs for the serial-link tests
#   git                                version stamping, file lists for gofmt
#   chromium                           the kiosk UI's browser tests (ui/web/e2e), at /usr/bin/chromium
#   nodejs, npm                        those tests' runner (node --test) and playwright-core (npm ci)
set -euo pipefail

need_apt=()
command -v gcc >/dev/null || need_apt+=(gcc)
command -v git >/dev/null || need_apt+=(git)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v socat >/dev/null || need_apt+=(socat)
if ! pkg-config --exists libusb-1.0 2>/dev/null; then need_apt+=(libusb-1.0-0-dev); fi
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)

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

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "deps: Node.js $(node --version 2>/dev/null || echo '(none)') is older than 20, which playwright-core needs for the browser tests" >&2
fi

if ! command -v go >/dev/null && [ ! -x /usr/local/go/bin/go ]; then
  echo "deps: Go 1.26 is required (https://go.dev/doc/install); it is not on PATH" >&2
  exit 1
fi
