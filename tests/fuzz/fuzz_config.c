/*
 * fuzz_config.c: libFuzzer target for the configuration parser
 * (config_parse() in config.c), the file every daemon reads first.
 *
 * The input, up to its first NUL, is a configuration file. The parser must
 * either refuse it with one message that names the file, or accept it with
 * every server named by the grammar of toolname.h and a command; parsing
 * the same text again must give the same verdict. Any difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "toolname.h"

#define FUZZ_CONFIG_MAX_INPUT	(64 * 1024)
#define FUZZ_CONFIG_ERR_MAX	4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_config_fail(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_config: %s\nconfig: %.500s\n", what, text);
	abort();
}

static void
fuzz_config_check(const struct config *cf, const char *text)
{
	size_t	i;

	for (i = 0; i < cf->nservers; i++) {
		if (!toolname_server_ok(cf->servers[i].name))
			fuzz_config_fail("a server name outside the grammar",
			    text);
		if (cf->servers[i].command == NULL ||
		    cf->servers[i].command[0] == '\0')
			fuzz_config_fail("a server without a command", text);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*a, *b;
	char		*text, err[FUZZ_CONFIG_ERR_MAX], err2[FUZZ_CONFIG_ERR_MAX];

	if (size > FUZZ_CONFIG_MAX_INPUT)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	err[0] = err2[0] = '\0';
	a = config_parse(text, "fuzz.json", err, sizeof(err));
	b = config_parse(text, "fuzz.json", err2, sizeof(err2));
	if ((a == NULL) != (b == NULL) || (a == NULL && strcmp(err, err2) != 0))
		fuzz_config_fail("two verdicts for one text", text);
	if (a == NULL && strncmp(err, "fuzz.json", 9) != 0)
		fuzz_config_fail("a refusal that does not name the file", text);
	if (a != NULL)
		fuzz_config_check(a, text);
	config_free(a);
	config_free(b);
	free(text);
	return 0;
}
