/*
 * test_auth.c: unit tests for the bearer-token gate (src/auth.c).
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "auth.h"
#include "sha256.h"
#include "unit.h"

#define TOKEN	"0123456789abcdef0123456789abcdef"

static char	*write_temp(const void *, size_t, mode_t);
static int	 read_file_capture(const char *, char *, char *, char *,
		    size_t);
static Suite	*auth_suite(void);

/* Write data to a new file in /tmp; returns its malloc'd path. */
static char *
write_temp(const void *data, size_t n, mode_t mode)
{
	char	*path;
	int	 fd;

	path = strdup("/tmp/test_auth.XXXXXX");
	ck_assert_ptr_nonnull(path);
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* auth_token_read_file() with stderr captured into log (4096 bytes). */
static int
read_file_capture(const char *path, char *out, char *log, char *err,
    size_t errlen)
{
	char	 logpath[] = "/tmp/test_auth_log.XXXXXX";
	int	 fd, saved, rc;
	ssize_t	 n;

	fd = mkstemp(logpath);
	ck_assert_int_ne(fd, -1);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ne(saved, -1);
	ck_assert_int_ne(dup2(fd, STDERR_FILENO), -1);
	rc = auth_token_read_file(path, out, AUTH_TOKEN_MAX + 1, err, errlen);
	fflush(stderr);
	ck_assert_int_ne(dup2(saved, STDERR_FILENO), -1);
	close(saved);
	n = pread(fd, log, 4095, 0);
	ck_assert_int_ge(n, 0);
	log[n] = '\0';
	close(fd);
	unlink(logpath);
	return rc;
}

static void
hex(const unsigned char *d, size_t n, char *out)
{
	size_t	i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* FIPS 180-4 examples (and the empty string, and a million 'a's). */
START_TEST(test_sha256_vectors)
{
	static const struct {
		const char	*in;
		const char	*want;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
		    "7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff"
		    "61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd4"
		    "19db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac4503"
		    "7afee9d1" }
	};
	unsigned char	 d[SHA256_LEN];
	char		 h[2 * SHA256_LEN + 1], *a;
	size_t		 i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sha256(v[i].in, strlen(v[i].in), d);
		hex(d, sizeof(d), h);
		ck_assert_str_eq(h, v[i].want);
	}
	a = malloc(1000000);
	ck_assert_ptr_nonnull(a);
	memset(a, 'a', 1000000);
	sha256(a, 1000000, d);
	free(a);
	hex(d, sizeof(d), h);
	ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e"
	    "046d39ccc7112cd0");
}
END_TEST

/* Fed in pieces of every size, across every block boundary: the same. */
START_TEST(test_sha256_pieces)
{
	unsigned char	 buf[300], one[SHA256_LEN], d[SHA256_LEN];
	struct sha256	 c;
	size_t		 i, step, off, k;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	for (i = 0; i <= sizeof(buf); i += 13) {
		sha256(buf, i, one);
		for (step = 1; step <= 130; step++) {
			sha256_init(&c);
			for (off = 0; off < i; off += k) {
				k = i - off < step ? i - off : step;
				sha256_update(&c, buf + off, k);
			}
			sha256_final(&c, d);
			ck_assert_int_eq(memcmp(d, one, sizeof(d)), 0);
		}
	}
	ck_assert(sha256_equal(one, one, sizeof(one)));
	memcpy(d, one, sizeof(d));
	d[31] ^= 1;
	ck_assert(!sha256_equal(one, d, sizeof(d)));
	ck_assert(sha256_equal(one, d, 31));
}
END_TEST

