/*
 * tls.c: client TLS contexts and connections for remote servers; see
 * tls.h.
 */

#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "config.h"
#include "tls.h"

static void	tls_ssl_error(char *, size_t, const char *, const char *);

/* err: what failed and OpenSSL's first queued reason. */
static void
tls_ssl_error(char *err, size_t errlen, const char *what, const char *file)
{
	char	reason[256];

	ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
	snprintf(err, errlen, "%s%s%s: %s", what, file != NULL ? " " : "",
	    file != NULL ? file : "", reason);
	ERR_clear_error();
}

SSL_CTX *
tls_ctx_new(const struct config_tls *t, char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_ssl_error(err, errlen, "cannot make a TLS context", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(ctx, t->insecure ? SSL_VERIFY_NONE :
	    SSL_VERIFY_PEER, NULL);
	if (t->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, t->ca_file,
		    NULL) != 1) {
			tls_ssl_error(err, errlen, "cannot load caFile",
			    t->ca_file);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_ssl_error(err, errlen, "cannot load the system's "
		    "certificate store", NULL);
		goto fail;
	}
	if (t->cert_file != NULL && (SSL_CTX_use_certificate_chain_file(ctx,
	    t->cert_file) != 1 || SSL_CTX_use_PrivateKey_file(ctx, t->key_file,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)) {
		tls_ssl_error(err, errlen, "cannot load the client certificate",
		    t->cert_file);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

SSL *
tls_new(SSL_CTX *ctx, const char *host, int insecure)
{
	unsigned char	 addr[16];
	SSL		*ssl;
	int		 ip;

	if ((ssl = SSL_new(ctx)) == NULL)
		return NULL;
	ip = inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1;
	if (!ip && SSL_set_tlsext_host_name(ssl, host) != 1)
		goto fail;
	if (insecure)
		return ssl;
	if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
	    host) != 1 : SSL_set1_host(ssl, host) != 1)
		goto fail;
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

void
tls_error(struct bufferevent *bev, char *buf, size_t len)
{
	SSL		*ssl;
	unsigned long	 e;
	long		 vr;
	char		 reason[256];

	buf[0] = '\0';
	if (bev == NULL || (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return;
	if ((vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(buf, len, "TLS certificate verification failed: %s",
		    X509_verify_cert_error_string(vr));
		return;
	}
	if ((e = bufferevent_get_openssl_error(bev)) != 0) {
		ERR_error_string_n(e, reason, sizeof(reason));
		snprintf(buf, len, "TLS failed: %s", reason);
	}
	while (bufferevent_get_openssl_error(bev) != 0)
		;
}
