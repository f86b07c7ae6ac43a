/* SPDX-License-Identifier: BSD-3-Clause */
#include "test_env.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace reasm_test {

static struct rte_mempool *g_mbuf_pool;

void EalEnvironment::SetUp()
{
	std::string prefix = "--file-prefix=reasm_test_" + std::to_string(getpid());
	std::vector<std::string> args = {"reasm_test", "--no-huge", "-m", "512", "--no-pci",
					 prefix, "--log-level=lib.eal:error", "-l", "0"};
	const char *extra = getenv("REASM_TEST_EAL_ARGS");
	if (extra != nullptr && *extra != '\0')
		args.push_back(extra);
	std::vector<char *> argv;
	for (auto &a : args)
		argv.push_back(&a[0]);
	if (rte_eal_init((int)argv.size(), argv.data()) < 0) {
		fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
		abort();
	}
	g_mbuf_pool = rte_pktmbuf_pool_create("test_mbufs", 8191, 256, 0,
					      RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (g_mbuf_pool == nullptr) {
		fprintf(stderr, "mbuf pool: %s\n", rte_strerror(rte_errno));
		abort();
	}
}

void EalEnvironment::TearDown()
{
	/* EAL leaves its runtime folder (/var/run/dpdk/PREFIX) behind: a test leaves nothing. */
	const std::string runtime_dir = rte_eal_get_runtime_dir();

	rte_mempool_free(g_mbuf_pool);
	g_mbuf_pool = nullptr;
	rte_eal_cleanup();
	std::error_code ec;
	std::filesystem::remove_all(runtime_dir, ec);
}

struct rte_mempool *mbuf_pool()
{
	return g_mbuf_pool;
}

std::string unique_name(const char *prefix)
{
	static std::atomic<unsigned> counter{0};
	return std::string(prefix) + "_" + std::to_string(counter++);
}

} // namespace reasm_test

int main(int argc, char **argv)
{
	::testing::InitGoogleTest(&argc, argv);
	::testing::AddGlobalTestEnvironment(new reasm_test::EalEnvironment);
	return RUN_ALL_TESTS();
}
