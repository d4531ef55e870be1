#!/usr/bin/env bash
# The dashboard's browser tests drive a real headless Chromium (Debian's package, through
# playwright-core). Installs it when missing and we may (root with apt-get); otherwise says how.
set -euo pipefail
if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ]; then exit 0; fi
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "sluice: installing Debian's chromium for the dashboard's browser tests (apt-get)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "sluice: the dashboard's browser tests need Chromium: install it (Debian: sudo apt-get install -y chromium)," >&2
echo "        or point CHROMIUM_PATH at a Chromium binary." >&2
exit 1
