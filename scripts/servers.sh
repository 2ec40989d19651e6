#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis server binaries are installed, so that the tests can
# start throwaway servers when none answer (and the password-auth ones they always start),
# and Debian's Chromium and ChromeDriver for the dashboard's browser test.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
# the dashboard's status marks are emoji: without this font the screenshot shows empty boxes
[[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]] || need+=(fonts-noto-color-emoji)
((${#need[@]})) || exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "warning: ${need[*]} not installed and cannot install them (not root or no apt-get);" \
       "tests that need throwaway servers or a browser will be skipped or fail" >&2
fi
