/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Addresses written as Go writes them, so that reasm's output compares with
 * gopacket's (tools/gopacket-ref) line for line.
 */
#ifndef REASM_APP_ADDR_FORMAT_H
#define REASM_APP_ADDR_FORMAT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes addr_format_go() may write, NUL included. */
#define ADDR_FORMAT_GO_LEN 40

/**
 * Write an address of @p family (enum reasm_family) as Go's net.IP.String()
 * does: IPv4 and IPv4-mapped IPv6 in dotted decimal; other IPv6 in lowercase
 * hex groups with the first longest run of two or more zero groups written
 * "::". @p buf holds at least ADDR_FORMAT_GO_LEN bytes. Thread safe.
 */
void addr_format_go(uint8_t family, const uint8_t *addr, char *buf);

#ifdef __cplusplus
}
#endif

#endif