START_TEST(test_check_right_token)
{
	struct auth			*a;
	const struct auth_caller	*c;
	/* sha256sum of TOKEN, from coreutils */
	static const unsigned char	 want[32] = {
		0x3e, 0xb1, 0xbd, 0x43, 0x99, 0x47, 0xeb, 0x76,
		0x29, 0x98, 0xe5, 0x66, 0xcc, 0xc2, 0xe0, 0x99,
		0xc7, 0x91, 0x11, 0x8b, 0x2f, 0x40, 0x57, 0x9c,
		0xc4, 0xf7, 0xda, 0x2b, 0x50, 0x61, 0xb7, 0xf9
	};

	a = auth_new(TOKEN);
	ck_assert_ptr_nonnull(a);
	c = auth_check(a, "Bearer " TOKEN, 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "default");
	/* Only the digest is kept, and it is the SHA-256 of the token. */
	ck_assert_int_eq(memcmp(c->digest, want, 32), 0);
	/* The same caller record every time. */
	ck_assert_ptr_eq(auth_check(a, "Bearer " TOKEN, 0), c);
	auth_free(a);

	/* Any printable token works, short or odd. */
	a = auth_new("x");
	ck_assert_ptr_nonnull(auth_check(a, "Bearer x", 0));
	auth_free(a);
	a = auth_new("t\xc3\xa9-/+=:~");
	ck_assert_ptr_nonnull(auth_check(a, "Bearer t\xc3\xa9-/+=:~", 0));
	auth_free(a);
}
END_TEST

START_TEST(test_check_rejects)
{
	static const char *bad[] = {
		"Bearer 0123456789abcdef0123456789abcdeX",	/* wrong */
		"Bearer 0123456789abcdef0123456789abcde",	/* shorter */
		"Bearer " TOKEN "0",				/* longer */
		"Bearer " TOKEN TOKEN,
		"bearer " TOKEN,
		"BEARER " TOKEN,
		"Basic " TOKEN,
		"Bearer " TOKEN " extra",
		"Bearer  " TOKEN,
		"Bearer\t" TOKEN,
		"Bearer " TOKEN "\t",
		"Bearer\t\t" TOKEN,
		" Bearer " TOKEN,
		"Bearer " TOKEN " ",
		"Bearer " TOKEN "\r",
		"Bearer " TOKEN "\n",
		"Bearer " TOKEN "\x7f",
		"Bearer" TOKEN,
		"Bearer",
		"Bearer ",
		"Bearer  ",
		"",
		TOKEN,
		"Token " TOKEN,
	};
	struct auth	*a;
	size_t		 i;

	a = auth_new(TOKEN);
	ck_assert_ptr_nonnull(a);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(auth_check(a, bad[i], 0) == NULL, "accepted \"%s\"",
		    bad[i]);
	ck_assert_ptr_null(auth_check(a, NULL, 0));
	ck_assert_ptr_null(auth_check(NULL, "Bearer " TOKEN, 0));
	/* Still fine after all that. */
	ck_assert_ptr_nonnull(auth_check(a, "Bearer " TOKEN, 0));
	auth_free(a);
}
END_TEST

/* Many callers (the table grows), removal, expiry, the admin apart, and
 * public ids that are neither the token nor its digest. */
START_TEST(test_callers)
{
	static struct auth_caller	 cs[300];
	struct auth			*a = auth_new(TOKEN);
	char				 tok[300][65], hdr[80], hex[13];
	size_t				 i, j;

	ck_assert_ptr_nonnull(a);
	for (i = 0; i < 300; i++) {
		ck_assert_int_eq(auth_token_generate(tok[i]), 0);
		snprintf(cs[i].name, sizeof(cs[i].name), "s%zu", i);
		auth_digest(tok[i], cs[i].digest);
		cs[i].expires_ms = i == 7 ? 1000.0 : 0;
		cs[i].session = (struct session *)(uintptr_t)(i + 1);
		ck_assert_int_eq(auth_add(a, &cs[i]), 0);
	}
	for (i = 0; i < 300; i++) {
		snprintf(hdr, sizeof(hdr), "Bearer %.64s", tok[i]);
		ck_assert_ptr_eq(auth_check(a, hdr, 999.0), &cs[i]);
		ck_assert(!cs[i].admin);
		ck_assert_uint_eq(strlen(cs[i].id), 12);
		ck_assert(strstr(tok[i], cs[i].id) == NULL);
		for (j = 0; j < 6; j++)
			snprintf(hex + 2 * j, 3, "%02x", cs[i].digest[j]);
		ck_assert_str_ne(hex, cs[i].id);
	}
	/* Expired at 1000 ms: refused from then on. */
	snprintf(hdr, sizeof(hdr), "Bearer %.64s", tok[7]);
	ck_assert_ptr_null(auth_check(a, hdr, 1000.0));
	ck_assert_ptr_eq(auth_check(a, "Bearer " TOKEN, 5000.0)->admin ?
	    a : NULL, a);
	auth_remove(a, &cs[42]);
	snprintf(hdr, sizeof(hdr), "Bearer %.64s", tok[42]);
	ck_assert_ptr_null(auth_check(a, hdr, 0));
	snprintf(hdr, sizeof(hdr), "Bearer %.64s", tok[43]);
	ck_assert_ptr_eq(auth_check(a, hdr, 0), &cs[43]);
	auth_free(a);
}
END_TEST

