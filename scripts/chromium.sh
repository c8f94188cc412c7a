#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the dashboard's browser tests, and prints its path.
# Playwright drives it through executablePath; it never downloads a browser of its own.
set -euo pipefail
me=chromium.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/servers.sh"

if ! command -v chromium >/dev/null; then
  # Fonts so that text renders and can be measured the same on every machine.
  apt_install chromium fonts-liberation fonts-dejavu-core
fi
command -v chromium
