/*
 * cache.c: tool lists persisted to one JSON file:
 *   {"version":1,"servers":{"<name>":{"fingerprint":"<sha256>",
 *    "fetchedAt":<unix seconds>,"tools":[...]}}}
 * An entry is used only by a server whose command, args, env and cwd are
 * still the ones it was listed with.
 *
 * In memory each entry keeps its tools array as JSON text (no json-c tree
 * is shared between threads). cache_store() replaces an entry under the
 * mutex and says whether a write is due; cache_flush() writes the whole
 * file when something changed since the last write: a temporary file in
 * the same directory, fsync, rename, so a crash leaves either the old file
 * or the new one. Writers are serialised by a second mutex, so the data
 * lock is never held across disk I/O.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "config.h"
#include "log.h"
#include "sha256.h"

#define CACHE_VERSION		1
#define CACHE_MAX_BYTES		(64 * 1024 * 1024)

struct cache_entry {
	char		*name;
	char		 fp[65];
	int64_t		 fetched_at;
	char		*tools;		/* the tools array, one line */
	size_t		 len;
};

struct cache {
	char			*path;
	pthread_mutex_t		 mtx;		/* entries, dirty, pending */
	pthread_mutex_t		 wmtx;		/* one writer at a time */
	struct cache_entry	*entries;
	size_t			 nentries;
	int			 dirty;		/* changed since the last write */
	int			 pending;	/* a flush is scheduled */
	int			 last_errno;	/* log each write error once */
	atomic_long		 hits;
	atomic_long		 misses;
	atomic_long		 writes;
	atomic_long		 write_errors;
};

static json_object	*cache_read(const char *);
static int		 cache_load(struct cache *, json_object *);
static struct cache_entry *cache_entry(struct cache *, const char *);
static char		*cache_text(struct cache *, size_t *);
static int		 cache_write(struct cache *, const char *, size_t);

void
cache_fingerprint(const struct config_server *cs, char out[65])
{
	struct sha256	ctx;
	unsigned char	md[SHA256_LEN];
	const char	*kind;
	size_t		i;

	sha256_init(&ctx);
	/* Each field with its NUL, so "ab","c" differs from "a","bc". */
	if (cs->url != NULL) {
		/* A remote server: its transport and URL (no header
		 * values: they hold secrets). */
		kind = cs->transport == CONFIG_TRANSPORT_SSE ? "sse" : "http";
		sha256_update(&ctx, kind, strlen(kind) + 1);
		sha256_update(&ctx, cs->url, strlen(cs->url) + 1);
	} else {
		sha256_update(&ctx, "cmd", 4);
		sha256_update(&ctx, cs->command, strlen(cs->command) + 1);
	}
	for (i = 0; i < cs->nargs; i++) {
		sha256_update(&ctx, "arg", 4);
		sha256_update(&ctx, cs->args[i], strlen(cs->args[i]) + 1);
	}
	for (i = 0; i < cs->nenv; i++) {
		sha256_update(&ctx, "env", 4);
		sha256_update(&ctx, cs->env[i].key, strlen(cs->env[i].key) + 1);
		sha256_update(&ctx, cs->env[i].value,
		    strlen(cs->env[i].value) + 1);
	}
	if (cs->cwd != NULL) {
		sha256_update(&ctx, "cwd", 4);
		sha256_update(&ctx, cs->cwd, strlen(cs->cwd) + 1);
	}
	sha256_final(&ctx, md);
	for (i = 0; i < SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
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
	json_object	*root;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	pthread_mutex_init(&c->mtx, NULL);
	pthread_mutex_init(&c->wmtx, NULL);
	if ((c->path = strdup(path)) == NULL) {
		cache_free(c);
		return NULL;
	}
	if ((root = cache_read(path)) != NULL && cache_load(c, root) == -1) {
		json_object_put(root);
		cache_free(c);
		return NULL;
	}
	json_object_put(root);
	return c;
}

/* The entries of a file read at start, each tools array as text. */
static int
cache_load(struct cache *c, json_object *root)
{
	json_object		*servers, *v, *tools;
	struct cache_entry	*e;
	const char		*s;
	size_t			 n = 0;

	json_object_object_get_ex(root, "servers", &servers);
	if ((c->entries = calloc((size_t)json_object_object_length(servers) +
	    1, sizeof(*c->entries))) == NULL)
		return -1;
	json_object_object_foreach(servers, name, ent) {
		if (!json_object_is_type(ent, json_type_object) ||
		    !json_object_object_get_ex(ent, "fingerprint", &v) ||
		    json_object_get_string_len(v) != 64 ||
		    !json_object_object_get_ex(ent, "tools", &tools) ||
		    !json_object_is_type(tools, json_type_array))
			continue;
		e = &c->entries[n];
		memcpy(e->fp, json_object_get_string(v), 65);
		if (json_object_object_get_ex(ent, "fetchedAt", &v))
			e->fetched_at = json_object_get_int64(v);
		s = json_object_to_json_string_length(tools,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    &e->len);
		if ((e->name = strdup(name)) == NULL ||
		    (e->tools = strndup(s, e->len)) == NULL) {
			free(e->name);
			return -1;
		}
		n++;
	}
	c->nentries = n;
	return 0;
}

void
cache_free(struct cache *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nentries; i++) {
		free(c->entries[i].name);
		free(c->entries[i].tools);
	}
	free(c->entries);
	pthread_mutex_destroy(&c->mtx);
	pthread_mutex_destroy(&c->wmtx);
	free(c->path);
	free(c);
}

