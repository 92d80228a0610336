/*
 * auth.h: the bearer-token gate.
 *
 * A struct auth holds the callers that may use the daemon, each known only
 * by the SHA-256 digest of its token (today one caller, "default", for the
 * daemon token; later one per session). auth_check() resolves an
 * Authorization header to a caller record, or to NULL. A struct auth is
 * immutable once built and may be read from any thread; the caller records
 * it returns live as long as it does.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>

#define AUTH_TOKEN_MIN	16	/* bytes in a token file, at least */
#define AUTH_TOKEN_MAX	4096	/* bytes in a token file, at most */

struct auth_caller {
	char		name[64];	/* "default" for the daemon token */
	unsigned char	digest[32];	/* SHA-256 of the token */
	/* For logs, the audit log and metrics: 12 hex digits of the SHA-256
	 * of "mcp-proxyd caller " and the digest. It names the token without
	 * revealing it (nor its digest, which would open the gate). */
	char		id[13];
};

struct auth;

/* Stores only the SHA-256 digest of token; NULL if token is NULL or empty
 * (or on failure). */
struct auth	*auth_new(const char *token);
void		 auth_free(struct auth *);
/*
 * header is the raw Authorization value (may be NULL). It must be exactly
 * "Bearer" (case-sensitive), one space and the token: no other spaces, no
 * tabs or control characters, non-empty token. The SHA-256 of the token is
 * compared in constant time with every caller's digest. Returns the
 * caller or NULL.
 */
const struct auth_caller *auth_check(const struct auth *, const char *header);
/* 32 bytes from getrandom(2), hex-encoded in lower case into out (64
 * characters and a NUL). 0 or -1. */
int		 auth_token_generate(char out[65]);
/*
 * Read a token from a file: the whole file with trailing whitespace
 * stripped. A missing or unreadable file, an empty token, whitespace or
 * control characters inside it, more than AUTH_TOKEN_MAX bytes or fewer
 * than AUTH_TOKEN_MIN bytes give -1 and a message naming the file in
 * err. Warns (log_warnx) if the file is readable by group or others. out
 * must hold AUTH_TOKEN_MAX + 1 bytes (outlen). Returns 0 on success.
 */
int		 auth_token_read_file(const char *path, char *out,
		    size_t outlen, char *err, size_t errlen);

#endif
