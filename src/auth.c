/*
 * auth.c: bearer-token gate. Tokens are never kept, only their SHA-256
 * digests; a presented token is hashed and the digests are compared in
 * constant time, so neither the comparison nor the stored state leaks the
 * token.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/random.h>

#include "auth.h"
#include "log.h"
#include "sha256.h"

#define AUTH_SCHEME		"Bearer "
#define AUTH_SCHEME_LEN		(sizeof(AUTH_SCHEME) - 1)
#define AUTH_RANDOM_BYTES	32
/* Room for a maximal token followed by a fair amount of trailing space. */
#define AUTH_FILE_MAX		(2 * AUTH_TOKEN_MAX)

#define AUTH_HASH_MIN		64	/* buckets of the callers' table */

struct auth {
	struct auth_caller	 admin;		/* the daemon token */
	struct auth_caller	**hash;		/* the sessions' callers */
	size_t			 hashmask;
	size_t			 n;
};

static int	auth_token_char_ok(unsigned char);
static int	auth_is_space(unsigned char);
static void	auth_caller_id(struct auth_caller *);
static size_t	auth_slot(const struct auth *, const unsigned char *);
static int	auth_grow(struct auth *);
static void	auth_seterr(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* Tokens are printable: no space, no control character. */
static int
auth_token_char_ok(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

static int
auth_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

static void
auth_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The caller's public id (see auth.h). */
static void
auth_caller_id(struct auth_caller *c)
{
	static const char	 domain[] = "mcp-proxyd caller ";
	struct sha256		 ctx;
	unsigned char		 h[SHA256_LEN];
	size_t			 i;

	sha256_init(&ctx);
	sha256_update(&ctx, domain, sizeof(domain) - 1);
	sha256_update(&ctx, c->digest, sizeof(c->digest));
	sha256_final(&ctx, h);
	for (i = 0; i < (sizeof(c->id) - 1) / 2; i++)
		snprintf(c->id + 2 * i, 3, "%02x", h[i]);
}

struct auth *
auth_new(const char *token)
{
	struct auth	*a;

	if (token == NULL || *token == '\0')
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if ((a->hash = calloc(AUTH_HASH_MIN, sizeof(*a->hash))) == NULL) {
		free(a);
		return NULL;
	}
	a->hashmask = AUTH_HASH_MIN - 1;
	snprintf(a->admin.name, sizeof(a->admin.name), "default");
	auth_digest(token, a->admin.digest);
	auth_caller_id(&a->admin);
	a->admin.admin = 1;
	return a;
}

void
auth_set_admin(struct auth *a, const char *token)
{
	auth_digest(token, a->admin.digest);
	auth_caller_id(&a->admin);
}

void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	explicit_bzero(&a->admin, sizeof(a->admin));
	free(a->hash);
	free(a);
}

void
auth_digest(const char *token, unsigned char out[32])
{
	sha256(token, strlen(token), out);
}

/* The bucket of a digest: its first bytes (a digest is uniform). */
static size_t
auth_slot(const struct auth *a, const unsigned char *digest)
{
	uint64_t	h;

	memcpy(&h, digest, sizeof(h));
	return (size_t)h & a->hashmask;
}

/* Twice the buckets, when there are more callers than buckets. */
static int
auth_grow(struct auth *a)
{
	struct auth_caller	**old = a->hash, *c, *next;
	size_t			  i, n = a->hashmask + 1;

	if ((a->hash = calloc(2 * n, sizeof(*a->hash))) == NULL) {
		a->hash = old;
		return -1;
	}
	a->hashmask = 2 * n - 1;
	for (i = 0; i < n; i++)
		for (c = old[i]; c != NULL; c = next) {
			next = c->hnext;
			c->hnext = a->hash[auth_slot(a, c->digest)];
			a->hash[auth_slot(a, c->digest)] = c;
		}
	free(old);
	return 0;
}

int
auth_add(struct auth *a, struct auth_caller *c)
{
	size_t	slot;

	if (a->n >= a->hashmask + 1 && auth_grow(a) == -1)
		return -1;
	auth_caller_id(c);
	c->admin = 0;
	slot = auth_slot(a, c->digest);
	c->hnext = a->hash[slot];
	a->hash[slot] = c;
	a->n++;
	return 0;
}

void
auth_remove(struct auth *a, struct auth_caller *c)
{
	struct auth_caller	**pp;

	for (pp = &a->hash[auth_slot(a, c->digest)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			c->hnext = NULL;
			a->n--;
			return;
		}
}

const struct auth_caller *
auth_check(const struct auth *a, const char *header, double now_ms)
{
	const struct auth_caller	*found = NULL, *c;
	const char			*token;
	unsigned char			 digest[32];
	size_t				 n;

	if (a == NULL || header == NULL)
		return NULL;
	if (strncmp(header, AUTH_SCHEME, AUTH_SCHEME_LEN) != 0)
		return NULL;
	token = header + AUTH_SCHEME_LEN;
	for (n = 0; token[n] != '\0'; n++)
		if (!auth_token_char_ok((unsigned char)token[n]))
			return NULL;
	if (n == 0)
		return NULL;
	sha256(token, n, digest);
	if (sha256_equal(digest, a->admin.digest, sizeof(digest)))
		found = &a->admin;
	/* A session's: the bucket of the digest; its entries are compared
	 * in constant time, and a digest reveals nothing of another token. */
	for (c = a->hash[auth_slot(a, digest)]; c != NULL && found == NULL;
	    c = c->hnext)
		if (sha256_equal(digest, c->digest, sizeof(digest)))
			found = c;
	explicit_bzero(digest, sizeof(digest));
	if (found != NULL && found->expires_ms != 0 &&
	    now_ms >= found->expires_ms)
		return NULL;
	return found;
}

int
auth_token_generate(char out[65])
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		raw[AUTH_RANDOM_BYTES];
	size_t			i;
	ssize_t			n;

	/* The kernel's generator; blocks only until it is seeded at boot. */
	for (i = 0; i < sizeof(raw); i += (size_t)n)
		if ((n = getrandom(raw + i, sizeof(raw) - i, 0)) == -1) {
			if (errno == EINTR) {
				n = 0;
				continue;
			}
			return -1;
		}
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[2 * sizeof(raw)] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

int
auth_token_read_file(const char *path, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char		buf[AUTH_FILE_MAX + 1];
	struct stat	st;
	ssize_t		r;
	size_t		len = 0, i;
	int		fd = -1;

	if (outlen > 0)
		out[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		auth_seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) == -1) {
		auth_seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		auth_seterr(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0)
		log_warnx("%s: token file is readable by group or others "
		    "(mode %04o); it should be 0600 or 0400", path,
		    (unsigned int)(st.st_mode & 07777));

	/* Read one byte more than we accept, to tell "too long". */
	while (len < sizeof(buf)) {
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			auth_seterr(err, errlen, "%s: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	fd = -1;
	if (len == sizeof(buf)) {
		auth_seterr(err, errlen, "%s: file is larger than %d bytes "
		    "(a token has at most %d)", path, AUTH_FILE_MAX,
		    AUTH_TOKEN_MAX);
		goto fail;
	}

	while (len > 0 && auth_is_space((unsigned char)buf[len - 1]))
		len--;
	if (len == 0) {
		auth_seterr(err, errlen, "%s: token file is empty", path);
		goto fail;
	}
	if (len > AUTH_TOKEN_MAX) {
		auth_seterr(err, errlen, "%s: token is longer than %d bytes",
		    path, AUTH_TOKEN_MAX);
		goto fail;
	}
	for (i = 0; i < len; i++) {
		if (!auth_token_char_ok((unsigned char)buf[i])) {
			auth_seterr(err, errlen, "%s: token contains "
			    "whitespace or control characters (at byte %zu)",
			    path, i);
			goto fail;
		}
	}
	if (len < AUTH_TOKEN_MIN) {
		auth_seterr(err, errlen, "%s: token is shorter than %d "
		    "characters", path, AUTH_TOKEN_MIN);
		goto fail;
	}
	if (len >= outlen) {
		auth_seterr(err, errlen, "%s: token does not fit in %zu bytes",
		    path, outlen);
		goto fail;
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	explicit_bzero(buf, sizeof(buf));
	return 0;
 fail:
	if (fd != -1)
		close(fd);
	explicit_bzero(buf, sizeof(buf));
	return -1;
}

/* The whole of buf to fd; 0 or -1. */
static int
auth_write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
auth_token_write_file(const char *path, const char *token, char *err,
    size_t errlen)
{
	char	tmp[4096 + 8];
	int	fd, ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		auth_seterr(err, errlen, "%s: path too long", path);
		return -1;
	}
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		auth_seterr(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	ok = auth_write_all(fd, token, strlen(token)) == 0 &&
	    auth_write_all(fd, "\n", 1) == 0 && fchmod(fd, 0600) == 0;
	if (close(fd) == -1)
		ok = 0;
	if (!ok || rename(tmp, path) == -1) {
		auth_seterr(err, errlen, "%s: %s", path, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}
