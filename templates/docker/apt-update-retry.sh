#!/bin/sh
# apt-get update that retries while Debian's mirror is mid-sync ("File has unexpected
# size", "Hash Sum mismatch") or unreachable, then fails with one line.
for attempt in 1 2 3 4 5; do
  if apt-get update -q >/tmp/apt-update.log 2>&1 \
      && ! grep -q '^[EW]: \(Failed\|.*Hash Sum\|.*unexpected size\)' /tmp/apt-update.log; then
    exit 0
  fi
  cat /tmp/apt-update.log >&2
  sleep $((attempt * ${APT_RETRY_SLEEP:-5}))
done
echo "cross_compiler: apt-get update kept failing: Debian's mirror is unreachable or mid-sync; retry later" >&2
exit 100
