# SPDX-License-Identifier: BSD-3-Clause
# Sourced by scripts/test and scripts/run-demo: install Debian packages that are missing.
# Usage: install_packages PKG...   (as root; runs apt-get only when something is missing)
install_packages() {
	local missing=()
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null || {
		echo "apt-get install ${missing[*]} failed" >&2
		return 1
	}
}

# The packages every build needs.
BUILD_PACKAGES=(dpdk dpdk-dev libdpdk-dev meson ninja-build pkg-config libpcap-dev nettle-dev libhiredis-dev librdkafka-dev python3 gcc g++)
