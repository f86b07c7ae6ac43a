/* SPDX-License-Identifier: BSD-3-Clause
 * Test support: stream callbacks that record every record (bytes copied),
 * and a Rig that owns a pool, a page mempool and an assembler.
 */
#ifndef REASM_TEST_RECORDER_H
#define REASM_TEST_RECORDER_H

#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "reasm.h"

struct rte_mempool;

namespace reasm_test
{

/* A copied struct reasm_record. */
struct Rec {
	std::vector<uint8_t> bytes;
	int64_t skip = 0;
	bool start = false;
	bool end = false;
	uint64_t seen = 0;
	uint8_t cause = REASM_SKIP_NONE;
};

/* Everything one stream direction received. */
struct StreamLog {
	struct reasm_flow flow;
	std::vector<Rec> recs;
	int completes = 0;
	int reassembled_calls = 0;
	struct reasm_stream_totals totals = {}; /* what complete() was given */
	/* reasm_pool_open_encap() during open() (when the recorder knows the pool) */
	int encap_rc = -ENOENT;
	struct reasm_encap encap = {};
	/* reasm_stream_ops.conflict calls, in order (RigOptions.log_conflicts) */
	std::vector<struct reasm_conflict> conflicts;
};

/*
 * Stream callbacks that log into a Recorder (the factory_ctx). Thread safe:
 * shared-pool tests call it from several threads.
 */
class Recorder
{
      public:
	static const struct reasm_stream_ops ops;
	/* The same with a conflict callback that logs into StreamLog::conflicts. */
	static const struct reasm_stream_ops ops_with_conflict;

	/* Records delivered since the previous call, over all streams, in order. */
	std::vector<Rec> take();
	/* All streams opened so far, in open order. */
	std::vector<StreamLog *> streams();
	/* Streams opened, and streams completed. */
	size_t opened();
	size_t completed();
	/*
	 * Drop every log (all streams must be complete) and remember what they
	 * received, so that Rig::bytes_conserved still adds up against the
	 * assembler's counters; call forget_counters() when those restart.
	 */
	void forget();
	void forget_counters();

	uint64_t received_forgotten = 0;
	struct reasm_pool *pool = nullptr; /* set by Rig: open() asks it for the encapsulation */

	std::mutex mu;
	std::vector<std::unique_ptr<StreamLog>> logs;
	std::vector<Rec> pending;
};

struct RigOptions {
	uint32_t max_pages_total = 0;
	uint32_t max_pages_per_conn = 0;
	uint32_t max_conns = 1024;
	unsigned n_pages = 4096;
	enum reasm_pool_mode mode = REASM_POOL_SINGLE_WRITER;
	uint32_t max_zones = 0; /* reasm_pool_conf.max_zones */
	struct reasm_defrag_conf defrag {
	}; /* all zero: no defragmentation */
	/* reasm_assembler_conf.overlap_policy */
	enum reasm_overlap_policy overlap_policy = REASM_OVERLAP_FIRST;
	uint32_t retain_bytes = 0; /* reasm_pool_conf.retain_bytes */
	/* Recorder::ops_with_conflict (conflicts logged) in place of Recorder::ops */
	bool log_conflicts = false;
};

/*
 * A pool + page mempool + assembler wired to a Recorder. The destructor
 * frees everything; leak_free() says whether every page is back.
 */
class Rig
{
      public:
	explicit Rig(const RigOptions &opt = RigOptions());
	~Rig();
	Rig(const Rig &) = delete;
	Rig &operator=(const Rig &) = delete;

	/* One more assembler on the same (shared) pool and page mempool. */
	struct reasm_assembler *add_assembler();

	/*
	 * True when every payload byte given to the assembler is accounted for,
	 * over all streams: payload = delivered + overlap + buffered +
	 * discarded_on_close + table_full; and for every stream direction (its
	 * totals from complete(), or reasm_pool_stream_totals() while open):
	 * received = delivered + overlap + buffered + discarded, with delivered
	 * and skipped equal to what its records hold, and the streams' received
	 * adding up to payload - table_full. Otherwise false, with why in *why.
	 * Call it when no thread is assembling.
	 */
	bool bytes_conserved(std::string *why = nullptr) const;

	/* True when the page mempool is full again (no page leaked). */
	bool pages_all_free() const;
	unsigned pages_free() const;

	RigOptions opt;
	Recorder rec;
	struct reasm_pool *pool = nullptr;
	struct rte_mempool *pages = nullptr;
	struct reasm_assembler *asm_ = nullptr;
	std::vector<struct reasm_assembler *> extra;

      private:
	/* The per-stream half of bytes_conserved(). */
	bool streams_conserved(uint64_t received_expected, std::string *why) const;
};

/* Bytes of all records concatenated. */
std::vector<uint8_t> concat(const std::vector<Rec> &recs);

/* Human-readable records, for failure messages: {skip:-1,start,end}[1,2,3] ... */
std::string describe(const std::vector<Rec> &recs);

} // namespace reasm_test

#endif
