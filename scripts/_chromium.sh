# Sourced by scripts/test: the browser tests drive Debian's chromium through Playwright
# (never `playwright install`, which downloads a browser build this machine cannot fetch).
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "chromium is missing: run 'sudo apt-get install -y chromium' (the browser tests need it)" >&2
    return 1
  fi
  echo "installing Debian chromium for the browser tests (first run only, ~480 MB) ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
}
