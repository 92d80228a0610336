/*
 * fuzz_cache.c: libFuzzer target for the schema cache file loader
 * (cache_open() in cache.c), which reads a file the daemon wrote but that
 * anything with access to the disk may have changed.
 *
 * The input is the file. Loading it must never fail or crash (a corrupt
 * file is logged and the cache starts empty); a lookup for the server
 * "demo" gives nothing or a JSON array of tools. Any other outcome aborts.
 * Run with -close_fd_mask=2 (tests/fuzz/run.sh does): the loader logs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cache.h"
#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	fuzz_cache_path[] = "/tmp/fuzz_cache.XXXXXX";

static struct config *
fuzz_cache_config(void)
{
	struct config	*cf;
	char		 err[1024];
	int		 fd;

	if ((fd = mkstemp(fuzz_cache_path)) == -1)
		abort();
	close(fd);
	cf = config_parse("{\"mcpServers\": {\"demo\": {\"command\": "
	    "\"/usr/local/libexec/mcp-proxyd/mcp-demo-server\"}}}", "fuzz",
	    err, sizeof(err));
	if (cf == NULL)
		abort();
	return cf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config	*cf;
	struct cache		*c;
	json_object		*tools, *stats;
	FILE			*f;
	double			 age;

	if (cf == NULL)
		cf = fuzz_cache_config();
	if ((f = fopen(fuzz_cache_path, "w")) == NULL ||
	    fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	if ((c = cache_open(fuzz_cache_path)) == NULL)
		abort();
	tools = cache_lookup(c, &cf->servers[0], &age);
	if (tools != NULL && !json_object_is_type(tools, json_type_array)) {
		fprintf(stderr, "fuzz_cache: a lookup gave %s\n",
		    json_object_to_json_string(tools));
		abort();
	}
	json_object_put(tools);
	if ((stats = cache_stats(c)) == NULL)
		abort();
	json_object_put(stats);
	cache_free(c);
	return 0;
}
