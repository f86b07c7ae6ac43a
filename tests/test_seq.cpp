/* SPDX-License-Identifier: BSD-3-Clause
 * Sequence arithmetic: gopacket's quarter-space Difference and Add.
 */
#include <gtest/gtest.h>

#include "reasm.h"

TEST(Seq, PlainDifference)
{
	EXPECT_EQ(reasm_seq_diff(4, 8), 4);
	EXPECT_EQ(reasm_seq_diff(8, 4), -4);
	EXPECT_EQ(reasm_seq_diff(1000, 1000), 0);
}

TEST(Seq, WrapIsQuarterSpaceRule)
{
	/* The conformance row "sequence wrap". */
	EXPECT_EQ(reasm_seq_diff(0xFFFFFFF6u, 10), 20);
	EXPECT_EQ(reasm_seq_diff(10, 0xFFFFFFF6u), -20);
	EXPECT_EQ(reasm_seq_diff(0xFFFFFFFFu, 0), 1);
}

TEST(Seq, OutsideTheQuartersIsPlainSubtraction)
{
	/* 0x40000000 is not in the first quarter, so no wrap is assumed. */
	EXPECT_EQ(reasm_seq_diff(0xC0000001u, 0x40000000u), (int64_t)0x40000000 - 0xC0000001);
	/* 0xC0000000 is not strictly above three quarters. */
	EXPECT_EQ(reasm_seq_diff(0xC0000000u, 0), -(int64_t)0xC0000000);
	EXPECT_EQ(reasm_seq_diff(0xC0000001u, 0), (int64_t)0x3FFFFFFF);
}

TEST(Seq, AddWraps)
{
	EXPECT_EQ(reasm_seq_add(0xFFFFFFFFu, 11), 10u);
	EXPECT_EQ(reasm_seq_add(5, -10), 0xFFFFFFFBu);
	EXPECT_EQ(reasm_seq_add(0, 0), 0u);
}
