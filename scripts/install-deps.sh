#!/usr/bin/env bash
# Installs sparkctl's build and test dependencies from Debian 12 packages (apt only; nothing is
# downloaded at build time). Uses sudo when not run as root.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config git python3
  libfmt-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libsqlite3-dev
  libboost1.81-dev                   # Asio + Beast, header-only (src/net/)
  libssl-dev                         # SHA-256 of the gateway's API keys (src/serve/)
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev           # libFuzzer targets (the fuzz preset)
)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "install-deps: ${#packages[@]} packages present"
