/*
 * auth.h: the bearer-token gate.
 *
 * A struct auth holds the callers that may use the daemon, each known only
 * by the SHA-256 digest of its token: "default" for the daemon token (the
 * admin), and one per session (session.c adds and removes them). A token
 * is hashed and looked up by its digest (a hash table; the admin's is
 * compared first), the match compared in constant time. auth_check()
 * resolves an Authorization header to a caller record, or to NULL.
 * Threads: auth_new() and auth_free() on the main thread; the rest on the
 * loop thread. The admin's record lives as long as the struct auth; a
 * session's as long as its session.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>

#define AUTH_TOKEN_MIN	16	/* bytes in a token file, at least */
#define AUTH_TOKEN_MAX	4096	/* bytes in a token file, at most */

struct session;

struct auth_caller {
	char		name[64];	/* "default" for the daemon token, a
					   session's id for its token */
	unsigned char	digest[32];	/* SHA-256 of the token */
	/* For logs, the audit log and metrics: 12 hex digits of the SHA-256
	 * of "mcp-proxyd caller " and the digest. It names the token without
	 * revealing it (nor its digest, which would open the gate). */
	char		id[13];
	int		admin;		/* the daemon token: every route */
	double		expires_ms;	/* http_now_ms() clock; 0: never */
	struct session	*session;	/* NULL for the daemon token */
	struct auth_caller *hnext;	/* auth's table */
};

struct auth;

/* Stores only the SHA-256 digest of token; NULL if token is NULL or empty
 * (or on failure). */
struct auth	*auth_new(const char *token);
void		 auth_free(struct auth *);
/* Loop thread (a reload): the daemon token is token from now on; the old
 * one stops working at once. token is not empty. */
void		 auth_set_admin(struct auth *, const char *token);
/*
 * header is the raw Authorization value (may be NULL). It must be exactly
 * "Bearer" (case-sensitive), one space and the token: no other spaces, no
 * tabs or control characters, non-empty token. A caller whose expires_ms
 * has passed (now_ms, the http_now_ms() clock) is not found. Returns the
 * caller or NULL.
 */
const struct auth_caller *auth_check(const struct auth *, const char *header,
		    double now_ms);
/* Loop thread: c's name, digest, expires_ms and session set; adds it
 * (its id is computed here). -1 on ENOMEM. */
int		 auth_add(struct auth *, struct auth_caller *);
void		 auth_remove(struct auth *, struct auth_caller *);
/* The digest of a token (for a new caller). */
void		 auth_digest(const char *token, unsigned char out[32]);
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
/*
 * Write a token and a newline to path, mode 0600, replacing the file
 * whole (a temporary file renamed over it; a symlink at path is
 * replaced, never followed). 0, or -1 with a message in err.
 */
int		 auth_token_write_file(const char *path, const char *token,
		    char *err, size_t errlen);

#endif