START_TEST(test_new_empty)
{
	ck_assert_ptr_null(auth_new(""));
	ck_assert_ptr_null(auth_new(NULL));
	auth_free(NULL);
}
END_TEST

START_TEST(test_generate)
{
	char	a[65], b[65];
	size_t	i;

	memset(a, 'Z', sizeof(a));
	memset(b, 'Z', sizeof(b));
	ck_assert_int_eq(auth_token_generate(a), 0);
	ck_assert_int_eq(auth_token_generate(b), 0);
	ck_assert_uint_eq(strlen(a), 64);
	ck_assert_uint_eq(strlen(b), 64);
	for (i = 0; i < 64; i++) {
		ck_assert_msg(strchr("0123456789abcdef", a[i]) != NULL,
		    "bad char in %s", a);
		ck_assert_msg(strchr("0123456789abcdef", b[i]) != NULL,
		    "bad char in %s", b);
	}
	ck_assert_str_ne(a, b);
	/* A generated token passes the gate. */
	{
		struct auth	*au = auth_new(a);
		char		 hdr[80];

		snprintf(hdr, sizeof(hdr), "Bearer %s", a);
		ck_assert_ptr_nonnull(auth_check(au, hdr, 0));
		snprintf(hdr, sizeof(hdr), "Bearer %s", b);
		ck_assert_ptr_null(auth_check(au, hdr, 0));
		auth_free(au);
	}
}
END_TEST

START_TEST(test_read_file_ok)
{
	static const char *good[] = {
		TOKEN, TOKEN "\n", TOKEN "\r\n", TOKEN " \t\n\n  \n",
		"0123456789abcdef",		/* exactly 16 */
		"t\xc3\xa9-/+=:~0123456789abc\n",
	};
	static const char *want[] = {
		TOKEN, TOKEN, TOKEN, TOKEN, "0123456789abcdef",
		"t\xc3\xa9-/+=:~0123456789abc",
	};
	char	 out[AUTH_TOKEN_MAX + 1], err[512], log[4096];
	char	*path;
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		path = write_temp(good[i], strlen(good[i]), 0600);
		err[0] = '\0';
		ck_assert_msg(read_file_capture(path, out, log, err,
		    sizeof(err)) == 0, "%s", err);
		ck_assert_str_eq(out, want[i]);
		/* 0600: no warning. */
		ck_assert_msg(log[0] == '\0', "unexpected log: %s", log);
		unlink(path);
		free(path);
	}
}
END_TEST