/* mtx held. */
static struct cache_entry *
cache_entry(struct cache *c, const char *name)
{
	size_t	i;

	for (i = 0; i < c->nentries; i++)
		if (strcmp(c->entries[i].name, name) == 0)
			return &c->entries[i];
	return NULL;
}

json_object *
cache_lookup(struct cache *c, const struct config_server *cs, double *age_s)
{
	struct cache_entry	*e;
	json_object		*tools = NULL;
	char			 fp[65];

	*age_s = 0;
	cache_fingerprint(cs, fp);
	pthread_mutex_lock(&c->mtx);
	if ((e = cache_entry(c, cs->name)) != NULL &&
	    strcmp(e->fp, fp) == 0) {
		tools = json_tokener_parse(e->tools);
		*age_s = difftime(time(NULL), (time_t)e->fetched_at);
	}
	pthread_mutex_unlock(&c->mtx);
	if (tools == NULL || !json_object_is_type(tools, json_type_array)) {
		json_object_put(tools);
		atomic_fetch_add(&c->misses, 1);
		return NULL;
	}
	atomic_fetch_add(&c->hits, 1);
	return tools;
}

int
cache_store(struct cache *c, const struct config_server *cs,
    const char *tools, size_t len)
{
	struct cache_entry	*e, *ne;
	char			 fp[65], *copy;
	int			 schedule = 0;

	cache_fingerprint(cs, fp);
	if ((copy = strndup(tools, len)) == NULL)
		return 0;
	pthread_mutex_lock(&c->mtx);
	if ((e = cache_entry(c, cs->name)) == NULL) {
		ne = realloc(c->entries, (c->nentries + 1) * sizeof(*ne));
		if (ne == NULL || (ne[c->nentries].name =
		    strdup(cs->name)) == NULL) {
			if (ne != NULL)
				c->entries = ne;
			pthread_mutex_unlock(&c->mtx);
			free(copy);
			return 0;
		}
		c->entries = ne;
		e = &c->entries[c->nentries++];
		e->tools = NULL;
		e->len = 0;
	} else if (strcmp(e->fp, fp) == 0 && e->len == len &&
	    memcmp(e->tools, tools, len) == 0) {
		/* The same list: nothing to write. */
		pthread_mutex_unlock(&c->mtx);
		free(copy);
		return 0;
	}
	free(e->tools);
	e->tools = copy;
	e->len = len;
	memcpy(e->fp, fp, sizeof(fp));
	e->fetched_at = (int64_t)time(NULL);
	c->dirty = 1;
	if (!c->pending)
		schedule = c->pending = 1;
	pthread_mutex_unlock(&c->mtx);
	return schedule;
}

/* mtx held: the whole file as text. */
static char *
cache_text(struct cache *c, size_t *len)
{
	char	*buf = NULL;
	size_t	 i;
	FILE	*fp;

	if ((fp = open_memstream(&buf, len)) == NULL)
		return NULL;
	fprintf(fp, "{\"version\":%d,\"servers\":{", CACHE_VERSION);
	for (i = 0; i < c->nentries; i++) {
		/* Server names are [A-Za-z0-9_-]: nothing to escape. */
		fprintf(fp, "%s\"%s\":{\"fingerprint\":\"%s\",\"fetchedAt\":%"
		    PRId64 ",\"tools\":", i > 0 ? "," : "", c->entries[i].name,
		    c->entries[i].fp, c->entries[i].fetched_at);
		fwrite(c->entries[i].tools, 1, c->entries[i].len, fp);
		fputc('}', fp);
	}
	fputs("}}\n", fp);
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int
cache_flush(struct cache *c)
{
	char	*text;
	size_t	 len;
	int	 rc;

	pthread_mutex_lock(&c->wmtx);
	pthread_mutex_lock(&c->mtx);
	c->pending = 0;
	if (!c->dirty) {
		pthread_mutex_unlock(&c->mtx);
		pthread_mutex_unlock(&c->wmtx);
		return 0;
	}
	c->dirty = 0;
	text = cache_text(c, &len);
	pthread_mutex_unlock(&c->mtx);
	rc = text != NULL ? cache_write(c, text, len) : -1;
	free(text);
	pthread_mutex_unlock(&c->wmtx);
	return rc;
}

/* wmtx held. */
static int
cache_write(struct cache *c, const char *s, size_t len)
{
	char		*tmp = NULL;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd = -1, saved;

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
	if (fsync(fd) == -1)
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

void
cache_counters(struct cache *c, struct cache_counters *n)
{
	n->hits = (long)atomic_load(&c->hits);
	n->misses = (long)atomic_load(&c->misses);
	n->writes = (long)atomic_load(&c->writes);
	n->write_errors = (long)atomic_load(&c->write_errors);
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
