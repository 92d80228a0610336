/*
 * tls.c: client TLS contexts and connections for remote servers; see
 * tls.h.
 *
 * libssl, libcrypto and libevent_openssl are not linked: they are
 * opened with dlopen() the first time a context is made (an https
 * server starts). Only mapping them costs 1.8 MiB of RSS (libcrypto's
 * relocations), which a daemon without https servers does not pay.
 * Their sonames come from configure. The calls go through api, filled
 * once (pthread_once: workers may make contexts at the same time).
 */

#include <sys/stat.h>

#include <arpa/inet.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "config.h"
#include "tls.h"

#define TLS_FN(name)	__typeof__(name)	*name

/* Every OpenSSL and libevent_openssl function we call. */
static struct {
	TLS_FN(TLS_client_method);
	TLS_FN(SSL_CTX_new);
	TLS_FN(SSL_CTX_free);
	TLS_FN(SSL_CTX_ctrl);
	TLS_FN(SSL_CTX_set_verify);
	TLS_FN(SSL_CTX_load_verify_locations);
	TLS_FN(SSL_CTX_set_default_verify_paths);
	TLS_FN(SSL_CTX_use_certificate_chain_file);
	TLS_FN(SSL_CTX_use_PrivateKey_file);
	TLS_FN(SSL_CTX_check_private_key);
	TLS_FN(SSL_new);
	TLS_FN(SSL_free);
	TLS_FN(SSL_ctrl);
	TLS_FN(SSL_get0_param);
	TLS_FN(SSL_set1_host);
	TLS_FN(SSL_get_verify_result);
	TLS_FN(ERR_get_error);
	TLS_FN(ERR_error_string_n);
	TLS_FN(ERR_clear_error);
	TLS_FN(X509_VERIFY_PARAM_set1_ip_asc);
	TLS_FN(X509_verify_cert_error_string);
	TLS_FN(X509_get_default_cert_file);
	TLS_FN(bufferevent_openssl_socket_new);
	TLS_FN(bufferevent_openssl_set_allow_dirty_shutdown);
	TLS_FN(bufferevent_openssl_get_ssl);
	TLS_FN(bufferevent_get_openssl_error);
} api;

static pthread_once_t	 tls_once = PTHREAD_ONCE_INIT;
static char		 tls_load_error[256] = "not loaded"; /* "": loaded */

static void	tls_load(void);
static int	tls_sym(void *, const char *, const char *, void *);
static void	tls_ssl_error(char *, size_t, const char *, const char *);
static SSL	*tls_new(SSL_CTX *, const char *, int);
static int	 tls_system_store(SSL_CTX *);

/* dlsym into *slot (a function pointer); 0, or -1 with the error. */
static int
tls_sym(void *lib, const char *soname, const char *name, void *slot)
{
	void	*p;

	if ((p = dlsym(lib, name)) == NULL) {
		snprintf(tls_load_error, sizeof(tls_load_error), "%s has no "
		    "%s", soname, name);
		return -1;
	}
	memcpy(slot, &p, sizeof(p));
	return 0;
}

#define TLS_SYM(lib, so, f)	(tls_sym(lib, so, #f, &api.f) == -1)

static void
tls_load(void)
{
	void	*ssl, *crypto, *ev;

	if ((crypto = dlopen(TLS_LIBCRYPTO, RTLD_NOW)) == NULL ||
	    (ssl = dlopen(TLS_LIBSSL, RTLD_NOW)) == NULL ||
	    (ev = dlopen(TLS_LIBEVENT_OPENSSL, RTLD_NOW)) == NULL) {
		snprintf(tls_load_error, sizeof(tls_load_error), "%s",
		    dlerror());
		return;
	}
	if (TLS_SYM(ssl, TLS_LIBSSL, TLS_client_method) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_CTX_new) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_CTX_free) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_CTX_ctrl) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_CTX_set_verify) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_CTX_load_verify_locations) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_CTX_set_default_verify_paths) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_CTX_use_certificate_chain_file) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_CTX_use_PrivateKey_file) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_CTX_check_private_key) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_new) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_free) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_ctrl) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_get0_param) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_set1_host) ||
	    TLS_SYM(ssl, TLS_LIBSSL, SSL_get_verify_result) ||
	    TLS_SYM(crypto, TLS_LIBCRYPTO, ERR_get_error) ||
	    TLS_SYM(crypto, TLS_LIBCRYPTO, ERR_error_string_n) ||
	    TLS_SYM(crypto, TLS_LIBCRYPTO, ERR_clear_error) ||
	    TLS_SYM(crypto, TLS_LIBCRYPTO, X509_VERIFY_PARAM_set1_ip_asc) ||
	    TLS_SYM(crypto, TLS_LIBCRYPTO, X509_verify_cert_error_string) ||
	    TLS_SYM(crypto, TLS_LIBCRYPTO, X509_get_default_cert_file) ||
	    TLS_SYM(ev, TLS_LIBEVENT_OPENSSL, bufferevent_openssl_socket_new) ||
	    TLS_SYM(ev, TLS_LIBEVENT_OPENSSL,
	    bufferevent_openssl_set_allow_dirty_shutdown) ||
	    TLS_SYM(ev, TLS_LIBEVENT_OPENSSL, bufferevent_openssl_get_ssl) ||
	    TLS_SYM(ev, TLS_LIBEVENT_OPENSSL, bufferevent_get_openssl_error))
		return;
	tls_load_error[0] = '\0';
}

