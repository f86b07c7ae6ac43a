/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The reasm authors
 *
 * SHA-256 (FIPS 180-4), small and dependency free: the appliance hashes the
 * bytes of each stream direction (--sha256) and the test tools hash their
 * output with the same code. Not constant time; for checksums, not secrets.
 *
 * Usage: sha256_init(), any number of sha256_update(), sha256_final()
 * (the context must be initialised again before reuse), sha256_hex().
 */
#ifndef REASM_APP_SHA256_H
#define REASM_APP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of a digest. */
#define SHA256_DIGEST_LEN 32
/** Characters of a digest in hex, without the terminating NUL. */
#define SHA256_HEX_LEN 64

/** A hash in progress (104 bytes). */
struct sha256_ctx {
	uint32_t h[8];     /**< chaining state */
	uint64_t total;    /**< bytes hashed so far */
	uint8_t block[64]; /**< pending input; total % 64 bytes of it are used */
};

/** Start a new hash. */
void sha256_init(struct sha256_ctx *ctx);

/** Hash @p len more bytes at @p data (NULL is fine when @p len is 0). */
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);

/** Finish the hash and write the digest to @p digest. */
void sha256_final(struct sha256_ctx *ctx, uint8_t digest[SHA256_DIGEST_LEN]);

/** Write @p digest as 64 lowercase hex digits and a NUL to @p hex. */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN], char hex[SHA256_HEX_LEN + 1]);

#ifdef __cplusplus
}
#endif

#endif
