#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Build the reassembly benchmark's peers (tests/bench/peers/) into OUTDIR:
#   OUTDIR/gopacket_bench  gopacket tcpassembly, from Debian's Go packages (no network)
#   OUTDIR/nids_bench      libnids (Debian libnids-dev)
# A peer that cannot be built gets one line on stderr saying why; the other is
# still built.
#
# Called:   scripts/bench-peers.sh OUTDIR
#           exit status 0 = both built, bit 0 (1) = gopacket failed, bit 1 (2) = libnids failed.
# Sourced:  . scripts/bench-peers.sh; bench_peers_build OUTDIR   (same return value)
#           or bench_peer_gopacket OUTDIR / bench_peer_libnids OUTDIR (0 = built).
# As root, missing Debian packages are installed first (like scripts/test);
# BENCH_PEERS_NO_INSTALL=1 turns that off.

_bench_peers_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

_bench_peers_install() { # PKG...
	[ "${BENCH_PEERS_NO_INSTALL:-0}" = 1 ] && return 0
	[ "$(id -u)" = 0 ] || return 0
	# shellcheck source=scripts/lib/deps.sh
	. "$_bench_peers_root/scripts/lib/deps.sh"
	install_packages "$@" >&2 || true
}

bench_peer_gopacket() { # OUTDIR
	local out=$1 src=$_bench_peers_root/tests/bench/peers/gopacket_bench.go log
	local gopath=/usr/share/gocode
	_bench_peers_install golang-go golang-github-google-gopacket-dev \
		golang-golang-x-net-dev golang-golang-x-sys-dev
	if ! command -v go >/dev/null 2>&1; then
		echo "bench-peers: gopacket: not built: no 'go' command (Debian package golang-go)" >&2
		return 1
	fi
	if [ ! -d "$gopath/src/github.com/google/gopacket/tcpassembly" ]; then
		echo "bench-peers: gopacket: not built: $gopath/src/github.com/google/gopacket missing" \
			"(Debian package golang-github-google-gopacket-dev)" >&2
		return 1
	fi
	mkdir -p "$out/.gocache" || return 1
	log=$out/gopacket_bench.build.log
	if ! (cd "$out" && GO111MODULE=off GOPATH=$gopath GOCACHE=$out/.gocache GOFLAGS="" \
		go build -o "$out/gopacket_bench" "$src") >"$log" 2>&1; then
		echo "bench-peers: gopacket: not built: go build failed ($(go version 2>/dev/null)):" >&2
		tail -20 "$log" | sed 's/^/  /' >&2
		return 1
	fi
}

bench_peer_libnids() { # OUTDIR
	local out=$1 src=$_bench_peers_root/tests/bench/peers/nids_bench.c log
	local cc=${CC:-cc}
	_bench_peers_install libnids-dev libpcap-dev
	if [ ! -f /usr/include/nids.h ]; then
		echo "bench-peers: libnids: not built: /usr/include/nids.h missing (Debian package libnids-dev)" >&2
		return 1
	fi
	mkdir -p "$out" || return 1
	log=$out/nids_bench.build.log
	# libnids.so records its own dependencies (libnet, glib, gthread); only
	# the static libnids.a would need them spelled out.
	local -a extra
	read -r -a extra <<<"-lnet $(pkg-config --libs glib-2.0 gthread-2.0 2>/dev/null)"
	if ! "$cc" -O2 -Wall -o "$out/nids_bench" "$src" -lnids -lpcap >"$log" 2>&1 &&
	   ! "$cc" -O2 -Wall -o "$out/nids_bench" "$src" -lnids -lpcap "${extra[@]}" >>"$log" 2>&1; then
		echo "bench-peers: libnids: not built: $cc failed:" >&2
		tail -20 "$log" | sed 's/^/  /' >&2
		return 1
	fi
}

bench_peers_build() { # OUTDIR
	local out=${1:?usage: bench_peers_build OUTDIR} rc=0
	mkdir -p "$out" || return 3
	out=$(cd "$out" && pwd)
	bench_peer_gopacket "$out" || rc=$((rc | 1))
	bench_peer_libnids "$out" || rc=$((rc | 2))
	return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	if [ $# -ne 1 ]; then
		echo "usage: $0 OUTDIR" >&2
		exit 2
	fi
	bench_peers_build "$1"
	exit $?
fi
