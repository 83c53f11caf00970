#!/usr/bin/env bash
# Installs the Debian packages llcuda's build and tests need, skipping what is already there.
# CUDA is optional: the CUDA backend is built when nvcc is at /usr/local/cuda or on PATH.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libfmt-dev nlohmann-json3-dev libcli11-dev libgtest-dev
  python3 python3-jinja2 python3-sentencepiece python3-numpy python3-pytest pybind11-dev python3-dev python3-venv python3-pip
  libcurl4-openssl-dev libssl-dev
  libopenmpi-dev openmpi-bin libcpp-httplib-dev libpcre2-dev nodejs
  clang libclang-rt-14-dev clang-format
  chromium
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

# npm: NodeSource's nodejs carries it (and conflicts with Debian's npm package); Debian's
# nodejs does not, so the npm package is added only when the command is missing.
if ! command -v npm >/dev/null && ! dpkg-query -W -f='${Version}' nodejs 2>/dev/null | grep -q nodesource; then
  packages+=(npm)
  missing+=(npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
