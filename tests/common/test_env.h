/* SPDX-License-Identifier: BSD-3-Clause
 * Test support: one EAL per googletest binary, and helpers every suite uses.
 */
#ifndef REASM_TEST_ENV_H
#define REASM_TEST_ENV_H

#include <gtest/gtest.h>

#include <string>

struct rte_mempool;

namespace reasm_test
{

/*
 * Initialises EAL once for the process (--no-huge -m 512 --no-pci, a file
 * prefix unique to the process) and creates the mbuf pool the frame
 * builders use. Register it from main() or with the REASM_TEST_MAIN macro.
 */
class EalEnvironment : public ::testing::Environment
{
      public:
	void SetUp() override;
	void TearDown() override;
};

/* The process-wide mbuf pool (2048-byte data rooms, 8191 mbufs). */
struct rte_mempool *mbuf_pool();

/* A name unique in the process, for rte_hash / rte_mempool objects. */
std::string unique_name(const char *prefix);

} // namespace reasm_test

#endif
