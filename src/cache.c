/*
 * cache.c: tool lists persisted to one JSON file:
 *   {"version":1,"servers":{"<name>":{"fingerprint":"<sha256>",
 *    "fetchedAt":<unix seconds>,"tools":[...]}}}
 * An entry is used only by a server whose command, args, env and cwd are
 * still the ones it was listed with. The file is rewritten whole on each
 * store: a temporary file in the same directory, fsync, rename, so a crash
 * leaves either the old file or the new one.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cache.h"
#include "config.h"
#include "log.h"

#define CACHE_VERSION		1
#define CACHE_MAX_BYTES		(64 * 1024 * 1024)

struct cache {
	char		*path;
	json_object	*root;		/* {"version":1,"servers":{...}} */
	json_object	*servers;	/* borrowed from root */
	atomic_long	 hits;
	atomic_long	 misses;
	atomic_long	 writes;
	atomic_long	 write_errors;
	int		 last_errno;	/* I/O thread: log each error once */
};

static json_object	*cache_read(const char *);
static int		 cache_write(struct cache *);

void
cache_fingerprint(const struct config_server *cs, char out[65])
{
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	unsigned char	 md[32];
	unsigned int	 mdlen = 0;
	size_t		 i;

	memset(out, 0, 65);
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto done;
	/* Each field with its NUL, so "ab","c" differs from "a","bc". */
	EVP_DigestUpdate(ctx, "cmd", 4);
	EVP_DigestUpdate(ctx, cs->command, strlen(cs->command) + 1);
	for (i = 0; i < cs->nargs; i++) {
		EVP_DigestUpdate(ctx, "arg", 4);
		EVP_DigestUpdate(ctx, cs->args[i], strlen(cs->args[i]) + 1);
	}
	for (i = 0; i < cs->nenv; i++) {
		EVP_DigestUpdate(ctx, "env", 4);
		EVP_DigestUpdate(ctx, cs->env[i].key, strlen(cs->env[i].key) + 1);
		EVP_DigestUpdate(ctx, cs->env[i].value,
		    strlen(cs->env[i].value) + 1);
	}
	if (cs->cwd != NULL) {
		EVP_DigestUpdate(ctx, "cwd", 4);
		EVP_DigestUpdate(ctx, cs->cwd, strlen(cs->cwd) + 1);
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto done;
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
done:
	EVP_MD_CTX_free(ctx);
}

/* The file's root object, or NULL (logged) when it cannot be used. */
static json_object *
cache_read(const char *path)
{
	struct stat	 st;
	json_object	*root = NULL, *v, *servers;
	char		*buf = NULL;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			log_info("schema cache %s: not there yet", path);
		else
			log_warn("schema cache %s: cannot read, ignored", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CACHE_MAX_BYTES) {
		log_warnx("schema cache %s: not a regular file under 64 MiB, "
		    "ignored", path);
		goto done;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto done;
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	root = json_tokener_parse(buf);
	if (root == NULL || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "version", &v) ||
	    json_object_get_int(v) != CACHE_VERSION ||
	    !json_object_object_get_ex(root, "servers", &servers) ||
	    !json_object_is_type(servers, json_type_object)) {
		log_warnx("schema cache %s: corrupt or of another version, "
		    "ignored", path);
		json_object_put(root);
		root = NULL;
	}
done:
	free(buf);
	close(fd);
	return root;
}

struct cache *
cache_open(const char *path)
{
	struct cache	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->path = strdup(path)) == NULL) {
		free(c);
		return NULL;
	}
	if ((c->root = cache_read(path)) == NULL) {
		c->root = json_object_new_object();
		json_object_object_add(c->root, "version",
		    json_object_new_int(CACHE_VERSION));
		json_object_object_add(c->root, "servers",
		    json_object_new_object());
	}
	json_object_object_get_ex(c->root, "servers", &c->servers);
	return c;
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	json_object_put(c->root);
	free(c->path);
	free(c);
}

json_object *
cache_lookup(struct cache *c, const struct config_server *cs, double *age_s)
{
	json_object	*e, *v, *tools;
	char		 fp[65];

	*age_s = 0;
	cache_fingerprint(cs, fp);
	if (!json_object_object_get_ex(c->servers, cs->name, &e) ||
	    !json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "fingerprint", &v) ||
	    strcmp(json_object_get_string(v), fp) != 0 ||
	    !json_object_object_get_ex(e, "tools", &tools) ||
	    !json_object_is_type(tools, json_type_array)) {
		atomic_fetch_add(&c->misses, 1);
		return NULL;
	}
	if (json_object_object_get_ex(e, "fetchedAt", &v))
		*age_s = difftime(time(NULL), (time_t)json_object_get_int64(v));
	atomic_fetch_add(&c->hits, 1);
	return tools;
}

static int
cache_write(struct cache *c)
{
	const char	*s;
	char		*tmp = NULL;
	size_t		 len, off = 0;
	ssize_t		 n;
	int		 fd = -1, saved;

	s = json_object_to_json_string_length(c->root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (asprintf(&tmp, "%s.tmp.%ld", c->path, (long)getpid()) == -1) {
		tmp = NULL;
		goto fail;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		goto fail;
	while (off < len) {
		n = write(fd, s + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		off += (size_t)n;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, c->path) == -1)
		goto fail;
	free(tmp);
	atomic_fetch_add(&c->writes, 1);
	c->last_errno = 0;
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	atomic_fetch_add(&c->write_errors, 1);
	if (saved != c->last_errno) {
		errno = saved;
		log_warn("schema cache %s: cannot write", c->path);
		c->last_errno = saved;
	}
	return -1;
}

int
cache_store(struct cache *c, const struct config_server *cs,
    json_object *tools)
{
	json_object	*e;
	char		 fp[65];

	cache_fingerprint(cs, fp);
	e = json_object_new_object();
	json_object_object_add(e, "fingerprint", json_object_new_string(fp));
	json_object_object_add(e, "fetchedAt",
	    json_object_new_int64((int64_t)time(NULL)));
	/* A deep copy: the caller's tree stays the caller's. */
	{
		json_object *copy = NULL;

		if (json_object_deep_copy(tools, &copy, NULL) != 0) {
			json_object_put(e);
			return -1;
		}
		json_object_object_add(e, "tools", copy);
	}
	json_object_object_add(c->servers, cs->name, e);
	return cache_write(c);
}

json_object *
cache_stats(struct cache *c)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "path", json_object_new_string(c->path));
	json_object_object_add(o, "hits",
	    json_object_new_int64(atomic_load(&c->hits)));
	json_object_object_add(o, "misses",
	    json_object_new_int64(atomic_load(&c->misses)));
	json_object_object_add(o, "writes",
	    json_object_new_int64(atomic_load(&c->writes)));
	json_object_object_add(o, "writeErrors",
	    json_object_new_int64(atomic_load(&c->write_errors)));
	return o;
}
