#!/bin/sh
# Installs Debian's chromium for the browser tests (chromedp drives it over
# the DevTools protocol, so chromium-driver is not needed). Idempotent: does
# nothing when /usr/bin/chromium exists. Needs root (CI runs tests as root).
set -eu

if [ -x /usr/bin/chromium ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "hack/chromium/ensure.sh: /usr/bin/chromium is missing and installing it needs root; run: sudo apt-get install -y chromium" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
/usr/bin/chromium --version
