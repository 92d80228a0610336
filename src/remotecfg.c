/*
 * remotecfg.c: the checks and conversions behind a remote server's
 * configuration: URL, header names and values, ${VAR} expansion, the
 * headers file.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "config.h"
#include "remotecfg.h"

static int	remotecfg_var(const char *, const char **, char *, size_t *,
		    char *, size_t);
static int	remotecfg_value_ok(const char *, char *, size_t);

/* Header names the daemon sets itself: a config may not replace them. */
static const char *const remotecfg_reserved[] = {
	"host", "content-length", "content-type", "accept", "connection",
	"transfer-encoding", "mcp-session-id", "mcp-protocol-version",
	"last-event-id", "te", "upgrade", "keep-alive", NULL
};

int
remotecfg_url(const char *url, int *tls, char *err, size_t errlen)
{
	struct evhttp_uri	*u;
	const char		*scheme, *host;
	int			 rc = -1;

	if ((u = evhttp_uri_parse_with_flags(url, 0)) == NULL) {
		snprintf(err, errlen, "not a valid URL");
		return -1;
	}
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	if (scheme == NULL || (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0))
		snprintf(err, errlen, "the URL must start with http:// or "
		    "https://");
	else if (host == NULL || host[0] == '\0')
		snprintf(err, errlen, "the URL has no host");
	else if (evhttp_uri_get_userinfo(u) != NULL)
		snprintf(err, errlen, "user info in the URL is not supported "
		    "(use headers)");
	else if (evhttp_uri_get_fragment(u) != NULL)
		snprintf(err, errlen, "the URL must not have a fragment");
	else if (evhttp_uri_get_port(u) == 0)
		snprintf(err, errlen, "port 0 in the URL");
	else {
		*tls = strcasecmp(scheme, "https") == 0;
		rc = 0;
	}
	evhttp_uri_free(u);
	return rc;
}

int
remotecfg_header_name(const char *name, char *err, size_t errlen)
{
	const char	*s;
	size_t		 i;

	if (name[0] == '\0') {
		snprintf(err, errlen, "empty header name");
		return -1;
	}
	for (s = name; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}",
		    *s) != NULL) {
			snprintf(err, errlen, "invalid header name (expected "
			    "an HTTP token)");
			return -1;
		}
	for (i = 0; remotecfg_reserved[i] != NULL; i++)
		if (strcasecmp(name, remotecfg_reserved[i]) == 0) {
			snprintf(err, errlen, "header %s is set by the daemon",
			    name);
			return -1;
		}
	return 0;
}

/* A valid header value: printable or tab, bounded. */
static int
remotecfg_value_ok(const char *v, char *err, size_t errlen)
{
	const unsigned char	*s;

	if (strlen(v) > REMOTECFG_VALUE_MAX) {
		snprintf(err, errlen, "header value longer than %d bytes",
		    REMOTECFG_VALUE_MAX);
		return -1;
	}
	for (s = (const unsigned char *)v; *s != '\0'; s++)
		if ((*s < ' ' && *s != '\t') || *s == 0x7f) {
			snprintf(err, errlen, "header value contains a "
			    "control character");
			return -1;
		}
	return 0;
}

/* At *sp a "${...}" reference: appends its value to buf (*len bytes
 * used of REMOTECFG_VALUE_MAX + 1) and moves *sp past it. */
static int
remotecfg_var(const char *start, const char **sp, char *buf, size_t *len,
    char *err, size_t errlen)
{
	const char	*end, *dflt, *val;
	char		 name[256];
	size_t		 nlen, vlen;

	if ((end = strchr(start + 2, '}')) == NULL) {
		snprintf(err, errlen, "unterminated ${ in header value");
		return -1;
	}
	dflt = strstr(start + 2, ":-");
	if (dflt != NULL && dflt > end)
		dflt = NULL;
	nlen = (size_t)((dflt != NULL ? dflt : end) - (start + 2));
	if (nlen == 0 || nlen >= sizeof(name)) {
		snprintf(err, errlen, "bad variable reference in header value");
		return -1;
	}
	memcpy(name, start + 2, nlen);
	name[nlen] = '\0';
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_") != nlen || (name[0] >= '0' && name[0] <= '9')) {
		snprintf(err, errlen, "bad variable name in ${%s}", name);
		return -1;
	}
	val = getenv(name);
	if (dflt != NULL && (val == NULL || val[0] == '\0')) {
		val = dflt + 2;
		vlen = (size_t)(end - val);
	} else if (val == NULL) {
		snprintf(err, errlen, "environment variable %s is not set",
		    name);
		return -1;
	} else
		vlen = strlen(val);
	if (*len + vlen > REMOTECFG_VALUE_MAX) {
		snprintf(err, errlen, "header value longer than %d bytes",
		    REMOTECFG_VALUE_MAX);
		return -1;
	}
	memcpy(buf + *len, val, vlen);
	*len += vlen;
	*sp = end + 1;
	return 0;
}

