/*
 * fuzz_auth.c: libFuzzer target for the Authorization check (auth.c).
 *
 * The input, up to its first NUL, is an Authorization header value. The
 * table holds the daemon token, a session's token and an expired
 * session's token. auth_check() must return the daemon's caller exactly
 * when the header is "Bearer " and the daemon token, the session's exactly
 * for "Bearer " and its token, and nothing for anything else, the
 * expired token included. Any difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define FUZZ_AUTH_MAX_INPUT	4096
#define FUZZ_AUTH_NOW_MS	1000000.0

static const char fuzz_admin[] = "admin-token-0123456789";
static const char fuzz_live[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char fuzz_dead[] =
    "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct auth *
fuzz_auth_table(struct auth_caller *live, struct auth_caller *dead)
{
	struct auth	*a;

	if ((a = auth_new(fuzz_admin)) == NULL)
		abort();
	memset(live, 0, sizeof(*live));
	memset(dead, 0, sizeof(*dead));
	auth_digest(fuzz_live, live->digest);
	auth_digest(fuzz_dead, dead->digest);
	dead->expires_ms = FUZZ_AUTH_NOW_MS - 1;
	if (auth_add(a, live) == -1 || auth_add(a, dead) == -1)
		abort();
	return a;
}

/* The header "Bearer " + token? */
static int
fuzz_auth_is(const char *header, const char *token)
{
	return strncmp(header, "Bearer ", 7) == 0 &&
	    strcmp(header + 7, token) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth		*a;
	static struct auth_caller	 live, dead;
	static const struct auth_caller	*admin;
	const struct auth_caller	*got, *want = NULL;
	char				*header;

	if (size > FUZZ_AUTH_MAX_INPUT)
		return 0;
	if (a == NULL) {
		a = fuzz_auth_table(&live, &dead);
		if ((admin = auth_check(a, "Bearer admin-token-0123456789",
		    FUZZ_AUTH_NOW_MS)) == NULL)
			abort();
	}
	if ((header = malloc(size + 1)) == NULL)
		abort();
	memcpy(header, data, size);
	header[size] = '\0';
	got = auth_check(a, header, FUZZ_AUTH_NOW_MS);
	if (fuzz_auth_is(header, fuzz_admin))
		want = admin;
	else if (fuzz_auth_is(header, fuzz_live))
		want = &live;
	if (got != want) {
		fprintf(stderr, "fuzz_auth: header \"%.200s\": got %p, want "
		    "%p\n", header, (const void *)got, (const void *)want);
		abort();
	}
	free(header);
	return 0;
}
