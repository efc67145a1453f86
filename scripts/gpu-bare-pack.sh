#!/usr/bin/env bash
# For a GPU server that has neither Node nor the Vulkan loader (a bare CUDA image), and no network:
# packs the GPU benchmark and trainer (npm run pack:gpu-bench) with this machine's Node binary into
# .gpu/pack.tar.xz, and downloads Debian 12's Vulkan loader and GLVND libraries (which NVIDIA's
# Vulkan driver loads) into .gl/. Copy the checkout's scripts/, .gpu/ and .gl/ over and run
# scripts/gpu-bare-run.sh there. Both folders are git-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run pack:gpu-bench
mkdir -p .gl .gpu
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  (cd .gl && apt-get download libvulkan1 libglvnd0 libgl1 libegl1 libgles2 libglx0 libopengl0)
fi
src=$(mktemp -d)
cp -r build/gpu-bench "$src/gpu-bench"
cp "$(command -v node)" "$src/node"
tar -C "$src" -cJf .gpu/pack.tar.xz gpu-bench node
rm -rf "$src"
echo "packed .gpu/pack.tar.xz ($(du -h .gpu/pack.tar.xz | cut -f1)) and .gl/ ($(ls .gl | wc -l) packages)"