int
remotecfg_expand(const char *value, char **out, char *err, size_t errlen)
{
	char		*buf;
	const char	*s = value;
	size_t		 len = 0;

	if ((buf = malloc(REMOTECFG_VALUE_MAX + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (*s != '\0') {
		if (s[0] == '$' && s[1] == '{') {
			if (remotecfg_var(s, &s, buf, &len, err, errlen) == -1)
				goto fail;
			continue;
		}
		if (len >= REMOTECFG_VALUE_MAX) {
			snprintf(err, errlen, "header value longer than %d "
			    "bytes", REMOTECFG_VALUE_MAX);
			goto fail;
		}
		buf[len++] = *s;
		s += s[0] == '$' && s[1] == '$' ? 2 : 1;
	}
	buf[len] = '\0';
	if (remotecfg_value_ok(buf, err, errlen) == -1)
		goto fail;
	*out = buf;
	return 0;
fail:
	free(buf);
	return -1;
}

int
remotecfg_header_set(struct config_kv **kv, size_t *n, const char *name,
    const char *value)
{
	struct config_kv	*nkv;
	char			*v;
	size_t			 i;

	if ((v = strdup(value)) == NULL)
		return -1;
	for (i = 0; i < *n; i++)
		if (strcasecmp((*kv)[i].key, name) == 0) {
			free((*kv)[i].value);
			(*kv)[i].value = v;
			return 0;
		}
	if ((nkv = reallocarray(*kv, *n + 1, sizeof(**kv))) == NULL)
		goto fail;
	*kv = nkv;
	if ((nkv[*n].key = strdup(name)) == NULL)
		goto fail;
	nkv[*n].value = v;
	(*n)++;
	return 0;
fail:
	free(v);
	return -1;
}

/* The file's text, checked for its type, mode and size. */
static char *
remotecfg_read(const char *path, char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		snprintf(err, errlen, "%s is not a regular file", path);
	else if ((st.st_mode & 077) != 0)
		snprintf(err, errlen, "%s is readable or writable by others "
		    "(mode %04o): it must be 0600 or stricter", path,
		    (unsigned)(st.st_mode & 07777));
	else if (st.st_size > REMOTECFG_FILE_MAX)
		snprintf(err, errlen, "%s is larger than %d bytes", path,
		    REMOTECFG_FILE_MAX);
	else if ((buf = calloc(1, (size_t)st.st_size + 1)) == NULL)
		snprintf(err, errlen, "out of memory");
	else if ((r = read(fd, buf, (size_t)st.st_size)) != st.st_size) {
		snprintf(err, errlen, "cannot read %s", path);
		free(buf);
		buf = NULL;
	}
	close(fd);
	return buf;
}

int
remotecfg_headers_file(const char *path, struct config_kv **kv, size_t *n,
    char *err, size_t errlen)
{
	struct json_object_iterator	 it, end;
	json_object			*root, *v;
	const char			*name;
	char				*text, why[200];
	int				 rc = -1;

	if ((text = remotecfg_read(path, err, errlen)) == NULL)
		return -1;
	root = json_tokener_parse(text);
	free(text);
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "%s does not hold a JSON object", path);
		goto out;
	}
	it = json_object_iter_begin(root);
	end = json_object_iter_end(root);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		name = json_object_iter_peek_name(&it);
		v = json_object_iter_peek_value(&it);
		if (!json_object_is_type(v, json_type_string)) {
			snprintf(err, errlen, "%s: header %.64s: expected a "
			    "string", path, name);
			goto out;
		}
		if (remotecfg_header_name(name, why, sizeof(why)) == -1 ||
		    remotecfg_value_ok(json_object_get_string(v), why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: header %.64s: %s", path,
			    name, why);
			goto out;
		}
		if (remotecfg_header_set(kv, n, name,
		    json_object_get_string(v)) == -1) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}
