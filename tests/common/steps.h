/* SPDX-License-Identifier: BSD-3-Clause
 * Test support: one assemble call in the conformance tables' notation,
 * `seq:[payload]` with its flags: seg(1001, {1,2,3}), syn(...), fin(...), rst(...).
 */
#ifndef REASM_TEST_STEPS_H
#define REASM_TEST_STEPS_H

#include <cstdint>
#include <utility>
#include <vector>

#include "reasm.h"

namespace reasm_test
{

using Bytes = std::vector<uint8_t>;

struct In {
	uint32_t seq;
	uint8_t flags;
	Bytes payload;
};

inline In
seg(uint32_t seq, Bytes p = {})
{
	return {seq, 0, std::move(p)};
}
inline In
syn(uint32_t seq, Bytes p = {})
{
	return {seq, REASM_TCP_SYN, std::move(p)};
}
inline In
fin(uint32_t seq, Bytes p = {})
{
	return {seq, REASM_TCP_FIN, std::move(p)};
}
inline In
rst(uint32_t seq, Bytes p = {})
{
	return {seq, REASM_TCP_RST, std::move(p)};
}

} // namespace reasm_test

#endif
