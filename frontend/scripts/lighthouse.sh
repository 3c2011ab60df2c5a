#!/usr/bin/env bash
# Audit the built web app with Lighthouse (npm) in Debian's Chromium, and print the scores.
#
#   frontend/scripts/lighthouse.sh http://127.0.0.1:8000 [event-id] [seated-event-id]
#
# Lighthouse is installed into a temporary folder (never into the project); pages are audited
# with the mobile profile (throttled CPU and network) and the events list also as desktop.
# Every route of App.tsx is audited; pages behind a sign-in or the organizer token show (and
# are audited as) that form, since Lighthouse opens each page without a session. The "page not
# found" page is left out: it answers 404, and Lighthouse refuses to audit an error document.
# Minimums (the challenge's): performance 80, accessibility 90, best practices 85, SEO 90.
set -euo pipefail
base=${1:?base URL of a running CrowdPass, e.g. http://127.0.0.1:8000}
event=${2:-770e8400-e29b-41d4-a716-446655440002}
seated=${3:-770e8400-e29b-41d4-a716-446655440001}
export CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
tool=${LIGHTHOUSE_DIR:-$(mktemp -d)}
if [ ! -x "$tool/node_modules/.bin/lighthouse" ]; then
  (cd "$tool" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent lighthouse@12.8.2)
fi
out=$(mktemp -d)
pages=(
  "events|/"
  "event|/events/$event"
  "event-seated|/events/$seated"
  "waiting-room|/events/$event/queue"
  "feed|/feed"
  "my-tickets|/tickets"
  "organizer|/organizer"
  "organizer-event|/organizer/events/$event"
  "manage-event|/organizer/events/$event/manage"
  "jobs|/jobs"
  "checkout|/checkout/00000000-0000-4000-8000-000000000000"
  "door|/door/$event"
  "dev-mail|/dev/mail"
  "reset-password|/reset-password"
)
run() { # name url preset
  local flags=()
  [ "$3" = desktop ] && flags+=(--preset=desktop)
  "$tool/node_modules/.bin/lighthouse" "$2" "${flags[@]}" --quiet \
    --chrome-flags="--headless --no-sandbox --disable-gpu" \
    --only-categories=performance,accessibility,best-practices,seo \
    --output=json --output-path="$out/$1-$3.json" >/dev/null 2>&1
  node -e '
    const r = require(process.argv[1]);
    const c = r.categories, s = (k) => String(Math.round(c[k].score * 100)).padStart(3);
    console.log(`| ${process.argv[2].padEnd(13)} | ${process.argv[3].padEnd(7)} | ${s("performance")} | ${s("accessibility")} | ${s("best-practices")} | ${s("seo")} |`);
  ' "$out/$1-$3.json" "$1" "$3"
}
echo "| page          | profile | perf | a11y | best | SEO |"
echo "|---------------|---------|------|------|------|-----|"
for p in "${pages[@]}"; do run "${p%%|*}" "$base${p#*|}" mobile; done
run events "$base/" desktop
run event-seated "$base/events/$seated" desktop
echo "(JSON reports in $out)"