START_TEST(test_read_file_max_length)
{
	char	 data[AUTH_TOKEN_MAX + 2], out[AUTH_TOKEN_MAX + 1], err[512];
	char	*path;

	memset(data, 'k', sizeof(data));
	data[AUTH_TOKEN_MAX] = '\n';
	path = write_temp(data, AUTH_TOKEN_MAX + 1, 0400);
	ck_assert_msg(auth_token_read_file(path, out, sizeof(out), err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(strlen(out), AUTH_TOKEN_MAX);
	unlink(path);
	free(path);

	data[AUTH_TOKEN_MAX] = 'k';
	data[AUTH_TOKEN_MAX + 1] = '\n';
	path = write_temp(data, AUTH_TOKEN_MAX + 2, 0600);
	ck_assert_int_eq(auth_token_read_file(path, out, sizeof(out), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "longer than 4096"));
	unlink(path);
	free(path);

	/* A valid token but the caller's buffer is too small. */
	path = write_temp(TOKEN, strlen(TOKEN), 0600);
	ck_assert_int_eq(auth_token_read_file(path, out, 20, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_read_file_huge)
{
	char	*data, out[AUTH_TOKEN_MAX + 1], err[512], *path;
	size_t	 n = 3 * AUTH_TOKEN_MAX;

	data = malloc(n);
	ck_assert_ptr_nonnull(data);
	memset(data, 'q', n);
	path = write_temp(data, n, 0600);
	ck_assert_int_eq(auth_token_read_file(path, out, sizeof(out), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	unlink(path);
	free(path);
	free(data);
}
END_TEST

START_TEST(test_read_file_bad)
{
	static const struct {
		const char	*data;
		const char	*reason;
	} bad[] = {
		{ "", "empty" },
		{ "\n", "empty" },
		{ "  \t\r\n\n", "empty" },
		{ "0123456789abcde", "shorter than 16" },
		{ "0123456789abcde\n", "shorter than 16" },
		{ "0123456789 abcdef0123", "whitespace" },
		{ "0123456789\tabcdef0123", "whitespace" },
		{ " 0123456789abcdef0123", "whitespace" },
		{ "0123456789\nabcdef0123\n", "whitespace" },
		{ "0123456789\x01" "abcdef0123", "control" },
		{ "0123456789\x7f" "abcdef0123", "control" },
	};
	char	 out[AUTH_TOKEN_MAX + 1], err[512], *path;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		path = write_temp(bad[i].data, strlen(bad[i].data), 0600);
		err[0] = '\0';
		ck_assert_int_eq(auth_token_read_file(path, out, sizeof(out),
		    err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, path) != NULL, "no path in %s", err);
		ck_assert_msg(strstr(err, bad[i].reason) != NULL,
		    "case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].reason);
		unlink(path);
		free(path);
	}
	/* A NUL byte inside is a control character too. */
	path = write_temp("0123456789\0abcdef0123", 21, 0600);
	ck_assert_int_eq(auth_token_read_file(path, out, sizeof(out), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "control"));
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_read_file_missing)
{
	char	out[AUTH_TOKEN_MAX + 1], err[512];

	ck_assert_int_eq(auth_token_read_file("/tmp/test_auth.does-not-exist",
	    out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/tmp/test_auth.does-not-exist"));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	/* A directory is not a token file. */
	ck_assert_int_eq(auth_token_read_file("/tmp", out, sizeof(out), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/tmp"));
}
END_TEST

START_TEST(test_read_file_mode_warning)
{
	static const mode_t	 modes[] = { 0640, 0604, 0644, 0444 };
	char			 out[AUTH_TOKEN_MAX + 1], err[512];
	char			 log[4096], *path;
	size_t			 i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		path = write_temp(TOKEN "\n", strlen(TOKEN) + 1, modes[i]);
		/* Readable by others: still accepted, with a warning. */
		ck_assert_int_eq(read_file_capture(path, out, log, err,
		    sizeof(err)), 0);
		ck_assert_str_eq(out, TOKEN);
		ck_assert_msg(strstr(log, path) != NULL &&
		    strstr(log, "readable by group or others") != NULL,
		    "mode %o, log: %s", (unsigned int)modes[i], log);
		/* The token itself never reaches the log. */
		ck_assert_ptr_null(strstr(log, TOKEN));
		unlink(path);
		free(path);
	}
	/* Group-writable but not readable: no warning. */
	path = write_temp(TOKEN, strlen(TOKEN), 0620);
	ck_assert_int_eq(read_file_capture(path, out, log, err, sizeof(err)),
	    0);
	ck_assert_msg(log[0] == '\0', "unexpected log: %s", log);
	unlink(path);
	free(path);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("auth");
	tc = tcase_create("check");
	tcase_add_test(tc, test_sha256_vectors);
	tcase_add_test(tc, test_sha256_pieces);
	tcase_add_test(tc, test_check_right_token);
	tcase_add_test(tc, test_check_rejects);
	tcase_add_test(tc, test_callers);
	tcase_add_test(tc, test_new_empty);
	tcase_add_test(tc, test_generate);
	suite_add_tcase(s, tc);
	tc = tcase_create("token_file");
	tcase_add_test(tc, test_read_file_ok);
	tcase_add_test(tc, test_read_file_max_length);
	tcase_add_test(tc, test_read_file_huge);
	tcase_add_test(tc, test_read_file_bad);
	tcase_add_test(tc, test_read_file_missing);
	tcase_add_test(tc, test_read_file_mode_warning);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(auth_suite());
}
