#!/usr/bin/env bash
# Renders a demo page (mrg demo's DIR/index.html) in headless Chromium and
# writes a PNG screenshot, to see the page as a reader does:
#   tools/screenshot_demo.sh [PAGE] [OUT.png] [WIDTHxHEIGHT]
# (defaults: demo-out/index.html, demo-screenshot.png, 1280x2000).
# Needs Debian's `chromium` (apt-get install chromium). Chromium runs with
# networking pointed nowhere, so a page that tried to load anything from
# elsewhere would show it broken.
set -euo pipefail
page=${1:-demo-out/index.html}
out=${2:-demo-screenshot.png}
size=${3:-1280x2000}
command -v chromium >/dev/null || { echo "screenshot_demo: chromium is not installed (apt-get install chromium)" >&2; exit 2; }
[ -f "$page" ] || { echo "screenshot_demo: no page at $page" >&2; exit 2; }
abs=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
case $out in /*) ;; *) out=$PWD/$out ;; esac
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: containers (and root) have no user namespaces for it
timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$profile" --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>' \
    --window-size="${size/x/,}" --screenshot="$out" "file://$abs" 2>"$profile/log" \
    || { cat "$profile/log" >&2; exit 1; }
[ -s "$out" ] || { echo "screenshot_demo: chromium wrote no screenshot" >&2; cat "$profile/log" >&2; exit 1; }
echo "screenshot_demo: $out"
