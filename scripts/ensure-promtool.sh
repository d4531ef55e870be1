#!/usr/bin/env bash
# The /metrics tests run `promtool check metrics` (test/promtool.test.ts and others); promtool comes
# with Debian's `prometheus` package. Installs it when missing and we may (root with apt-get);
# otherwise says how.
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "sluice: installing Debian's prometheus package for promtool (apt-get)..."
  apt-get update -qq
  # The package's service is not wanted: only its promtool binary. policy-rc.d (in containers) or
  # systemd may still start it; nothing here depends on it either way.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  command -v promtool >/dev/null 2>&1 && exit 0
  echo "sluice: the prometheus package did not provide promtool" >&2
  exit 1
fi
echo "sluice: the /metrics tests need promtool: install it (Debian: sudo apt-get install -y prometheus)," >&2
echo "        or put a promtool binary from https://prometheus.io/download/ on PATH." >&2
exit 1
