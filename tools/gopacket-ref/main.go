// SPDX-License-Identifier: BSD-3-Clause
//
// gopacket-ref: the reference side of tests/captures_vs_gopacket.py.
//
// For each classic pcap file on the command line it runs gopacket's
// tcpassembly exactly as a plain user would (one StreamPool, one Assembler,
// default options, no periodic flush, FlushAll at the end) and prints:
//
//	# FILE
//	one JSON line per stream direction, sorted
//	# end
//
// Tunnelled TCP (IP in IP, GRE, VXLAN, Geneve, GTP-U, as far as gopacket decodes
// them) is given to the assembler with the innermost IP layer around its TCP layer
// (innermostTCP), which is how reasm keys it; for plain frames that is exactly
// NetworkLayer() and TransportLayer().
//
// Each line summarises what the stream received (see streamSummary); the
// test program tests/tools/pcap_replay prints the same lines for reasm.
// Only Ethernet captures are assembled; for other link types only the
// "# FILE" line is printed. A file whose header pcapgo rejects prints
// {"error":"header"}. Reading stops at the first packet pcapgo refuses
// (capture length over the snap length or over the wire length, or a cut
// record), as a gopacket program would.
//
// Build (Debian packages golang-go golang-github-google-gopacket-dev
// golang-golang-x-net-dev golang-golang-x-sys-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=DIR go build -o OUT tools/gopacket-ref/main.go
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net"
	"os"
	"sort"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/google/gopacket/tcpassembly"
)

type stream struct {
	src, dst     string
	sport, dport uint16
	bytes        int
	records      int
	skips        int
	skipUnknown  int
	skippedBytes int
	start, end   bool
	data         hash.Hash // sha256 of the delivered bytes
	meta         hash.Hash // sha256 of "len skip start end seen_ns\n" per record
	out          *[]string
}

type factory struct {
	out *[]string
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (f *factory) New(netFlow, tcpFlow gopacket.Flow) tcpassembly.Stream {
	src, dst := netFlow.Endpoints()
	sp, dp := tcpFlow.Endpoints()
	return &stream{
		src:   net.IP(src.Raw()).String(),
		dst:   net.IP(dst.Raw()).String(),
		sport: uint16(sp.Raw()[0])<<8 | uint16(sp.Raw()[1]),
		dport: uint16(dp.Raw()[0])<<8 | uint16(dp.Raw()[1]),
		data:  sha256.New(),
		meta:  sha256.New(),
		out:   f.out,
	}
}

func (s *stream) Reassembled(rs []tcpassembly.Reassembly) {
	for _, r := range rs {
		s.records++
		s.bytes += len(r.Bytes)
		switch {
		case r.Skip == -1:
			s.skipUnknown++
		case r.Skip > 0:
			s.skips++
			s.skippedBytes += r.Skip
		}
		s.start = s.start || r.Start
		s.end = s.end || r.End
		s.data.Write(r.Bytes)
		fmt.Fprintf(s.meta, "%d %d %d %d %d\n", len(r.Bytes), r.Skip,
			b2i(r.Start), b2i(r.End), r.Seen.UnixNano())
	}
}

func (s *stream) ReassemblyComplete() {
	*s.out = append(*s.out, fmt.Sprintf(
		`{"src":"%s","sport":%d,"dst":"%s","dport":%d,"bytes":%d,"records":%d,`+
			`"skips":%d,"skip_unknown":%d,"skipped_bytes":%d,"start":%t,"end":%t,`+
			`"sha256":"%s","meta_sha256":"%s"}`,
		s.src, s.sport, s.dst, s.dport, s.bytes, s.records, s.skips, s.skipUnknown,
		s.skippedBytes, s.start, s.end,
		hex.EncodeToString(s.data.Sum(nil)), hex.EncodeToString(s.meta.Sum(nil))))
}

// innermostTCP finds the TCP layer a packet carries and the IP layer right around
// it: for plain frames that is gopacket's NetworkLayer() and TransportLayer(); for
// tunnelled ones (IP in IP, GRE, VXLAN, Geneve, GTP-U, whatever gopacket decodes),
// the innermost IP layer and its TCP, which is how reasm keys them. A packet whose
// first transport layer is not TCP and that carries no TCP deeper is not assembled.
func innermostTCP(packet gopacket.Packet) (gopacket.Flow, *layers.TCP, bool) {
	var flow gopacket.Flow
	haveIP := false
	for _, l := range packet.Layers() {
		switch l := l.(type) {
		case *layers.IPv4:
			flow, haveIP = l.NetworkFlow(), true
		case *layers.IPv6:
			flow, haveIP = l.NetworkFlow(), true
		case *layers.TCP:
			return flow, l, haveIP
		}
	}
	return flow, nil, false
}

func replay(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{`{"error":"open"}`}
	}
	defer f.Close()
	reader, err := pcapgo.NewReader(f)
	if err != nil {
		return []string{`{"error":"header"}`}
	}
	if reader.LinkType() != layers.LinkTypeEthernet {
		return nil
	}
	var out []string
	pool := tcpassembly.NewStreamPool(&factory{out: &out})
	assembler := tcpassembly.NewAssembler(pool)
	for {
		data, ci, err := reader.ReadPacketData()
		if err != nil {
			break
		}
		packet := gopacket.NewPacket(data, reader.LinkType(), gopacket.Default)
		netFlow, tcp, ok := innermostTCP(packet)
		if !ok {
			continue
		}
		assembler.AssembleWithTimestamp(netFlow, tcp, ci.Timestamp)
	}
	assembler.FlushAll()
	sort.Strings(out)
	return out
}

func main() {
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for _, path := range os.Args[1:] {
		fmt.Fprintf(w, "# %s\n", path)
		for _, line := range replay(path) {
			fmt.Fprintln(w, line)
		}
		fmt.Fprintln(w, "# end")
	}
}
