/* SPDX-License-Identifier: BSD-3-Clause
 * The appliance's output sinks (app/reasm/sinks.c and sink_*.c), driven by
 * direct calls with hand-built records:
 *   - the jsonl sink's SHA-256 (nettle): the FIPS 180-2 vectors ("", "abc",
 *     the 448-bit message, 1,000,000 x 'a') streamed through it, and any split
 *     of a stream into records giving the same digest;
 *   - jsonl: the exact line of a stream with skips of every cause, start/end,
 *     first/last seen over several calls, worker, sha256; IPv4 and IPv6,
 *     addresses written like Go's net.IP.String(); no sha256 key without
 *     --sha256; a stream without records; the file truncated at create;
 *   - jsonl from 4 threads at once: every line intact (one write per line),
 *     totals read meanwhile from another thread;
 *   - a failing write (/dev/full): counted, sinks_finish() returns -1;
 *   - files: tcpflow-style names for IPv4 and IPv6, "-2"/"-3" on reuse of a
 *     4-tuple, data appended across calls, skips not zero-filled, no file for
 *     a stream without bytes, more streams than the fd cap all written
 *     correctly with the open descriptors bounded, DIR created if missing;
 *   - unusable paths make sinks_create() fail;
 *   - the console line;
 *   - the count sink: per-worker totals, small per-stream state;
 *   - pcap (through its writer thread): one file per connection (both
 *     directions, pure ACKs, IPv4 and IPv6, VLAN-tagged), named by its
 *     endpoints in Community ID order, frames whole with their times in
 *     order, other frames counted; the max-open bound closes the least
 *     recently used file and reopens for appending, losing nothing; a chained
 *     frame larger than a file buffer; a foreign file is never appended to
 *     (write errors, finish fails); bad options refused.
 */
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nettle/sha2.h>

#include <rte_mbuf.h>

#include "frames.h"
#include "sinks.h"

namespace fs = std::filesystem;

namespace {

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/*
 * What the library would give complete() for each stream: totals that match
 * the records fed to it (feed), with the overlap and discarded bytes a test
 * chooses at close_stream. Thread safe (the writer tests feed from threads).
 */
struct FedStreams {
	std::mutex mu;
	std::map<void *, reasm_stream_totals> totals;
};

FedStreams &fed()
{
	static FedStreams f;
	return f;
}

void feed(void *st, const reasm_record *recs, unsigned int n)
{
	{
		std::lock_guard<std::mutex> g(fed().mu);
		reasm_stream_totals &t = fed().totals[st];
		for (unsigned int i = 0; i < n; i++) {
			t.delivered_bytes += recs[i].len;
			t.received_bytes += recs[i].len;
			if (recs[i].skip > 0)
				t.skipped_bytes += (uint64_t)recs[i].skip;
		}
	}
	sinks_stream_data(st, recs, n);
}

void close_stream(void *st, uint64_t overlap = 0, uint64_t discarded = 0)
{
	reasm_stream_totals t;
	{
		std::lock_guard<std::mutex> g(fed().mu);
		t = fed().totals[st];
		fed().totals.erase(st);
	}
	t.overlap_bytes = overlap;
	t.discarded_bytes = discarded;
	t.received_bytes += overlap + discarded;
	sinks_stream_close(st, &t);
}

/* SHA-256 in hex with nettle itself: what the sinks' digests are compared with. */
std::string sha256_of(const std::string &data)
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	char hex[2 * SHA256_DIGEST_SIZE + 1];

	sha256_init(&ctx);
	sha256_update(&ctx, data.size(), reinterpret_cast<const uint8_t *>(data.data()));
	sha256_digest(&ctx, sizeof(digest), digest);
	for (size_t i = 0; i < sizeof(digest); i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	return hex;
}

reasm_flow flow4(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	reasm_flow f;

	memset(&f, 0, sizeof(f));
	f.family = REASM_FAMILY_IPV4;
	f.src_port = sport;
	f.dst_port = dport;
	EXPECT_EQ(inet_pton(AF_INET, src, f.src_addr), 1) << src;
	EXPECT_EQ(inet_pton(AF_INET, dst, f.dst_addr), 1) << dst;
	return f;
}

reasm_flow flow6(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	reasm_flow f;

	memset(&f, 0, sizeof(f));
	f.family = REASM_FAMILY_IPV6;
	f.src_port = sport;
	f.dst_port = dport;
	EXPECT_EQ(inet_pton(AF_INET6, src, f.src_addr), 1) << src;
	EXPECT_EQ(inet_pton(AF_INET6, dst, f.dst_addr), 1) << dst;
	return f;
}

reasm_record rec(const std::string &bytes, int64_t skip = 0,
		 reasm_skip_cause cause = REASM_SKIP_NONE, uint64_t seen = 0, bool start = false,
		 bool end = false)
{
	reasm_record r;

	memset(&r, 0, sizeof(r));
	r.bytes = reinterpret_cast<const uint8_t *>(bytes.data());
	r.len = (uint32_t)bytes.size();
	r.skip = skip;
	r.skip_cause = (uint8_t)cause;
	r.seen = seen;
	r.start = start;
	r.end = end;
	return r;
}

std::string read_file(const fs::path &p)
{
	std::ifstream in(p, std::ios::binary);
	std::stringstream ss;

	ss << in.rdbuf();
	return ss.str();
}

std::vector<std::string> read_lines(const fs::path &p)
{
	std::vector<std::string> lines;
	std::ifstream in(p);
	std::string line;

	while (std::getline(in, line))
		lines.push_back(line);
	return lines;
}

std::set<std::string> dir_names(const fs::path &dir)
{
	std::set<std::string> names;

	for (const auto &e : fs::directory_iterator(dir))
		names.insert(e.path().filename().string());
	return names;
}

size_t open_fd_count()
{
	size_t n = 0;

	for (const auto &e : fs::directory_iterator("/proc/self/fd")) {
		(void)e;
		n++;
	}
	return n;
}

/*
 * A sink set on a fresh temporary directory, plus per-stream areas as the
 * pool would give them (zeroed, 8-byte aligned).
 */
class SinksTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		std::string tmpl = (fs::temp_directory_path() / "reasm_sinks_XXXXXX").string();

		ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
		dir_ = tmpl;
		conf_.quiet = true;
		conf_.n_workers = 1;
	}

	void TearDown() override
	{
		sinks_free(s_);
		for (void *p : privs_)
			free(p);
		std::error_code ec;
		fs::remove_all(dir_, ec);
	}

	void create()
	{
		s_ = sinks_create(&conf_);
		ASSERT_NE(s_, nullptr);
	}

	/* Add --sink @p spec to conf_ (the string is kept for the conf's life). */
	void sink(const std::string &spec)
	{
		specs_.push_back(spec);
		ASSERT_EQ(sinks_conf_add(&conf_, specs_.back().c_str()), 0) << spec;
	}

	void *open(const reasm_flow &f, unsigned int worker = 0,
		   const struct reasm_encap *encap = nullptr)
	{
		size_t size = sinks_stream_priv_size(s_);
		void *priv = aligned_alloc(64, (size + 63) / 64 * 64);

		memset(priv, 0, size);
		privs_.push_back(priv);
		return sinks_stream_open(s_, worker, &f, priv, encap, nullptr);
	}

	/* open, one data call with @p recs, close */
	void stream(const reasm_flow &f, const std::vector<reasm_record> &recs,
		    unsigned int worker = 0)
	{
		void *st = open(f, worker);

		feed(st, recs.data(), (unsigned int)recs.size());
		close_stream(st);
	}

	fs::path dir_;
	sinks_conf conf_{};
	std::list<std::string> specs_;
	sinks *s_ = nullptr;
	std::vector<void *> privs_;
};

