/*
 * config.h: the daemon's configuration, loaded from one JSON file.
 *
 * config_load() returns a struct config that owns every string and array in
 * it (plain C, no json-c objects), so it may be read from any thread once
 * built. It is immutable after load; config_free() releases it. On error
 * config_load() returns NULL and writes one message into err that names the
 * file, the key (as a JSON path such as mcpServers.demo.args[1]) and what is
 * wrong.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <sys/types.h>

#include <stddef.h>

#define CONFIG_ERR_MAX	1024

struct config_kv {
	char	*key;
	char	*value;
};

struct config_tool_timeout {
	char	*tool;			/* tool name as the server knows it */
	int	 timeout_ms;
};

/* A circuit breaker's settings (breaker.h). */
struct config_breaker {
	int	enabled;		/* 0: every call passes */
	int	failures;		/* failed calls in a row that open it */
	int	open_ms;		/* first open time; doubled after each
					   failed trial, up to
					   CONFIG_BREAKER_MAX_OPEN_FACTOR
					   times this */
};

/* How a server is reached. */
enum config_transport {
	CONFIG_TRANSPORT_STDIO = 0,	/* a child process (command) */
	CONFIG_TRANSPORT_HTTP,		/* Streamable HTTP (url) */
	CONFIG_TRANSPORT_SSE		/* the 2024-11-05 HTTP+SSE (url) */
};

/* A remote server's TLS settings (https URLs only). */
struct config_tls {
	char	*ca_file;		/* NULL: the system's store */
	char	*cert_file;		/* client certificate (mTLS) */
	char	*key_file;		/* its key; both or neither */
	int	 insecure;		/* insecureSkipVerify */
};

struct config_server {
	char			 *name;		/* [A-Za-z0-9_-]+, no "__" */
	enum config_transport	  transport;
	char			 *command;	/* stdio only */
	char			**args;		/* NULL terminated */
	size_t			  nargs;
	struct config_kv	 *env;
	size_t			  nenv;
	char			 *cwd;		/* NULL: the daemon's cwd */
	int			  inherit_env;	/* 1: whole daemon environment */
	int			  timeout_ms;	/* per call, default 60000 */
	struct config_tool_timeout *tool_timeouts;
	size_t			  ntool_timeouts;
	int			  max_concurrent; /* per instance, default 64 */
	int			  max_queued;	/* calls waiting, default 1024 */
	size_t			  max_buffered_bytes; /* toward one child's
						   stdin; default 2 x
						   maxBodyBytes, >= 16 MiB */
	int			  instances;	/* default 1 */
	int			  disabled;	/* 1: configured but not started */
	int			  unresponsive_ms; /* silence with calls pending
						   before a ping; 0: never;
						   default 2 x timeout_ms */
	int			  ping_timeout_ms; /* default 5000 */
	struct config_breaker	  breaker;	/* default 5 failures, 30 s */
	/* Remote servers (http, sse) only. */
	char			 *url;
	int			  tls;		/* 1: an https URL */
	struct config_kv	 *headers;	/* ${VAR} expanded, then the
						   headersFile's added */
	size_t			  nheaders;
	char			 *headers_file;
	struct config_tls	  tls_opts;
};

struct config_rate {
	int	requests;	/* 0: no limit */
	int	window_s;
};

