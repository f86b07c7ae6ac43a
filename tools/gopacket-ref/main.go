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
// With -defrag, IPv4 fragments go through gopacket's own ip4defrag first, as a
// gopacket user would put it before tcpassembly (see defragTCP): the first IPv4
// layer of a packet that is a fragment (outer, or inner in a tunnel) is given to
// one IPv4Defragmenter per file (DefragIPv4WithTimestamp, the capture's time);
// a packet whose datagram is not complete yet is not assembled; a completed
// datagram is decoded on from its payload and its innermost IP and TCP layers
// assembled at the time of the fragment that completed it. ip4defrag 1.1.19's
// own policies apply: IPv4 only; a fragment with DF set left alone; one of
// under 8 bytes rejected; one at an offset already held ignored; overlapping
// bytes counted twice (the datagram then never completes, or is built wrong);
// every IPv4 header taken as 20 bytes in its length arithmetic (a datagram
// with options in a fragment never completes); no timeout unless
// -defrag-timeout. IPv6 fragments are still not reassembled (gopacket has no
// IPv6 defragmenter).
// -defrag-stats prints, per file, what the defragmenter did on stderr.
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
	"flag"
	"fmt"
	"hash"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/ip4defrag"
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
	return innermostTCPFrom(packet, gopacket.Flow{}, false)
}

// innermostTCPFrom is innermostTCP for a packet that lies inside an IP layer of
// flow (haveIP): a reassembled datagram's payload.
func innermostTCPFrom(packet gopacket.Packet, flow gopacket.Flow,
	haveIP bool) (gopacket.Flow, *layers.TCP, bool) {
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

// defragStats counts what the defragmenter did with one file (-defrag-stats).
type defragStats struct {
	fragments, dontFragment, datagrams, pending int
	errors                                      map[string]int
}

// defragTCP is innermostTCP with gopacket's ip4defrag in front: the first IPv4
// layer that is a fragment (MF set or an offset) goes to d; until its datagram is
// complete (or if ip4defrag rejects the fragment) the packet carries no TCP; the
// datagram ip4defrag returns is decoded on from its payload (its protocol's layer
// type, as gopacket's IPv4 decoder would) and searched like the packet itself.
// Packets without a fragmented IPv4 layer are innermostTCP's.
func defragTCP(d *ip4defrag.IPv4Defragmenter, st *defragStats, packet gopacket.Packet,
	ts time.Time) (gopacket.Flow, *layers.TCP, bool) {
	for _, l := range packet.Layers() {
		ip, ok := l.(*layers.IPv4)
		if !ok || (ip.Flags&layers.IPv4MoreFragments == 0 && ip.FragOffset == 0) {
			continue
		}
		st.fragments++
		out, err := d.DefragIPv4WithTimestamp(ip, ts)
		if err != nil {
			msg := err.Error()
			if i := strings.Index(msg, " ("); i >= 0 {
				msg = msg[:i]
			}
			st.errors[msg]++
			return gopacket.Flow{}, nil, false
		}
		if out == ip {
			// DF set: ip4defrag leaves it alone, and gopacket decoded its
			// payload as a Fragment layer, no TCP in it.
			st.dontFragment++
			return gopacket.Flow{}, nil, false
		}
		if out == nil {
			return gopacket.Flow{}, nil, false // not complete yet
		}
		st.datagrams++
		inner := gopacket.NewPacket(out.Payload, out.NextLayerType(), gopacket.Default)
		return innermostTCPFrom(inner, out.NetworkFlow(), true)
	}
	return innermostTCP(packet)
}

var (
	defragFlag = flag.Bool("defrag", false,
		"reassemble IPv4 fragments with gopacket's ip4defrag before TCP assembly")
	defragTimeout = flag.Duration("defrag-timeout", 0,
		"with -defrag: forget fragments with no activity for this long (ip4defrag's "+
			"DiscardOlderThan, capture time, checked before each packet); 0: never")
	defragStatsFlag = flag.Bool("defrag-stats", false,
		"with -defrag: print per file what the defragmenter did on stderr")
)

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
	var defragger *ip4defrag.IPv4Defragmenter
	st := &defragStats{errors: map[string]int{}}
	if *defragFlag {
		defragger = ip4defrag.NewIPv4Defragmenter()
	}
	for {
		data, ci, err := reader.ReadPacketData()
		if err != nil {
			break
		}
		packet := gopacket.NewPacket(data, reader.LinkType(), gopacket.Default)
		var netFlow gopacket.Flow
		var tcp *layers.TCP
		var ok bool
		if defragger != nil {
			if *defragTimeout > 0 {
				defragger.DiscardOlderThan(ci.Timestamp.Add(-*defragTimeout))
			}
			netFlow, tcp, ok = defragTCP(defragger, st, packet, ci.Timestamp)
		} else {
			netFlow, tcp, ok = innermostTCP(packet)
		}
		if !ok {
			continue
		}
		assembler.AssembleWithTimestamp(netFlow, tcp, ci.Timestamp)
	}
	assembler.FlushAll()
	if defragger != nil && *defragStatsFlag {
		st.pending = defragger.DiscardOlderThan(time.Unix(1<<40, 0))
		var errs []string
		for msg, n := range st.errors {
			errs = append(errs, fmt.Sprintf("%q: %d", msg, n))
		}
		sort.Strings(errs)
		fmt.Fprintf(os.Stderr, "defrag %s: %d fragments (%d with DF set, left alone), "+
			"%d datagrams, %d incomplete at the end, errors {%s}\n", path, st.fragments,
			st.dontFragment, st.datagrams, st.pending, strings.Join(errs, ", "))
	}
	sort.Strings(out)
	return out
}

func main() {
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: %s [-defrag [-defrag-timeout D] [-defrag-stats]] FILE...\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	for _, path := range flag.Args() {
		fmt.Fprintf(w, "# %s\n", path)
		for _, line := range replay(path) {
			fmt.Fprintln(w, line)
		}
		fmt.Fprintln(w, "# end")
	}
}