/* The jsonl line of a stream with no records and no skips. */
/* The line's community_id member (the identifier itself is checked against the
 * specification in test_api and tests/e2e/run_e2e.py). */
std::string cid_member(const reasm_flow &fl)
{
	char id[REASM_COMMUNITY_ID_SIZE];
	EXPECT_EQ(reasm_community_id(&fl, 0, id, sizeof(id)), REASM_COMMUNITY_ID_SIZE - 1);
	return std::string(",\"community_id\":\"") + id + "\"";
}

std::string empty_line(const reasm_flow &fl, const char *src, unsigned sport, const char *dst,
		       unsigned dport, unsigned worker)
{
	return std::string("{\"src\":\"") + src + "\",\"sport\":" + std::to_string(sport) +
	       ",\"dst\":\"" + dst + "\",\"dport\":" + std::to_string(dport) + cid_member(fl) +
	       ",\"bytes\":0,\"records\":0,\"skips\":0,\"skip_unknown\":0,\"skipped_bytes\":0,"
	       "\"skipped_by_cause\":{\"start_unknown\":0,\"page_limit\":0,\"total_limit\":0,"
	       "\"no_page\":0,\"flush\":0,\"flush_all\":0},\"start\":false,\"end\":false,"
	       "\"first_seen\":0,\"last_seen\":0,\"worker\":" +
	       std::to_string(worker) + ",\"received\":0,\"overlap\":0,\"discarded\":0,\"cut\":0,\"conflicts\":0,\"conflict_bytes\":0}";
}

/* ------------------------------------------------------------------ */
/* SHA-256                                                              */
/* ------------------------------------------------------------------ */

/*
 * The SHA-256 the jsonl sink writes for each message, streamed as one stream
 * direction per message; each message is a list of records, delivered in
 * data calls of up to 64 records.
 */
class Sha256Sink : public SinksTest {
protected:
	std::vector<std::string> digests(const std::vector<std::vector<std::string>> &messages)
	{
		fs::path out = dir_ / "sha.jsonl";

		sink("jsonl:" + out.string());
		conf_.sha256 = true;
		create();
		for (size_t i = 0; i < messages.size(); i++) {
			void *st = open(flow4("10.0.0.1", (uint16_t)(i + 1), "10.0.0.2", 80));
			std::vector<reasm_record> recs;
			for (const std::string &piece : messages[i])
				recs.push_back(rec(piece));
			for (size_t j = 0; j < recs.size(); j += 64)
				feed(st, recs.data() + j,
				     (unsigned int)std::min<size_t>(64, recs.size() - j));
			close_stream(st);
		}
		EXPECT_EQ(sinks_finish(s_), 0);
		std::vector<std::string> out_hex;
		for (const std::string &line : read_lines(out)) {
			size_t at = line.find("\"sha256\":\"");
			EXPECT_NE(at, std::string::npos) << line;
			out_hex.push_back(at == std::string::npos ? "" : line.substr(at + 10, 64));
		}
		return out_hex;
	}
};