struct config {
	char			*path;		/* file it was read from */
	char		       **listen;	/* "host:port" or "unix:/path" */
	size_t			 nlisten;	/* 0: the default */
	int			 socket_mode;	/* chmod of Unix sockets; 0660 */
	char			*socket_group;	/* NULL: the daemon's group */
	gid_t			 socket_gid;	/* (gid_t)-1 without socketGroup */
	char			*auth_token_file; /* NULL: random token */
	char			*audit_log;	/* NULL: stderr */
	char		       **allowed_tools;	/* exact names and * globs */
	size_t			 nallowed_tools;
	int			 workers;	/* 0: online cores, at least 2 */
	int			 queue_size;	/* default 1024 */
	int			 drain_timeout_ms;	/* default 5000 */
	size_t			 max_body_bytes;	/* default 8 MiB */
	size_t			 max_header_bytes;	/* default 16 KiB */
	int			 max_connections;	/* default 1024 */
	int			 idle_timeout_ms;	/* default 60000 */
	int			 header_timeout_ms;	/* default 10000 */
	int			 body_timeout_ms;	/* default 30000 */
	size_t			 max_message_bytes;	/* default 16 MiB */
	int			 start_timeout_ms;	/* default 30000 */
	int			 discovery_timeout_ms;	/* default 500 */
	int			 discovery_respects_allowlist;	/* default 0 */
	struct config_rate	 rate_discovery;	/* default 30 per 60 s */
	struct config_rate	 rate_execute;		/* default off */
	char			*schema_cache_path;	/* NULL: default path */
	int			 schema_cache_ttl_s;	/* default 86400 */
	int			 max_sessions;		/* default 10000 */
	int			 unresponsive_ms;	/* the servers' default;
							   -1: 2 x timeoutMs */
	int			 ping_timeout_ms;	/* default 5000 */
	struct config_breaker	 breaker;		/* every server's
							   default */
	struct config_server	*servers;
	size_t			 nservers;
	char		       **warnings;	/* NULL terminated: keys that are
						   accepted but obsolete */
};

/* Defaults used when a key is absent. */
#define CONFIG_DEFAULT_QUEUE_SIZE		1024
#define CONFIG_DEFAULT_DRAIN_TIMEOUT_MS		5000
#define CONFIG_DEFAULT_MAX_BODY_BYTES		(8u * 1024 * 1024)
#define CONFIG_DEFAULT_MAX_HEADER_BYTES		(16u * 1024)
#define CONFIG_DEFAULT_MAX_CONNECTIONS		1024
#define CONFIG_DEFAULT_SOCKET_MODE		0660
#define CONFIG_LISTEN_MAX			16	/* listen entries */
#define CONFIG_DEFAULT_LISTEN	"127.0.0.1:0"	/* without listen and -l */
#define CONFIG_DEFAULT_IDLE_TIMEOUT_MS		60000
#define CONFIG_DEFAULT_HEADER_TIMEOUT_MS	10000
#define CONFIG_DEFAULT_BODY_TIMEOUT_MS		30000
#define CONFIG_DEFAULT_MAX_MESSAGE_BYTES	(16u * 1024 * 1024)
#define CONFIG_DEFAULT_START_TIMEOUT_MS		30000
#define CONFIG_DEFAULT_DISCOVERY_TIMEOUT_MS	500
#define CONFIG_DEFAULT_SERVER_TIMEOUT_MS	60000
#define CONFIG_DEFAULT_MAX_CONCURRENT		64
#define CONFIG_DEFAULT_MAX_QUEUED		1024
#define CONFIG_MIN_MAX_BUFFERED_BYTES		(16u * 1024 * 1024)
#define CONFIG_DEFAULT_SCHEMA_CACHE_TTL_S	86400
#define CONFIG_DEFAULT_MAX_SESSIONS		10000
#define CONFIG_DEFAULT_PING_TIMEOUT_MS		5000
#define CONFIG_DEFAULT_BREAKER_FAILURES		5
#define CONFIG_DEFAULT_BREAKER_OPEN_MS		30000
#define CONFIG_BREAKER_MAX_OPEN_FACTOR		10

/* One listen address, "host:port" (host an IPv4 literal, an IPv6 literal
 * in brackets or localhost) or "unix:/absolute/path" (short enough for
 * sun_path): NULL when valid, else why not. For -l too. */
const char	*config_listen_check(const char *);

/* Parse and validate; NULL with a message in err (CONFIG_ERR_MAX bytes). */
struct config	*config_load(const char *path, char *err, size_t errlen);
/* The same from a string (for tests); name is used in messages. */
struct config	*config_parse(const char *text, const char *name, char *err,
		    size_t errlen);
void		 config_free(struct config *);
/* Timeout for one tool of one server (tool_timeouts, else timeout_ms). */
int		 config_tool_timeout(const struct config_server *,
		    const char *tool);

#endif
