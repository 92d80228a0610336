/*
 * tls.h: the OpenSSL side of a remote server's connections: a client
 * SSL_CTX built from a server's tls settings (TLS 1.2 or later,
 * verification against the system store or caFile, an optional client
 * certificate), one SSL per connection with SNI and host name checking,
 * and the reason a handshake failed.
 *
 * OpenSSL is touched only through tls_ctx_new(), which remote.c calls
 * for https URLs only: libssl, libcrypto and libevent_openssl are
 * opened (dlopen) then, so a daemon without https servers never maps
 * them (that alone costs 1.8 MiB of RSS) nor initialises them.
 * A context is made at start on the main thread (server.c), one per
 * https server, and shared by its instances' workers (SSL_new() and
 * handshakes are thread-safe on a context OpenSSL does not change).
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>

struct config_tls;
struct ssl_ctx_st;
struct bufferevent;
struct event_base;

/* NULL with a message in err. */
struct ssl_ctx_st	*tls_ctx_new(const struct config_tls *, char *err,
			    size_t errlen);
void			 tls_ctx_free(struct ssl_ctx_st *);
/* A connecting OpenSSL bufferevent (options as for
 * bufferevent_socket_new()) to host (a name or an IP literal): SNI for
 * a name, and the certificate checked against host unless insecure. */
struct bufferevent	*tls_bufferevent_new(struct event_base *,
			    struct ssl_ctx_st *, const char *host,
			    int insecure, int options);
/* Why the TLS connection of bev failed, into buf; "" when it was not
 * TLS that failed. */
void			 tls_error(struct bufferevent *, char *buf,
			    size_t len);

#endif