TEST_F(Sha256Sink, EmptyString)
{
	EXPECT_EQ(digests({{}}),
		  std::vector<std::string>{
			  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"});
}

TEST_F(Sha256Sink, Abc)
{
	EXPECT_EQ(digests({{"abc"}, {"a", "", "bc"}}),
		  std::vector<std::string>(
			  2, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

TEST_F(Sha256Sink, TwoBlockMessage448Bits)
{
	EXPECT_EQ(digests({{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"}}),
		  std::vector<std::string>{
			  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"});
}

TEST_F(Sha256Sink, MillionA)
{
	const std::string expect =
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

	/* Whole, and in uneven records crossing block boundaries every way. */
	std::vector<std::string> uneven;
	size_t done = 0, piece = 0;
	while (done < 1000000) {
		size_t n = std::min<size_t>(piece % 131, 1000000 - done);
		uneven.push_back(std::string(n, 'a'));
		done += n;
		piece++;
	}
	EXPECT_EQ(digests({{std::string(1000000, 'a')}, uneven}),
		  std::vector<std::string>(2, expect));
}

TEST_F(Sha256Sink, PaddingBoundaries)
{
	/* 55, 56 and 64 bytes: one or two padding blocks; split == whole == nettle's. */
	std::vector<std::vector<std::string>> messages;
	const std::vector<size_t> lens = {55u, 56u, 63u, 64u, 65u, 119u, 120u};
	for (size_t len : lens) {
		std::string msg(len, 'x');
		std::vector<std::string> bytes;
		for (char c : msg)
			bytes.push_back(std::string(1, c));
		bytes.push_back("");
		messages.push_back({msg});
		messages.push_back(bytes);
	}
	messages.push_back({std::string(55, 'a')});
	messages.push_back({std::string(56, 'a')});
	std::vector<std::string> got = digests(messages);
	ASSERT_EQ(got.size(), messages.size());
	for (size_t i = 0; i < lens.size(); i++) {
		EXPECT_EQ(got[2 * i], got[2 * i + 1]) << lens[i];
		EXPECT_EQ(got[2 * i], sha256_of(std::string(lens[i], 'x'))) << lens[i];
	}
	/* Known: 56 x 'a' is not the 448-bit vector but must differ from 55. */
	EXPECT_NE(got[got.size() - 2], got[got.size() - 1]);
}

/* ------------------------------------------------------------------ */
/* jsonl                                                                */
/* ------------------------------------------------------------------ */

TEST_F(SinksTest, JsonlLineWithEveryCause)
{
	fs::path out = dir_ / "streams.jsonl";

	sink("jsonl:" + out.string());
	conf_.sha256 = true;
	conf_.n_workers = 3;
	create();

	std::string a = "hello", b = "ab", c = "cdef", d = "g", e = "", f = "xyz", g = "12";
	std::vector<reasm_record> first = {
		rec(a, -1, REASM_SKIP_START_UNKNOWN, 1000, true),
		rec(b, 10, REASM_SKIP_PAGE_LIMIT, 1100),
		rec(c, 20, REASM_SKIP_TOTAL_LIMIT, 1200),
	};
	std::vector<reasm_record> second = {
		rec(d, 30, REASM_SKIP_NO_PAGE, 1300),
		rec(e, 0, REASM_SKIP_NONE, 1400),
		rec(f, 40, REASM_SKIP_FLUSH, 1500),
		rec(g, 50, REASM_SKIP_FLUSH_ALL, 1600, false, true),
	};
	reasm_flow fl = flow4("10.0.0.1", 40000, "192.168.1.200", 80);
	void *st = open(fl, 2);

	feed(st, first.data(), (unsigned int)first.size());
	feed(st, second.data(), (unsigned int)second.size());
	close_stream(st);
	ASSERT_EQ(sinks_finish(s_), 0);

	std::string expect =
		"{\"src\":\"10.0.0.1\",\"sport\":40000,\"dst\":\"192.168.1.200\",\"dport\":80" +
		cid_member(fl) +
		",\"bytes\":17,\"records\":7,\"skips\":5,\"skip_unknown\":1,\"skipped_bytes\":150,"
		"\"skipped_by_cause\":{\"start_unknown\":0,\"page_limit\":10,\"total_limit\":20,"
		"\"no_page\":30,\"flush\":40,\"flush_all\":50},\"start\":true,\"end\":true,"
		"\"first_seen\":1000,\"last_seen\":1600,\"worker\":2,\"received\":17,"
		"\"overlap\":0,\"discarded\":0,\"cut\":0,\"conflicts\":0,\"conflict_bytes\":0,\"sha256\":\"" +
		sha256_of(a + b + c + d + e + f + g) + "\"}";
	std::string text = read_file(out);
	EXPECT_EQ(text, expect + "\n");

	sinks_totals t;
	sinks_worker_totals(s_, 2, &t);
	EXPECT_EQ(t.streams, 1u);
	EXPECT_EQ(t.bytes, 17u);
	EXPECT_EQ(t.write_errors, 0u);
	sinks_worker_totals(s_, 0, &t);
	EXPECT_EQ(t.streams, 0u);
}

TEST_F(SinksTest, JsonlStartEndFlagsAndNoShaKey)
{
	fs::path out = dir_ / "streams.jsonl";

	sink("jsonl:" + out.string());
	create();

	std::string x = "x";
	stream(flow4("1.2.3.4", 1, "5.6.7.8", 2), {rec(x, 0, REASM_SKIP_NONE, 7, true, false)});
	stream(flow4("1.2.3.4", 3, "5.6.7.8", 4), {rec(x, 0, REASM_SKIP_NONE, 9, false, true)});
	reasm_flow edge = flow4("0.0.0.0", 0, "255.255.255.255", 65535);
	stream(edge, {});
	ASSERT_EQ(sinks_finish(s_), 0);

	auto lines = read_lines(out);
	ASSERT_EQ(lines.size(), 3u);
	EXPECT_NE(lines[0].find("\"bytes\":1,\"records\":1,\"skips\":0,\"skip_unknown\":0,"
				"\"skipped_bytes\":0,"),
		  std::string::npos)
		<< lines[0];
	EXPECT_NE(lines[0].find("\"start\":true,\"end\":false,\"first_seen\":7,\"last_seen\":7,"
				"\"worker\":0,\"received\":1,\"overlap\":0,\"discarded\":0,\"cut\":0,\"conflicts\":0,\"conflict_bytes\":0}"),
		  std::string::npos)
		<< lines[0];
	EXPECT_NE(lines[1].find("\"start\":false,\"end\":true,\"first_seen\":9,\"last_seen\":9,"),
		  std::string::npos)
		<< lines[1];
	EXPECT_EQ(lines[2], empty_line(edge, "0.0.0.0", 0, "255.255.255.255", 65535, 0));
	for (const auto &l : lines)
		EXPECT_EQ(l.find("sha256"), std::string::npos) << l;
}

TEST_F(SinksTest, JsonlIpv6AddressesLikeGo)
{
	/* Go's net.IP.String(): first longest run of >= 2 zero groups is "::",
	 * IPv4-mapped addresses in dotted form, no other embedded IPv4. */
	const struct {
		const char *in;
		const char *go;
	} cases[] = {
		{"2001:db8::1", "2001:db8::1"},
		{"::1", "::1"},
		{"::", "::"},
		{"fe80::", "fe80::"},
		{"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
		{"1:0:0:2:3:0:0:4", "1::2:3:0:0:4"},
		{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
		{"2001:DB8:ABCD:12::FF", "2001:db8:abcd:12::ff"},
		{"::ffff:1.2.3.4", "1.2.3.4"},
		{"::1.2.3.4", "::102:304"},
		{"64:ff9b::c000:221", "64:ff9b::c000:221"},
	};
	fs::path out = dir_ / "v6.jsonl";

	sink("jsonl:" + out.string());
	create();
	for (const auto &c : cases)
		stream(flow6(c.in, 443, "2001:db8::2", 51000), {});
	ASSERT_EQ(sinks_finish(s_), 0);

	auto lines = read_lines(out);
	ASSERT_EQ(lines.size(), std::size(cases));
	for (size_t i = 0; i < lines.size(); i++)
		EXPECT_EQ(lines[i], empty_line(flow6(cases[i].in, 443, "2001:db8::2", 51000), cases[i].go, 443, "2001:db8::2", 51000, 0))
			<< cases[i].in;
}

TEST_F(SinksTest, JsonlTruncatedAtCreate)
{
	fs::path out = dir_ / "old.jsonl";

	std::ofstream(out) << "stale line\n";
	sink("jsonl:" + out.string());
	create();
	EXPECT_EQ(read_file(out), "");
	reasm_flow fl = flow4("1.1.1.1", 1, "2.2.2.2", 2);
	stream(fl, {});
	ASSERT_EQ(sinks_finish(s_), 0);
	auto lines = read_lines(out);
	ASSERT_EQ(lines.size(), 1u);
	EXPECT_EQ(lines[0], empty_line(fl, "1.1.1.1", 1, "2.2.2.2", 2, 0));
}

TEST_F(SinksTest, JsonlFourWritersNeverInterleave)
{
	static constexpr unsigned int workers = 4, per_worker = 3000;
	fs::path out = dir_ / "mt.jsonl";

	sink("jsonl:" + out.string());
	conf_.sha256 = true;
	conf_.n_workers = workers;
	create();

	uint32_t priv_size = sinks_stream_priv_size(s_);
	std::vector<std::thread> threads;
	for (unsigned int w = 0; w < workers; w++) {
		threads.emplace_back([this, w, priv_size] {
			std::vector<uint64_t> priv((priv_size + 7) / 8);
			std::string data(100, (char)('a' + w));

			for (unsigned int i = 0; i < per_worker; i++) {
				reasm_flow f = flow6("2001:db8:aaaa:bbbb:cccc:dddd:eeee:1",
						     (uint16_t)i,
						     "2001:db8:aaaa:bbbb:cccc:dddd:eeee:2",
						     (uint16_t)w);
				reasm_record r = rec(data, 0, REASM_SKIP_NONE, i, true, true);

				std::fill(priv.begin(), priv.end(), 0);
				void *st = sinks_stream_open(s_, w, &f, priv.data(), nullptr, nullptr);
				feed(st, &r, 1);
				close_stream(st);
			}
		});
	}
	/* Telemetry reads the totals meanwhile: they only grow. */
	std::atomic<bool> done{false};
	std::thread reader([this, &done] {
		uint64_t last[workers] = {};
		bool more = true;

		while (more) {
			more = !done.load();
			for (unsigned int w = 0; w < workers; w++) {
				sinks_totals t;
				sinks_worker_totals(s_, w, &t);
				EXPECT_GE(t.streams, last[w]);
				EXPECT_LE(t.streams, per_worker);
				last[w] = t.streams;
			}
		}
	});
	for (auto &t : threads)
		t.join();
	done = true;
	reader.join();
	ASSERT_EQ(sinks_finish(s_), 0);

	std::set<std::string> expect;
	for (unsigned int w = 0; w < workers; w++) {
		std::string hash = sha256_of(std::string(100, (char)('a' + w)));
		for (unsigned int i = 0; i < per_worker; i++)
			expect.insert(
				"{\"src\":\"2001:db8:aaaa:bbbb:cccc:dddd:eeee:1\",\"sport\":" +
				std::to_string(i) +
				",\"dst\":\"2001:db8:aaaa:bbbb:cccc:dddd:eeee:2\",\"dport\":" +
				std::to_string(w) + cid_member(flow6("2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", (uint16_t)i,
						 "2001:db8:aaaa:bbbb:cccc:dddd:eeee:2", (uint16_t)w)) +
				",\"bytes\":100,\"records\":1,\"skips\":0,\"skip_unknown\":0,"
				"\"skipped_bytes\":0,\"skipped_by_cause\":{\"start_unknown\":0,"
				"\"page_limit\":0,\"total_limit\":0,\"no_page\":0,\"flush\":0,"
				"\"flush_all\":0},\"start\":true,\"end\":true,\"first_seen\":" +
				std::to_string(i) + ",\"last_seen\":" + std::to_string(i) +
				",\"worker\":" + std::to_string(w) +
				",\"received\":100,\"overlap\":0,\"discarded\":0,\"cut\":0,\"conflicts\":0,\"conflict_bytes\":0,\"sha256\":\"" + hash +
				"\"}");
	}
	auto lines = read_lines(out);
	ASSERT_EQ(lines.size(), (size_t)workers * per_worker);
	std::set<std::string> got(lines.begin(), lines.end());
	EXPECT_EQ(got.size(), lines.size()) << "duplicate lines";
	EXPECT_TRUE(got == expect) << "some line is not intact";

	for (unsigned int w = 0; w < workers; w++) {
		sinks_totals t;
		sinks_worker_totals(s_, w, &t);
		EXPECT_EQ(t.streams, per_worker);
		EXPECT_EQ(t.bytes, 100u * per_worker);
	}
}

TEST_F(SinksTest, FailedWritesAreCountedAndFinishFails)
{
	if (access("/dev/full", W_OK) != 0)
		GTEST_SKIP() << "no /dev/full";
	sink("jsonl:/dev/full");
	create();
	stream(flow4("1.1.1.1", 1, "2.2.2.2", 2), {});
	stream(flow4("1.1.1.1", 3, "2.2.2.2", 4), {});

	sinks_totals t;
	sinks_worker_totals(s_, 0, &t);
	EXPECT_EQ(t.write_errors, 2u);
	EXPECT_EQ(t.streams, 2u);
	EXPECT_EQ(sinks_finish(s_), -1);
	EXPECT_EQ(sinks_finish(s_), -1);
}

/* ------------------------------------------------------------------ */
/* files:DIR                                                            */
/* ------------------------------------------------------------------ */

TEST_F(SinksTest, FilesNamesIpv4AndIpv6)
{
	fs::path out = dir_ / "flows";

	sink("files:" + out.string());
	create(); /* creates the missing directory */
	ASSERT_TRUE(fs::is_directory(out));

	std::string x = "data4", y = "data6";
	stream(flow4("1.2.3.4", 1, "10.20.30.40", 443), {rec(x)});
	stream(flow6("2001:db8::1", 443, "fe80::a:b", 65535), {rec(y)});
	ASSERT_EQ(sinks_finish(s_), 0);

	std::string n4 = "001.002.003.004.00001-010.020.030.040.00443";
	std::string n6 = "2001.0db8.0000.0000.0000.0000.0000.0001.00443-"
			 "fe80.0000.0000.0000.0000.0000.000a.000b.65535";
	EXPECT_EQ(dir_names(out), (std::set<std::string>{n4, n6}));
	EXPECT_EQ(read_file(out / n4), x);
	EXPECT_EQ(read_file(out / n6), y);
}

TEST_F(SinksTest, FilesReusedTupleGetsSuffix)
{
	sink("files:" + dir_.string());
	create();

	std::string a = "first", b = "second", c = "third";
	reasm_flow f = flow4("1.2.3.4", 1, "5.6.7.8", 2);
	stream(f, {rec(a)});
	stream(f, {rec(b)});
	stream(f, {rec(c)});
	ASSERT_EQ(sinks_finish(s_), 0);

	std::string base = "001.002.003.004.00001-005.006.007.008.00002";
	EXPECT_EQ(dir_names(dir_), (std::set<std::string>{base, base + "-2", base + "-3"}));
	EXPECT_EQ(read_file(dir_ / base), a);
	EXPECT_EQ(read_file(dir_ / (base + "-2")), b);
	EXPECT_EQ(read_file(dir_ / (base + "-3")), c);
}

TEST_F(SinksTest, FilesAppendAcrossCallsWithoutZeroFill)
{
	sink("files:" + dir_.string());
	create();

	std::string a = "abc", b = "", c = "def", d = "ghij";
	void *st = open(flow4("9.9.9.9", 9, "8.8.8.8", 8));
	std::vector<reasm_record> one = {rec(a, -1, REASM_SKIP_START_UNKNOWN), rec(b)};
	std::vector<reasm_record> two = {rec(c, 1000, REASM_SKIP_PAGE_LIMIT), rec(d)};
	feed(st, one.data(), 2);
	feed(st, nullptr, 0);
	feed(st, two.data(), 2);
	close_stream(st);
	ASSERT_EQ(sinks_finish(s_), 0);

	/* The 1000 skipped bytes leave no trace in the file. */
	EXPECT_EQ(read_file(dir_ / "009.009.009.009.00009-008.008.008.008.00008"), "abcdefghij");
}

TEST_F(SinksTest, FilesNoFileForStreamWithoutBytes)
{
	sink("files:" + dir_.string());
	create();
	std::string empty;
	stream(flow4("1.1.1.1", 1, "2.2.2.2", 2), {rec(empty, 0, REASM_SKIP_NONE, 0, true, true)});
	stream(flow4("1.1.1.1", 3, "2.2.2.2", 4), {});
	ASSERT_EQ(sinks_finish(s_), 0);
	EXPECT_TRUE(dir_names(dir_).empty());
}

TEST_F(SinksTest, FilesMoreStreamsThanFdCap)
{
	const unsigned int workers = 2, per_worker = 300, rounds = 4;

	sink("files:" + dir_.string());
	conf_.n_workers = workers;
	create();

	size_t fds_before = open_fd_count();
	std::vector<void *> streams;
	std::vector<std::string> chunks;
	for (unsigned int i = 0; i < workers * per_worker; i++)
		streams.push_back(open(flow4("10.0.0.1", (uint16_t)(1000 + i), "10.0.0.2", 80),
				       i % workers));
	for (unsigned int r = 0; r < rounds; r++) {
		for (unsigned int i = 0; i < streams.size(); i++) {
			std::string data = "s" + std::to_string(i) + "r" + std::to_string(r) + ";";
			reasm_record rr = rec(data);
			feed(streams[i], &rr, 1);
		}
		/* At most 64 files held per worker (plus a transient one). */
		EXPECT_LE(open_fd_count(), fds_before + workers * 64 + 1);
	}
	for (void *st : streams)
		close_stream(st);
	EXPECT_EQ(open_fd_count(), fds_before);
	ASSERT_EQ(sinks_finish(s_), 0);

	auto names = dir_names(dir_);
	ASSERT_EQ(names.size(), streams.size());
	for (unsigned int i = 0; i < streams.size(); i++) {
		char name[64];
		std::string expect;

		snprintf(name, sizeof(name), "010.000.000.001.%05u-010.000.000.002.00080",
			 1000 + i);
		for (unsigned int r = 0; r < rounds; r++)
			expect += "s" + std::to_string(i) + "r" + std::to_string(r) + ";";
		EXPECT_EQ(read_file(dir_ / name), expect) << name;
	}
}

TEST_F(SinksTest, FilesExistingFileIsNotOverwritten)
{
	std::string base = "001.002.003.004.00001-005.006.007.008.00002";
	std::ofstream(dir_ / base) << "earlier run";
	sink("files:" + dir_.string());
	create();
	std::string a = "new";
	stream(flow4("1.2.3.4", 1, "5.6.7.8", 2), {rec(a)});
	ASSERT_EQ(sinks_finish(s_), 0);
	EXPECT_EQ(read_file(dir_ / base), "earlier run");
	EXPECT_EQ(read_file(dir_ / (base + "-2")), "new");
}

/* ------------------------------------------------------------------ */
/* Bad configurations                                                   */
/* ------------------------------------------------------------------ */

TEST_F(SinksTest, UnusablePathsFailCreate)
{
	std::ofstream(dir_ / "plain") << "x";
	fs::create_directory(dir_ / "adir");
	std::string missing_parent = (dir_ / "no" / "such" / "dir").string();
	std::string file_as_dir = (dir_ / "plain").string();
	std::string jsonl_missing = (dir_ / "nodir" / "x.jsonl").string();
	std::string jsonl_dir = (dir_ / "adir").string();

	::testing::internal::CaptureStderr();
	/* A conf with the one --sink @p spec. */
	auto only = [](const std::string &spec, unsigned int workers = 1) {
		static std::list<std::string> keep;
		sinks_conf c{};
		c.quiet = true;
		c.n_workers = workers;
		keep.push_back(spec);
		EXPECT_EQ(sinks_conf_add(&c, keep.back().c_str()), 0) << spec;
		return c;
	};
	sinks_conf c = only("files:" + missing_parent); /* only one level is created */
	EXPECT_EQ(sinks_create(&c), nullptr);
	c = only("files:" + file_as_dir);
	EXPECT_EQ(sinks_create(&c), nullptr);
	c = only("jsonl:" + jsonl_missing);
	EXPECT_EQ(sinks_create(&c), nullptr);
	c = only("jsonl:" + jsonl_dir);
	EXPECT_EQ(sinks_create(&c), nullptr);
	c = only("count", 0);
	EXPECT_EQ(sinks_create(&c), nullptr);
	std::string err = ::testing::internal::GetCapturedStderr();

	/* Each failure names its path and the reason. */
	EXPECT_NE(err.find(missing_parent), std::string::npos) << err;
	EXPECT_NE(err.find(file_as_dir + ": " + strerror(ENOTDIR)), std::string::npos) << err;
	EXPECT_NE(err.find(jsonl_missing + ": " + strerror(ENOENT)), std::string::npos) << err;
	EXPECT_NE(err.find(jsonl_dir + ": " + strerror(EISDIR)), std::string::npos) << err;
	EXPECT_FALSE(fs::exists(dir_ / "no"));
}

/* ------------------------------------------------------------------ */
/* Console and count                                                    */
/* ------------------------------------------------------------------ */

TEST_F(SinksTest, ConsoleLinePerStream)
{
	fs::path out = dir_ / "stdout.txt";

	conf_.quiet = false;
	conf_.sha256 = true;
	create();

	std::string a = "abc", b = "de";
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_GE(fd, 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	stream(flow4("1.2.3.4", 1, "5.6.7.8", 2),
	       {rec(a, 0, REASM_SKIP_NONE, 0, true), rec(b, 5, REASM_SKIP_FLUSH, 0, false, true)});
	stream(flow6("2001:db8::1", 80, "::1", 8080), {});
	dup2(saved, STDOUT_FILENO);
	close(saved);

	auto lines = read_lines(out);
	ASSERT_EQ(lines.size(), 2u);
	EXPECT_EQ(lines[0], "1.2.3.4:1 -> 5.6.7.8:2  bytes=5 records=2 skips=1 start end sha256=" +
				    sha256_of("abcde"));
	EXPECT_EQ(lines[1], "[2001:db8::1]:80 -> [::1]:8080  bytes=0 records=0 skips=0 sha256=" +
				    sha256_of(""));
}

TEST_F(SinksTest, EncapsulationInJsonlAndConsoleLines)
{
	/* Which tunnel and VLAN a stream came in, next to its bytes; nothing for plain frames. */
	fs::path out = dir_ / "streams.jsonl", text = dir_ / "stdout.txt";
	sink("jsonl:" + out.string());
	conf_.quiet = false;
	create();

	struct reasm_encap vx = {REASM_ENCAP_VLAN | REASM_ENCAP_VXLAN, 7, 4242};
	struct reasm_encap mpls = {REASM_ENCAP_MPLS, 0, 1001};
	struct reasm_encap none = {0, 0, 0};
	std::string x = "x";
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	int fd = ::open(text.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_GE(fd, 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	for (const auto *e : {&vx, &mpls, &none}) {
		void *st = open(flow4("1.2.3.4", (uint16_t)(e->layers + 1), "5.6.7.8", 2), 0, e);
		std::vector<reasm_record> recs = {rec(x, 0, REASM_SKIP_NONE, 7, true, false)};
		feed(st, recs.data(), 1);
		close_stream(st);
	}
	dup2(saved, STDOUT_FILENO);
	close(saved);
	ASSERT_EQ(sinks_finish(s_), 0);

	auto lines = read_lines(out);
	ASSERT_EQ(lines.size(), 3u);
	EXPECT_NE(lines[0].find(",\"cut\":0,\"conflicts\":0,\"conflict_bytes\":0,\"encap\":[\"vlan\",\"vxlan\"],\"vlan\":7,"
				"\"tunnel_id\":4242}"),
		  std::string::npos)
		<< lines[0];
	EXPECT_NE(lines[1].find(",\"encap\":[\"mpls\"],\"tunnel_id\":1001}"), std::string::npos)
		<< lines[1];
	EXPECT_EQ(lines[2].find("encap"), std::string::npos) << lines[2];
	auto console = read_lines(text);
	ASSERT_EQ(console.size(), 3u);
	EXPECT_NE(console[0].find(" start encap=vlan,vxlan vlan=7 tunnel_id=4242"), std::string::npos)
		<< console[0];
	EXPECT_NE(console[1].find(" start encap=mpls tunnel_id=1001"), std::string::npos)
		<< console[1];
	EXPECT_EQ(console[2].find("encap"), std::string::npos) << console[2];
}

TEST_F(SinksTest, CountSinkTotalsPerWorker)
{
	sink("count");
	conf_.n_workers = 3;
	create();
	/* Count only and quiet: the per-stream state is small (no flow copy needed). */
	EXPECT_LE(sinks_stream_priv_size(s_), 256u);

	std::string k(1000, 'k'), e;
	for (unsigned int i = 0; i < 10; i++)
		stream(flow4("1.1.1.1", (uint16_t)i, "2.2.2.2", 2), {rec(k), rec(e), rec(k)}, 1);
	stream(flow4("1.1.1.1", 99, "2.2.2.2", 2), {}, 2);
	void *open_one = open(flow4("3.3.3.3", 3, "4.4.4.4", 4), 2);
	reasm_record r = rec(k);
	feed(open_one, &r, 1);

	sinks_totals t;
	sinks_worker_totals(s_, 0, &t);
	EXPECT_EQ(t.streams, 0u);
	EXPECT_EQ(t.bytes, 0u);
	sinks_worker_totals(s_, 1, &t);
	EXPECT_EQ(t.streams, 10u);
	EXPECT_EQ(t.bytes, 20000u);
	sinks_worker_totals(s_, 2, &t);
	EXPECT_EQ(t.streams, 1u); /* the open stream's bytes count, the stream not yet */
	EXPECT_EQ(t.bytes, 1000u);
	close_stream(open_one);
	sinks_worker_totals(s_, 2, &t);
	EXPECT_EQ(t.streams, 2u);
	EXPECT_EQ(t.write_errors, 0u);
	EXPECT_EQ(t.unbalanced, 0u);
	EXPECT_EQ(t.received, 1000u);
	sinks_worker_totals(s_, 7, &t); /* out of range: zeros */
	EXPECT_EQ(t.streams, 0u);
	EXPECT_EQ(sinks_finish(s_), 0);
}

/* ------------------------------------------------------------------ */
/* Per-stream accounting                                                */
/* ------------------------------------------------------------------ */

TEST_F(SinksTest, JsonlCarriesTheStreamAccounting)
{
	std::string out = (dir_ / "acct.jsonl").string();
	sink("jsonl:" + out);
	conf_.quiet = true;
	conf_.n_workers = 1;
	create();

	std::string a = "0123456789";
	void *st = open(flow4("1.2.3.4", 1, "5.6.7.8", 2));
	std::vector<reasm_record> recs = {rec(a, 0, REASM_SKIP_NONE, 5, true),
					  rec(a, 25, REASM_SKIP_FLUSH, 6, false, true)};
	feed(st, recs.data(), 2);
	close_stream(st, 7, 3); /* 7 retransmitted, 3 buffered past the FIN */
	ASSERT_EQ(sinks_finish(s_), 0);

	auto lines = read_lines(out);
	ASSERT_EQ(lines.size(), 1u);
	EXPECT_NE(lines[0].find(",\"bytes\":20,"), std::string::npos) << lines[0];
	EXPECT_NE(lines[0].find(",\"received\":30,\"overlap\":7,\"discarded\":3,\"cut\":0,\"conflicts\":0,\"conflict_bytes\":0}"),
		  std::string::npos)
		<< lines[0];
	sinks_totals t;
	sinks_worker_totals(s_, 0, &t);
	EXPECT_EQ(t.unbalanced, 0u);
	EXPECT_EQ(t.received, 30u);
	EXPECT_EQ(t.overlap, 7u);
	EXPECT_EQ(t.discarded, 3u);
}

/* A conflict whose digests are those of @p kept and @p other (nettle), at @p seq. */
reasm_conflict make_conflict(uint32_t seq, const std::string &kept, const std::string &other,
			     bool offset_known, bool delivered, bool kept_arrived)
{
	reasm_conflict c{};
	struct sha256_ctx ctx;

	c.seq = seq;
	c.offset = seq - 1001;
	c.offset_known = offset_known;
	c.delivered = delivered;
	c.kept_arrived = kept_arrived;
	c.len = (uint32_t)kept.size();
	for (size_t i = 0; i < kept.size(); i++)
		c.differing += kept[i] != other[i];
	c.seen = 4242;
	sha256_init(&ctx);
	sha256_update(&ctx, kept.size(), (const uint8_t *)kept.data());
	sha256_digest(&ctx, sizeof(c.kept_sha256), c.kept_sha256);
	sha256_init(&ctx);
	sha256_update(&ctx, other.size(), (const uint8_t *)other.data());
	sha256_digest(&ctx, sizeof(c.other_sha256), c.other_sha256);
	return c;
}

/* The jsonl line counts a stream's conflicts and shows its first with both digests. */
TEST_F(SinksTest, JsonlShowsTheFirstConflictWithItsEvidence)
{
	std::string out = (dir_ / "conflict.jsonl").string();
	sink("jsonl:" + out);
	create();

	void *st = open(flow4("1.2.3.4", 1, "5.6.7.8", 2));
	reasm_conflict first = make_conflict(1011, "GET /a", "GET /b", true, true, false);
	reasm_conflict second = make_conflict(1500, "xy", "zz", true, false, true);
	sinks_stream_conflict(st, &first);
	sinks_stream_conflict(st, &second);
	reasm_stream_totals t{};
	t.conflicts = 2;
	t.conflict_bytes = first.differing + second.differing;
	sinks_stream_close(st, &t);
	void *quiet = open(flow4("1.2.3.4", 3, "5.6.7.8", 4));
	reasm_stream_totals none{};
	sinks_stream_close(quiet, &none);
	ASSERT_EQ(sinks_finish(s_), 0);

	auto lines = read_lines(out);
	ASSERT_EQ(lines.size(), 2u);
	std::string expect = ",\"conflicts\":2,\"conflict_bytes\":3,\"conflict\":{\"seq\":1011,"
			     "\"offset\":10,\"len\":6,\"differing\":1,\"kept\":\"delivered\","
			     "\"kept_sha256\":\"" +
			     sha256_of("GET /a") + "\",\"other_sha256\":\"" + sha256_of("GET /b") +
			     "\",\"seen\":4242}";
	EXPECT_NE(lines[0].find(expect), std::string::npos) << lines[0];
	EXPECT_NE(lines[1].find(",\"conflicts\":0,\"conflict_bytes\":0"), std::string::npos)
		<< lines[1];
	EXPECT_EQ(lines[1].find("\"conflict\":{"), std::string::npos) << lines[1];
}

/* An offset not known yet is null; the kept copy is named for each case. */
TEST_F(SinksTest, ConflictOffsetUnknownAndKeptNames)
{
	std::string out = (dir_ / "kept.jsonl").string();
	sink("jsonl:" + out);
	create();

	const std::pair<reasm_conflict, const char *> cases[] = {
		{make_conflict(5, "a", "b", false, false, false), "\"offset\":null,\"len\":1,"
								  "\"differing\":1,\"kept\":\"buffered\""},
		{make_conflict(5, "a", "b", true, false, true), "\"kept\":\"arrived\""},
		{make_conflict(5, "a", "b", true, true, false), "\"kept\":\"delivered\""},
	};
	for (const auto &c : cases) {
		void *st = open(flow4("1.2.3.4", 1, "5.6.7.8", 2));
		sinks_stream_conflict(st, &c.first);
		reasm_stream_totals t{};
		t.conflicts = 1;
		t.conflict_bytes = 1;
		sinks_stream_close(st, &t);
	}
	ASSERT_EQ(sinks_finish(s_), 0);
	auto lines = read_lines(out);
	ASSERT_EQ(lines.size(), 3u);
	for (size_t i = 0; i < 3; i++)
		EXPECT_NE(lines[i].find(cases[i].second), std::string::npos) << lines[i];
}

/* Telemetry's ring: each worker's last SINKS_RECENT_CONFLICTS, newest first, with the stream. */
TEST_F(SinksTest, RecentConflictsAreTheNewestPerWorker)
{
	sink("count");
	conf_.n_workers = 2;
	create();

	reasm_flow f = flow4("10.0.0.1", 1000, "10.0.0.2", 80);
	void *st = open(f, 1);
	for (uint32_t i = 0; i < SINKS_RECENT_CONFLICTS + 4; i++) {
		reasm_conflict c = make_conflict(2000 + i, "k", "o", true, false, true);
		sinks_stream_conflict(st, &c);
	}
	sinks_conflict_seen seen[SINKS_RECENT_CONFLICTS + 4];
	EXPECT_EQ(sinks_recent_conflicts(s_, 0, seen, SINKS_RECENT_CONFLICTS), 0u);
	EXPECT_EQ(sinks_recent_conflicts(s_, 7, seen, SINKS_RECENT_CONFLICTS), 0u);
	ASSERT_EQ(sinks_recent_conflicts(s_, 1, seen, RTE_DIM(seen)),
		  (unsigned int)SINKS_RECENT_CONFLICTS);
	for (unsigned int i = 0; i < SINKS_RECENT_CONFLICTS; i++) {
		uint64_t n = SINKS_RECENT_CONFLICTS + 3 - i;
		EXPECT_EQ(seen[i].number, n);
		EXPECT_EQ(seen[i].c.seq, 2000 + n);
		EXPECT_EQ(memcmp(&seen[i].flow, &f, sizeof(f)), 0);
		EXPECT_FALSE(seen[i].has_conn);
	}
	ASSERT_EQ(sinks_recent_conflicts(s_, 1, seen, 3), 3u);
	EXPECT_EQ(seen[0].number, SINKS_RECENT_CONFLICTS + 3u);
	reasm_stream_totals t{};
	t.conflicts = SINKS_RECENT_CONFLICTS + 4;
	t.conflict_bytes = t.conflicts;
	sinks_stream_close(st, &t);
}

/* Totals that disagree with what the sinks got are counted, in every sink mode. */
TEST_F(SinksTest, UnbalancedStreamsAreCounted)
{
	for (bool count_only : {false, true}) {
		SCOPED_TRACE(count_only ? "count sink, quiet" : "console sink");
		std::string out = (dir_ / (count_only ? "c.jsonl" : "d.jsonl")).string();
		conf_ = sinks_conf{};
		sink(count_only ? "count" : "jsonl:" + out);
		conf_.quiet = count_only;
		conf_.n_workers = 2;
		create();
		std::string a(100, 'a');
		reasm_record r = rec(a, 40, REASM_SKIP_PAGE_LIMIT);

		void *good = open(flow4("1.1.1.1", 1, "2.2.2.2", 2), 1);
		sinks_stream_data(good, &r, 1);
		reasm_stream_totals t = {};
		t.received_bytes = t.delivered_bytes = 100;
		t.skipped_bytes = 40;
		sinks_stream_close(good, &t);

		/* Says 101 delivered: the sinks got 100. */
		void *more = open(flow4("1.1.1.1", 3, "2.2.2.2", 2), 1);
		sinks_stream_data(more, &r, 1);
		t.received_bytes = t.delivered_bytes = 101;
		sinks_stream_close(more, &t);

		/* Received does not add up: 100 delivered + 5 overlap != 100. */
		void *lost = open(flow4("1.1.1.1", 4, "2.2.2.2", 2), 1);
		sinks_stream_data(lost, &r, 1);
		t.received_bytes = t.delivered_bytes = 100;
		t.overlap_bytes = 5;
		sinks_stream_close(lost, &t);

		/* Skips disagree: counted where skips are tracked (not count-only). */
		void *skips = open(flow4("1.1.1.1", 5, "2.2.2.2", 2), 1);
		sinks_stream_data(skips, &r, 1);
		t.overlap_bytes = 0;
		t.skipped_bytes = 39;
		sinks_stream_close(skips, &t);

		sinks_totals wt;
		sinks_worker_totals(s_, 1, &wt);
		EXPECT_EQ(wt.streams, 4u);
		EXPECT_EQ(wt.unbalanced, count_only ? 2u : 3u);
		EXPECT_EQ(sinks_finish(s_), 0);
		sinks_free(s_);
		s_ = nullptr;
	}
}


/* ------------------------------------------------------------------ */
/* pcap: the frames of each connection in its own file                  */
/* ------------------------------------------------------------------ */

struct PcapRecord {
	uint64_t ts;
	std::vector<uint8_t> frame;
	bool operator==(const PcapRecord &o) const { return ts == o.ts && frame == o.frame; }
};

/* The records of a nanosecond Ethernet pcap; fails the test on a bad header. */
std::vector<PcapRecord> read_pcap(const fs::path &path)
{
	std::string raw = read_file(path);
	std::vector<PcapRecord> out;
	uint32_t h[6];

	EXPECT_GE(raw.size(), 24u) << path;
	if (raw.size() < 24)
		return out;
	memcpy(h, raw.data(), sizeof(h));
	EXPECT_EQ(h[0], 0xa1b23c4du) << path;
	EXPECT_EQ(h[1], 0x00040002u) << path; /* version 2.4 */
	EXPECT_EQ(h[5], 1u) << path;          /* Ethernet */
	for (size_t off = 24; off + 16 <= raw.size();) {
		uint32_t r[4];

		memcpy(r, raw.data() + off, sizeof(r));
		off += 16;
		EXPECT_EQ(r[2], r[3]);
		if (off + r[2] > raw.size()) {
			ADD_FAILURE() << path << ": truncated record";
			break;
		}
		out.push_back({(uint64_t)r[0] * 1000000000u + r[1],
			       std::vector<uint8_t>(raw.begin() + (long)off,
						    raw.begin() + (long)(off + r[2]))});
		off += r[2];
	}
	return out;
}

reasm_test::FrameSpec spec4(const char *a, uint16_t pa, const char *b, uint16_t pb, uint8_t flags,
			    size_t payload)
{
	reasm_test::FrameSpec f;

	f.family = 4;
	inet_pton(AF_INET, a, f.src.data());
	inet_pton(AF_INET, b, f.dst.data());
	f.sport = pa;
	f.dport = pb;
	f.flags = flags;
	f.payload.assign(payload, (uint8_t)(pa ^ pb));
	return f;
}

class PcapSinkTest : public SinksTest {
protected:
	/* Give @p frames to worker @p w's packets path, times 1 s + i. */
	void feed_frames(const std::vector<std::vector<uint8_t>> &frames, unsigned int w = 0,
			 uint64_t t0 = 1000000000ull)
	{
		for (size_t i = 0; i < frames.size(); i++) {
			struct rte_mbuf *m = reasm_test::to_mbuf(frames[i]);
			uint64_t ts = t0 + i;

			sinks_packets(s_, w, &m, &ts, 1);
			rte_pktmbuf_free(m);
		}
	}

	sinks_totals totals(unsigned int w = 0)
	{
		sinks_totals t;
		sinks_worker_totals(s_, w, &t);
		return t;
	}

	static std::set<std::string> names(const fs::path &dir)
	{
		std::set<std::string> out;
		for (const auto &e : fs::directory_iterator(dir))
			out.insert(e.path().filename().string());
		return out;
	}
};

TEST_F(PcapSinkTest, OneFilePerConnectionBothDirectionsInOrder)
{
	fs::path out = dir_ / "pcaps";
	sink("pcap:" + out.string());
	create();
	ASSERT_TRUE(sinks_want_packets(s_));

	using reasm_test::build_frame;
	/* Connection A: the server's endpoint sorts first (10.0.0.2 < 10.0.0.9). */
	auto a1 = build_frame(spec4("10.0.0.9", 40000, "10.0.0.2", 80, REASM_TCP_SYN, 0));
	auto a2 = build_frame(spec4("10.0.0.2", 80, "10.0.0.9", 40000, REASM_TCP_SYN, 0));
	auto a3 = build_frame(spec4("10.0.0.9", 40000, "10.0.0.2", 80, 0, 0)); /* pure ACK */
	auto a4 = build_frame(spec4("10.0.0.9", 40000, "10.0.0.2", 80, 0, 300));
	/* Connection B: same addresses, the ports order them. */
	auto b1 = build_frame(spec4("10.0.0.2", 5000, "10.0.0.2", 80, 0, 10));
	/* Connection C: IPv6, VLAN-tagged. */
	reasm_test::FrameSpec c = spec4("0.0.0.0", 443, "0.0.0.0", 51000, 0, 20);
	c.family = 6;
	inet_pton(AF_INET6, "2001:db8::2", c.src.data());
	inet_pton(AF_INET6, "2001:db8::1", c.dst.data());
	c.vlans = {7};
	auto c1 = build_frame(c);
	/* Not TCP: an ARP request. */
	std::vector<uint8_t> arp(42, 0);
	arp[12] = 0x08;
	arp[13] = 0x06;

	feed_frames({a1, b1, a2, c1, arp, a3, a4});
	ASSERT_EQ(sinks_finish(s_), 0);

	std::string fa = "010.000.000.002.00080-010.000.000.009.40000.pcap";
	std::string fb = "010.000.000.002.00080-010.000.000.002.05000.pcap";
	std::string fc = "2001.0db8.0000.0000.0000.0000.0000.0001.51000-"
			 "2001.0db8.0000.0000.0000.0000.0000.0002.00443.pcap";
	EXPECT_EQ(names(out), (std::set<std::string>{fa, fb, fc}));
	const uint64_t t = 1000000000ull;
	EXPECT_EQ(read_pcap(out / fa),
		  (std::vector<PcapRecord>{{t + 0, a1}, {t + 2, a2}, {t + 5, a3}, {t + 6, a4}}));
	EXPECT_EQ(read_pcap(out / fb), (std::vector<PcapRecord>{{t + 1, b1}}));
	EXPECT_EQ(read_pcap(out / fc), (std::vector<PcapRecord>{{t + 3, c1}}));

	sinks_totals st = totals();
	EXPECT_EQ(st.pcap.pkts, 6u);
	EXPECT_EQ(st.pcap.bytes, a1.size() + a2.size() + a3.size() + a4.size() + b1.size() +
					 c1.size());
	EXPECT_EQ(st.pcap.files_created, 3u);
	EXPECT_EQ(st.pcap.files_reopened, 0u);
	EXPECT_EQ(st.pcap.files_closed_lru, 0u);
	EXPECT_EQ(st.pcap.not_tcp, 1u);
	EXPECT_EQ(st.write_errors, 0u);
}

TEST_F(PcapSinkTest, MaxOpenBoundReopensForAppendingAndLosesNothing)
{
	fs::path out = dir_ / "pcaps";
	sink("pcap:" + out.string() + ",max-open=2");
	create();

	/* 5 connections, 4 frames each, round robin: every frame after the first two
	 * needs a file the bound closed. */
	std::map<std::string, std::vector<PcapRecord>> want;
	std::vector<std::vector<uint8_t>> frames;
	for (int round = 0; round < 4; round++)
		for (int c = 0; c < 5; c++) {
			char cli[32];
			snprintf(cli, sizeof(cli), "198.18.0.%d", 10 + c);
			auto f = reasm_test::build_frame(
				spec4(cli, (uint16_t)(30000 + c), "198.18.1.1", 443, 0, 50 + round));
			char name[128];
			snprintf(name, sizeof(name), "198.018.000.%03d.%05d-198.018.001.001.00443.pcap",
				 10 + c, 30000 + c);
			want[name].push_back({1000000000ull + frames.size(), f});
			frames.push_back(f);
		}
	feed_frames(frames);
	ASSERT_EQ(sinks_finish(s_), 0);

	std::set<std::string> want_names;
	for (const auto &w : want) {
		want_names.insert(w.first);
		EXPECT_EQ(read_pcap(out / w.first), w.second) << w.first;
	}
	EXPECT_EQ(names(out), want_names);
	sinks_totals st = totals();
	EXPECT_EQ(st.pcap.pkts, 20u);
	EXPECT_EQ(st.pcap.files_created, 5u);
	EXPECT_EQ(st.pcap.files_closed_lru, 18u); /* every frame but the first two */
	EXPECT_EQ(st.pcap.files_reopened, 15u);   /* ... less the 3 first opens past the bound */
	EXPECT_EQ(st.write_errors, 0u);
}

TEST_F(PcapSinkTest, ChainedFrameLargerThanABuffer)
{
	fs::path out = dir_ / "pcaps";
	sink("pcap:" + out.string());
	create();

	reasm_test::FrameSpec big = spec4("0.0.0.0", 1, "0.0.0.0", 2, 0, 0);
	big.family = 6;
	inet_pton(AF_INET6, "2001:db8::1", big.src.data());
	inet_pton(AF_INET6, "2001:db8::2", big.dst.data());
	big.payload.resize(65475);
	for (size_t i = 0; i < big.payload.size(); i++)
		big.payload[i] = (uint8_t)(i * 7);
	auto frame = reasm_test::build_frame(big);
	auto small = reasm_test::build_frame(spec4("198.18.0.1", 1, "198.18.0.2", 2, 0, 5));
	ASSERT_GT(frame.size(), 65536u);

	struct rte_mbuf *m = reasm_test::to_mbuf_chain(frame, 1024, 2000);
	uint64_t ts = 7;
	sinks_packets(s_, 0, &m, &ts, 1);
	rte_pktmbuf_free(m);
	feed_frames({small});
	ASSERT_EQ(sinks_finish(s_), 0);

	auto recs = read_pcap(out / "2001.0db8.0000.0000.0000.0000.0000.0001.00001-"
				    "2001.0db8.0000.0000.0000.0000.0000.0002.00002.pcap");
	ASSERT_EQ(recs.size(), 1u);
	EXPECT_EQ(recs[0].ts, 7u);
	EXPECT_TRUE(recs[0].frame == frame);
	EXPECT_EQ(totals().pcap.bytes, frame.size() + small.size());
}

TEST_F(PcapSinkTest, ForeignFileIsNeverAppendedTo)
{
	fs::path out = dir_ / "pcaps";
	fs::create_directories(out);
	std::string foreign = "198.018.000.001.00001-198.018.000.002.00002.pcap";
	std::ofstream(out / foreign) << "not a pcap file at all, keep me";
	sink("pcap:" + out.string());
	create();

	auto f1 = reasm_test::build_frame(spec4("198.18.0.1", 1, "198.18.0.2", 2, 0, 5));
	auto f2 = reasm_test::build_frame(spec4("198.18.0.3", 1, "198.18.0.2", 2, 0, 5));
	feed_frames({f1, f2, f1});
	EXPECT_EQ(sinks_finish(s_), -1);
	EXPECT_EQ(read_file(out / foreign), "not a pcap file at all, keep me");
	EXPECT_EQ(read_pcap(out / "198.018.000.002.00002-198.018.000.003.00001.pcap").size(), 1u);
	sinks_totals st = totals();
	EXPECT_EQ(st.write_errors, 2u);
	EXPECT_EQ(st.pcap.pkts, 1u);
}

TEST_F(PcapSinkTest, BadOptionsAreRefused)
{
	fs::path file = dir_ / "plain-file";
	std::ofstream(file) << "x";
	for (std::string arg : {(dir_ / "p").string() + ",max-open=0",
				(dir_ / "p").string() + ",max-open=abc",
				(dir_ / "p").string() + ",max-open=65537",
				(dir_ / "p").string() + ",bogus=1", file.string(),
				(dir_ / "no" / "such" / "dir").string()}) {
		sinks_conf conf{};
		std::string spec = "pcap:" + arg;
		conf.quiet = true;
		conf.n_workers = 1;
		ASSERT_EQ(sinks_conf_add(&conf, spec.c_str()), 0);
		sinks *s = sinks_create(&conf);
		EXPECT_EQ(s, nullptr) << spec;
		sinks_free(s);
	}
}

} // namespace
