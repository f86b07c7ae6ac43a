/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * In the fuzz build (-Dfuzz=true, see the top meson.build) the library's calls
 * to rte_malloc(), rte_zmalloc(), rte_calloc() (and their _socket forms) and
 * rte_free() are renamed by the preprocessor to the functions below, which use
 * the C heap. ASan then sees the library's own structures (assembler, pool,
 * connection array, per-stream areas, flush snapshot, gather buffer): a read
 * or write past one of them, a use after free or a leak is reported, which it
 * cannot do inside DPDK's heap. DPDK's own allocations are unaffected.
 *
 * Same contract as DPDK's: NULL for size 0 or an alignment that is not a power
 * of two; zeroed memory from the z and calloc forms.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>

static void *
heap_alloc(size_t size, unsigned int align, int zero)
{
	void *p;

	if (size == 0 || (align & (align - 1)) != 0)
		return NULL;
	if (align < sizeof(void *))
		align = sizeof(void *);
	if (posix_memalign(&p, align, size) != 0)
		return NULL;
	if (zero)
		memset(p, 0, size);
	return p;
}

void *
fuzz_rte_malloc(const char *type, size_t size, unsigned align)
{
	(void)type;
	return heap_alloc(size, align, 0);
}

void *
fuzz_rte_zmalloc(const char *type, size_t size, unsigned align)
{
	(void)type;
	return heap_alloc(size, align, 1);
}

void *
fuzz_rte_calloc(const char *type, size_t num, size_t size, unsigned align)
{
	(void)type;
	if (size != 0 && num > SIZE_MAX / size)
		return NULL;
	return heap_alloc(num * size, align, 1);
}

void *
fuzz_rte_malloc_socket(const char *type, size_t size, unsigned align, int socket)
{
	(void)type;
	(void)socket;
	return heap_alloc(size, align, 0);
}

void *
fuzz_rte_zmalloc_socket(const char *type, size_t size, unsigned align, int socket)
{
	(void)type;
	(void)socket;
	return heap_alloc(size, align, 1);
}

void *
fuzz_rte_calloc_socket(const char *type, size_t num, size_t size, unsigned align, int socket)
{
	(void)socket;
	return fuzz_rte_calloc(type, num, size, align);
}

void
fuzz_rte_free(void *ptr)
{
	free(ptr);
}
