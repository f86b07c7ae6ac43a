/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * Go's net.IP.String(), for output that compares with gopacket's.
 */
#include <stdio.h>
#include <string.h>

#include <reasm.h>

#include "addr_format.h"

/* The first longest run of two or more zero groups, as [*z0, *z1) byte offsets; -1 if none. */
static void
longest_zero_run(const uint8_t *a, int *z0, int *z1)
{
	int i;

	*z0 = *z1 = -1;
	for (i = 0; i < 16; i += 2) {
		int j = i;

		while (j < 16 && a[j] == 0 && a[j + 1] == 0)
			j += 2;
		if (j > i && j - i > *z1 - *z0) {
			*z0 = i;
			*z1 = j;
			i = j;
		}
	}
	if (*z1 - *z0 <= 2)
		*z0 = *z1 = -1;
}

static void
format_v6(const uint8_t *a, char *buf)
{
	char *p = buf;
	int z0, z1, i;

	longest_zero_run(a, &z0, &z1);
	for (i = 0; i < 16; i += 2) {
		if (i == z0) {
			*p++ = ':';
			*p++ = ':';
			i = z1;
			if (i >= 16)
				break;
		} else if (i > 0) {
			*p++ = ':';
		}
		p += sprintf(p, "%x", (unsigned int)a[i] << 8 | a[i + 1]);
	}
	*p = '\0';
}

void
addr_format_go(uint8_t family, const uint8_t *addr, char *buf)
{
	static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (family == REASM_FAMILY_IPV6 && memcmp(addr, v4_mapped, sizeof(v4_mapped)) != 0) {
		format_v6(addr, buf);
		return;
	}
	if (family == REASM_FAMILY_IPV6)
		addr += 12;
	snprintf(buf, ADDR_FORMAT_GO_LEN, "%u.%u.%u.%u", addr[0], addr[1], addr[2], addr[3]);
}
