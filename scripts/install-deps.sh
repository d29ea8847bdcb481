#!/usr/bin/env bash
# Installs sparkctl's build and test dependencies from Debian 12 packages (apt only; nothing is
# downloaded at build time). Uses sudo when not run as root.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git python3
  libfmt-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libsqlite3-dev
  libboost1.81-dev                   # Asio + Beast, header-only (src/net/)
  libssl-dev                         # SHA-256 of the gateway's API keys (src/serve/), HTTPS (src/net/)
  openssl curl                       # gateway_test: a self-signed certificate, HTTPS requests
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev           # libFuzzer targets (the fuzz preset)
  nodejs                             # tests/node: the openai npm client against the stand-in
  chromium                           # the status page test (tests/e2e/status_page_browser_test)
)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# npm: Debian's package, unless a node install already brings its own (NodeSource's nodejs does,
# and conflicts with Debian's npm).
if ! command -v npm >/dev/null 2>&1; then
  $sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
echo "install-deps: ${#packages[@]} packages present"

# tests/node: the pinned client from its lockfile. `npm ci` wipes and reinstalls, so it runs only
# when node_modules does not match the lockfile (a copy of which is kept there once installed);
# offline with a current node_modules, nothing is fetched.
node_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/node"
stamp="${node_dir}/node_modules/.sparkctl-package-lock.json"
if cmp -s "${node_dir}/package-lock.json" "${stamp}"; then
  echo "install-deps: tests/node/node_modules is current"
else
  npm ci --prefix "${node_dir}" --no-audit --no-fund
  cp "${node_dir}/package-lock.json" "${stamp}"
fi
