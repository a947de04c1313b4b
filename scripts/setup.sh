#!/usr/bin/env bash
# One-time set-up of a facegate checkout on Debian, Raspberry Pi OS or Jetson (Ubuntu):
# system packages (OpenCV dev files and cascades, ffmpeg, Mosquitto clients, libgpiod tools,
# SQLite build tools), then `npm ci` with the native OpenCV binding built against the
# system OpenCV. Idempotent: run it again after every pull. Works as root or through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi

PACKAGES=(
  build-essential python3 pkg-config  # node-gyp for better-sqlite3, epoll, opencv4nodejs
  libopencv-dev opencv-data           # native OpenCV + Haar cascades
  ffmpeg                              # camera capture (v4l2, RTSP, files)
  mosquitto mosquitto-clients openssl # local broker for tests and the demo (openssl: TLS test certificates)
  gpiod                               # libgpiod command-line tools (gpioset/gpioget)
  systemd                             # systemd-notify at run time; systemd-analyze for the unit test
)

started=$SECONDS
step() { echo "setup: [$1/3] $2 ($((SECONDS - started)) s so far)"; }

step 1 "system packages"
updated=0
missing=()
for pkg in "${PACKAGES[@]}"; do
  [ "$pkg" = "#" ] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  updated=1
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present"
fi

# Chromium drives the live view's browser test (test/ops/live-view-browser.test.ts; it skips
# without it). Optional: a door does not need it, so FACEGATE_SETUP_CHROMIUM=0 skips it and a
# failed install only warns.
if [ "${FACEGATE_SETUP_CHROMIUM:-1}" = "1" ] && [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium (for the live view browser test)"
  [ "$updated" = "1" ] || $SUDO apt-get update -qq || true
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
    || echo "setup: chromium not installed; the live view browser test will be skipped" >&2
fi

# @u4/opencv4nodejs: build against the system OpenCV instead of cloning and compiling
# OpenCV itself (it reads only the environment, not package.json).
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
export OPENCV_INCLUDE_DIR="${OPENCV_INCLUDE_DIR:-/usr/include/opencv4}"
export OPENCV_LIB_DIR="${OPENCV_LIB_DIR:-$(dirname "$(find /usr/lib -name 'libopencv_core.so' -print -quit 2>/dev/null || echo /usr/lib/x/libopencv_core.so)")}"
export OPENCV_BIN_DIR="${OPENCV_BIN_DIR:-/usr/bin}"
export JOBS="${JOBS:-$(nproc)}"

# Optional native modules (tfjs-node, opencv4nodejs, onoff) may fail to build: npm skips
# them and facegate falls back to TF.js wasm and OpenCV wasm.
step 2 "npm ci: compiling the native OpenCV and SQLite bindings takes about 5 minutes on 2 cores"
npm ci --no-audit --no-fund

step 3 "checking the native OpenCV binding"

node -e "require('@u4/opencv4nodejs')" 2>/dev/null \
  && echo "setup: native OpenCV binding ready" \
  || echo "setup: native OpenCV binding not available; the WebAssembly OpenCV will be used"
echo "setup: done in $((SECONDS - started)) s"
