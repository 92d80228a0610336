/*
 * defaults.c: see defaults.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "defaults.h"
#include "log.h"

#define DEFAULTS_CACHE_FILE	"schema-cache.json"

/* The first directory of a colon-separated list in an environment
 * variable (systemd's *_DIRECTORY), into buf; 0, or -1 when unset. */
static int
defaults_env_dir(const char *var, char *buf, size_t len)
{
	const char	*v = getenv(var);
	size_t		 n;

	if (v == NULL || v[0] != '/')
		return -1;
	n = strcspn(v, ":");
	if (n >= len)
		return -1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return 0;
}

/* mkdir -p of an absolute path with mode 0700 for what it makes. */
static int
defaults_mkdirs(char *path)
{
	char	*p;

	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir(path, 0700) == -1 && errno != EEXIST ? -1 : 0;
}

/* The user's cache directory for us, made if missing; 0 or -1. */
static int
defaults_user_cache(char *buf, size_t len)
{
	const char	*xdg = getenv("XDG_CACHE_HOME");
	const char	*home = getenv("HOME");
	int		 n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, len, "%s/mcp-proxyd", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(buf, len, "%s/.cache/mcp-proxyd", home);
	else
		return -1;
	if (n < 0 || (size_t)n >= len)
		return -1;
	return defaults_mkdirs(buf);
}

void
defaults_cache_path(const char *installed, char *buf, size_t len)
{
	char	dir[DEFAULTS_PATH_MAX];
	char	*slash;

	if (defaults_env_dir("STATE_DIRECTORY", dir, sizeof(dir)) == 0 &&
	    snprintf(buf, len, "%s/%s", dir, DEFAULTS_CACHE_FILE) <
	    (int)len) {
		log_info("schema cache %s (the service's StateDirectory)",
		    buf);
		return;
	}
	snprintf(buf, len, "%s", installed);
	snprintf(dir, sizeof(dir), "%s", installed);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (access(dir, W_OK | X_OK) == 0) {
		log_info("schema cache %s", buf);
		return;
	}
	if (defaults_user_cache(dir, sizeof(dir)) == 0 &&
	    snprintf(buf, len, "%s/%s", dir, DEFAULTS_CACHE_FILE) <
	    (int)len) {
		log_info("schema cache %s (the installed default %s is not "
		    "writable here)", buf, installed);
		return;
	}
	snprintf(buf, len, "%s", installed);
	log_info("schema cache %s (not writable, and there is no user cache "
	    "directory: tool lists will not be kept)", buf);
}

int
defaults_token_path(char *buf, size_t len)
{
	char	dir[DEFAULTS_PATH_MAX];

	if (defaults_env_dir("RUNTIME_DIRECTORY", dir, sizeof(dir)) == -1)
		return -1;
	if (snprintf(buf, len, "%s/token", dir) >= (int)len)
		return -1;
	return 0;
}

int
defaults_under_systemd(void)
{
	const char	*v = getenv("INVOCATION_ID");

	return v != NULL && *v != '\0';
}
