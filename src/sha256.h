/*
 * sha256.h: SHA-256 (FIPS 180-4). Pure code, any thread; a context belongs
 * to its caller. The daemon hashes bearer tokens and cache fingerprints
 * with it, so that it needs no cryptographic library (whose start-up alone
 * costs megabytes of memory).
 */
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32

struct sha256 {
	uint32_t	h[8];
	uint64_t	len;		/* bytes hashed so far */
	unsigned char	buf[64];
	size_t		nbuf;
};

void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
void	sha256_final(struct sha256 *, unsigned char out[SHA256_LEN]);
/* The digest of n bytes at p. */
void	sha256(const void *p, size_t n, unsigned char out[SHA256_LEN]);
/* 1 when the n bytes at a and b are equal, in time that depends on n only. */
int	sha256_equal(const unsigned char *a, const unsigned char *b, size_t n);

#endif