/* err: what failed and OpenSSL's first queued reason. */
static void
tls_ssl_error(char *err, size_t errlen, const char *what, const char *file)
{
	char	reason[256];

	api.ERR_error_string_n(api.ERR_get_error(), reason, sizeof(reason));
	snprintf(err, errlen, "%s%s%s: %s", what, file != NULL ? " " : "",
	    file != NULL ? file : "", reason);
	api.ERR_clear_error();
}

SSL_CTX *
tls_ctx_new(const struct config_tls *t, char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	pthread_once(&tls_once, tls_load);
	if (tls_load_error[0] != '\0') {
		snprintf(err, errlen, "cannot load OpenSSL: %s",
		    tls_load_error);
		return NULL;
	}
	if ((ctx = api.SSL_CTX_new(api.TLS_client_method())) == NULL) {
		tls_ssl_error(err, errlen, "cannot make a TLS context", NULL);
		return NULL;
	}
	api.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION,
	    NULL);
	api.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, SSL_MODE_RELEASE_BUFFERS, NULL);
	api.SSL_CTX_set_verify(ctx, t->insecure ? SSL_VERIFY_NONE :
	    SSL_VERIFY_PEER, NULL);
	if (t->ca_file != NULL) {
		if (api.SSL_CTX_load_verify_locations(ctx, t->ca_file,
		    NULL) != 1) {
			tls_ssl_error(err, errlen, "cannot load caFile",
			    t->ca_file);
			goto fail;
		}
	} else if (tls_system_store(ctx) == -1) {
		tls_ssl_error(err, errlen, "cannot load the system's "
		    "certificate store", NULL);
		goto fail;
	}
	if (t->cert_file != NULL && (api.SSL_CTX_use_certificate_chain_file(
	    ctx, t->cert_file) != 1 || api.SSL_CTX_use_PrivateKey_file(ctx,
	    t->key_file, SSL_FILETYPE_PEM) != 1 ||
	    api.SSL_CTX_check_private_key(ctx) != 1)) {
		tls_ssl_error(err, errlen, "cannot load the client certificate",
		    t->cert_file);
		goto fail;
	}
	return ctx;
fail:
	api.SSL_CTX_free(ctx);
	return NULL;
}

/*
 * The system's store, read whole now: OpenSSL's default paths also look
 * certificates up in a directory during handshakes, which would open
 * descriptors on the workers (whose numbers the loop thread's epoll
 * changelist may still hold). The default paths only when the bundle
 * is missing or SSL_CERT_FILE or SSL_CERT_DIR name others.
 */
static int
tls_system_store(SSL_CTX *ctx)
{
	struct stat	 st;
	const char	*file;

	if (getenv("SSL_CERT_FILE") == NULL && getenv("SSL_CERT_DIR") ==
	    NULL && (file = api.X509_get_default_cert_file()) != NULL &&
	    stat(file, &st) == 0 && S_ISREG(st.st_mode))
		return api.SSL_CTX_load_verify_locations(ctx, file,
		    NULL) == 1 ? 0 : -1;
	return api.SSL_CTX_set_default_verify_paths(ctx) == 1 ? 0 : -1;
}

void
tls_ctx_free(SSL_CTX *ctx)
{
	if (ctx != NULL)
		api.SSL_CTX_free(ctx);
}

/* An SSL for host: SNI for a name, the name or IP checked. */
static SSL *
tls_new(SSL_CTX *ctx, const char *host, int insecure)
{
	unsigned char	 addr[16];
	SSL		*ssl;
	int		 ip;

	if ((ssl = api.SSL_new(ctx)) == NULL)
		return NULL;
	ip = inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1;
	if (!ip && api.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
	    TLSEXT_NAMETYPE_host_name, (void *)(uintptr_t)host) != 1)
		goto fail;
	if (insecure)
		return ssl;
	if (ip ? api.X509_VERIFY_PARAM_set1_ip_asc(api.SSL_get0_param(ssl),
	    host) != 1 : api.SSL_set1_host(ssl, host) != 1)
		goto fail;
	return ssl;
fail:
	api.SSL_free(ssl);
	return NULL;
}

struct bufferevent *
tls_bufferevent_new(struct event_base *base, SSL_CTX *ctx, const char *host,
    int insecure, int options)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	if ((ssl = tls_new(ctx, host, insecure)) == NULL)
		return NULL;
	if ((bev = api.bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, options)) == NULL) {
		api.SSL_free(ssl);
		return NULL;
	}
	/* Servers that close without close_notify are common. */
	api.bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

void
tls_error(struct bufferevent *bev, char *buf, size_t len)
{
	SSL		*ssl;
	unsigned long	 e;
	long		 vr;
	char		 reason[256];

	buf[0] = '\0';
	if (bev == NULL || api.bufferevent_openssl_get_ssl == NULL ||
	    (ssl = api.bufferevent_openssl_get_ssl(bev)) == NULL)
		return;
	if ((vr = api.SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(buf, len, "TLS certificate verification failed: %s",
		    api.X509_verify_cert_error_string(vr));
		return;
	}
	if ((e = api.bufferevent_get_openssl_error(bev)) != 0) {
		api.ERR_error_string_n(e, reason, sizeof(reason));
		snprintf(buf, len, "TLS failed: %s", reason);
	}
	while (api.bufferevent_get_openssl_error(bev) != 0)
		;
}
