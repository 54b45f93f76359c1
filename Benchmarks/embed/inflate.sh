#!/bin/bash
# PNG image data inflated by zlib, ISA-L and libdeflate, the same files in one run (inflate.c).
# libdeflate is for comparison only (Debian libdeflate-dev; Kindred does not link it).
# usage: Benchmarks/embed/inflate.sh FILELIST   (FILELIST: one PNG path per line)
set -eu
cd "$(dirname "$0")/../.."
out=Benchmarks/data/embed; mkdir -p "$out"
if ! dpkg-query -W -f='${Status}' libdeflate-dev 2>/dev/null | grep -q "install ok installed"; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libdeflate-dev >&2
fi
cc -O2 -o "$out/inflate" Benchmarks/embed/inflate.c -lz -lisal -ldeflate
mapfile -t files < "$1"
cat "${files[@]}" > /dev/null  # from the page cache, as the embed benchmarks read them
"$out/inflate" "$1"
