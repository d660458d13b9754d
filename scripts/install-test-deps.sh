#!/usr/bin/env bash
# Installs the Debian packages the test suite talks to: the real registry (CNCF distribution),
# the oracles (umoci, skopeo, kernel overlayfs via mount, attr), FUSE, compressors and debootstrap.
# Run as root on Debian 12. Idempotent.
set -euo pipefail
PKGS=(docker-registry umoci skopeo busybox-static fuse3 attr libcap2-bin jq apache2-utils zstd pigz openssl debootstrap tar gzip python3 ca-certificates)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
for bin in docker-registry umoci skopeo getfattr setfattr htpasswd zstd pigz openssl mount; do
  command -v "$bin" >/dev/null || { echo "missing after install: $bin" >&2; exit 1; }
done
echo "test dependencies ready"
