/* transport.c — see mail.h: where a built message goes. Two transports:
 *
 *   file  one .eml file per message under mail_dir, named by its Message-ID
 *         and written atomically (temporary file, fsync, rename): make run's
 *         default, and a second write of the same message replaces the file.
 *   smtp  libcurl to a relay, one connection per message: smtps://, or
 *         smtp:// with STARTTLS required (CURLUSESSL_ALL), plain SMTP only to
 *         a literal loopback address and only when smtp_allow_plain_loopback
 *         says so; AUTH when smtp_user is set. The SMTP reply code decides:
 *         4xx and network trouble are temporary, 5xx permanent, except the
 *         replies that mean the relay wants AUTH or TLS first (530, 534, 535,
 *         538): those are the operator's to fix, not the message's fault, so
 *         the message waits (and retries) instead of dying.
 */
#include "mail/mail.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

enum transport_kind { T_FILE, T_SMTP };

struct mail_transport {
	enum transport_kind kind; /* which one */
	char *dir;                /* file: the directory */
	char *url;                /* smtp: smtp://host:port or smtps://host:port */
	char *user;               /* smtp: AUTH user or NULL */
	char *password;           /* smtp: AUTH password */
	char *ca_file;            /* smtp: CA bundle or NULL */
	bool plain;               /* smtp: no TLS (loopback relay, explicitly allowed) */
	long timeout_s;           /* smtp: one conversation */
	CURL *curl;               /* smtp: kept between messages to reuse the connection */
};

int mail_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : ERR_INTERNAL;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -1;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -1;
	struct stat st;
	return stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* 127.0.0.0/8 or ::1, written as a literal address: a name could resolve
 * anywhere. */
static bool loopback_literal(const char *host)
{
	if (!strcmp(host, "[::1]") || !strcmp(host, "::1"))
		return true;
	unsigned a, b, c, d;
	char extra;
	return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4 && a == 127 && b < 256 && c < 256 &&
	       d < 256;
}

static int smtp_check_url(const struct config *cfg, bool *plain, char *err, size_t errlen)
{
	int rc = ERR_CONFIG;
	char *scheme = NULL, *host = NULL;
	CURLU *u = curl_url();
	if (!u)
		core_oom();
	if (!cfg->smtp_url || !*cfg->smtp_url) {
		snprintf(err, errlen,
		         "mail_transport = smtp needs smtp_url (smtp://host:587 or smtps://host:465)");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, cfg->smtp_url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		snprintf(err, errlen, "smtp_url is not a URL like smtp://host:587");
		goto out;
	}
	if (strcmp(scheme, "smtp") && strcmp(scheme, "smtps")) {
		snprintf(err, errlen, "smtp_url must start with smtp:// or smtps://");
		goto out;
	}
	*plain = false;
	if (!strcmp(scheme, "smtp") && cfg->smtp_plain_loopback) {
		if (!loopback_literal(host)) {
			snprintf(
			    err, errlen,
			    "smtp_allow_plain_loopback allows plain SMTP only to a loopback address "
			    "(127.0.0.1 or [::1]); smtp_url names another host, so STARTTLS is required");
			goto out;
		}
		*plain = true;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int mail_transport_new(const struct config *cfg, struct mail_transport **out, char *err, size_t errlen)
{
	*out = NULL;
	struct mail_transport *t = xcalloc(1, sizeof(*t));
	if (!strcmp(cfg->mail_transport, "file")) {
		t->kind = T_FILE;
		if (!cfg->mail_dir || !*cfg->mail_dir || mkdir_p(cfg->mail_dir) != 0) {
			snprintf(err, errlen, "mail_dir %s cannot be created",
			         cfg->mail_dir ? cfg->mail_dir : "");
			free(t);
			return ERR_CONFIG;
		}
		t->dir = xstrdup(cfg->mail_dir);
		*out = t;
		return 0;
	}
	t->kind = T_SMTP;
	if (smtp_check_url(cfg, &t->plain, err, errlen) != 0) {
		free(t);
		return ERR_CONFIG;
	}
	t->url = xstrdup(cfg->smtp_url);
	if (cfg->smtp_user && *cfg->smtp_user) {
		t->user = xstrdup(cfg->smtp_user);
		t->password = xstrdup(cfg->smtp_password ? cfg->smtp_password : "");
	}
	if (cfg->smtp_ca_file && *cfg->smtp_ca_file)
		t->ca_file = xstrdup(cfg->smtp_ca_file);
	t->timeout_s = cfg->smtp_timeout_s;
	*out = t;
	return 0;
}

void mail_transport_free(struct mail_transport *t)
{
	if (!t)
		return;
	if (t->curl)
		curl_easy_cleanup(t->curl);
	free(t->dir);
	free(t->url);
	free(t->user);
	if (t->password) {
		memset(t->password, 0, strlen(t->password));
		free(t->password);
	}
	free(t->ca_file);
	free(t);
}

void mail_describe(const struct config *cfg, char *out, size_t outlen)
{
	if (!strcmp(cfg->mail_transport, "file")) {
		char abs[PATH_MAX];
		const char *dir = realpath(cfg->mail_dir, abs) ? abs : cfg->mail_dir;
		snprintf(out, outlen, "mail: not sent; each message is written as an .eml file to %s/", dir);
		return;
	}
	char *u = config_redact_url(cfg->smtp_url);
	bool tls = !strncmp(cfg->smtp_url, "smtps:", 6);
	snprintf(out, outlen, "mail: SMTP to %s (%s)", u,
	         tls                        ? "TLS"
	         : cfg->smtp_plain_loopback ? "plain SMTP to a loopback relay"
	                                    : "STARTTLS required");
	free(u);
}

/* ---- file ---------------------------------------------------------------- */

static enum mail_outcome file_send(struct mail_transport *t, const char *message_id, const char *msg,
                                   size_t len, char *why, size_t whylen)
{
	/* "<hex@domain>" → "hex.eml": the Message-ID's local part is ours. */
	size_t n = strcspn(message_id + 1, "@>");
	char path[PATH_MAX], tmp[PATH_MAX];
	if (n == 0 || n > 100 ||
	    snprintf(path, sizeof(path), "%s/%.*s.eml", t->dir, (int)n, message_id + 1) >=
	        (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%.*s.tmp", t->dir, (int)n, message_id + 1) >= (int)sizeof(tmp)) {
		snprintf(why, whylen, "file name too long");
		return MAIL_PERMANENT;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, msg + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(tmp);
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		goto fail;
	}
	int dfd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return MAIL_SENT;
fail:
	snprintf(why, whylen, "file write failed (errno %d)", errno);
	return MAIL_TEMPORARY;
}

/* ---- smtp ---------------------------------------------------------------- */

struct upload {
	const char *p; /* next byte to send */
	size_t left;   /* bytes left */
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nmemb;
	if (n > u->left)
		n = u->left;
	memcpy(dst, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

struct progress {
	const volatile bool *stop; /* the server is stopping */
	int64_t deadline_ms;       /* monotonic; the whole conversation ends by then */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Called about once a second while curl waits, in every phase. The
 * deadline matters after a timeout: curl then sends QUIT and would wait up
 * to two minutes for a stalled relay's answer, past CURLOPT_TIMEOUT. */
static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	UNUSED(dltotal);
	UNUSED(dlnow);
	UNUSED(ultotal);
	UNUSED(ulnow);
	const struct progress *p = arg;
	if (!p)
		return 0;
	return (p->stop && *p->stop) || mono_ms() > p->deadline_ms ? 1 : 0;
}

static enum mail_outcome smtp_send(struct mail_transport *t, const char *from, const char *rcpt,
                                   const char *msg, size_t len, const volatile bool *stop, char *why,
                                   size_t whylen)
{
	if (!t->curl) {
		t->curl = curl_easy_init();
		if (!t->curl) {
			snprintf(why, whylen, "libcurl init failed");
			return MAIL_TEMPORARY;
		}
	}
	CURL *h = t->curl;
	char errbuf[CURL_ERROR_SIZE] = "";
	char from_path[300], rcpt_path[300];
	snprintf(from_path, sizeof(from_path), "<%s>", from);
	snprintf(rcpt_path, sizeof(rcpt_path), "<%s>", rcpt);
	struct curl_slist *rcpts = curl_slist_append(NULL, rcpt_path);
	if (!rcpts)
		core_oom();
	struct upload up = {msg, len};
	struct progress prog = {stop, mono_ms() + t->timeout_s * 1000 + 2000};
	long connect_s = t->timeout_s < 15 ? t->timeout_s : 15;
	curl_easy_setopt(h, CURLOPT_URL, t->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_USE_SSL, (long)(t->plain ? CURLUSESSL_NONE : CURLUSESSL_ALL));
	if (t->user) {
		curl_easy_setopt(h, CURLOPT_USERNAME, t->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, t->password);
	}
	if (t->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, t->ca_file);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* One connection per message, closed (QUIT) while this transfer's
	 * progress callback still runs: a connection cached for later would be
	 * closed by curl_easy_cleanup, which waits for a stalled relay's answer
	 * to QUIT with no way to stop it. Transactional mail is a few messages
	 * a minute; the handshake costs nothing that matters. */
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, connect_s);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, t->timeout_s);
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, t->timeout_s);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from_path);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &prog);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode res = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	/* Nothing of this transfer may outlive it in the handle. */
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, NULL);
	curl_easy_setopt(h, CURLOPT_READDATA, NULL);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(rcpts);
	if (res == CURLE_OK)
		return MAIL_SENT;
	if (res == CURLE_ABORTED_BY_CALLBACK && stop && *stop) {
		snprintf(why, whylen, "stopped");
		return MAIL_TEMPORARY;
	}
	if (res == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(CURLE_OPERATION_TIMEDOUT));
		return MAIL_TEMPORARY;
	}
	if (res == CURLE_LOGIN_DENIED) {
		snprintf(why, whylen, "smtp login refused (%ld)", code);
		log_error("the SMTP relay refused smtp_user's login: check smtp_user and smtp_password");
		return MAIL_TEMPORARY;
	}
	if (res == CURLE_USE_SSL_FAILED) {
		snprintf(why, whylen, "STARTTLS not offered by the relay");
		log_error("the SMTP relay does not offer STARTTLS; mail is held until it does");
		return MAIL_TEMPORARY;
	}
	if (code == 530 || code == 534 || code == 535 || code == 538) {
		/* The relay wants AUTH or TLS first: the settings' fault, not the
		 * message's. Held (and retried) until someone fixes them. */
		snprintf(why, whylen, "smtp %ld: the relay wants AUTH or TLS first", code);
		log_error(
		    "the SMTP relay refuses to relay without AUTH or TLS (%ld): check smtp_user and smtp_url",
		    code);
		return MAIL_TEMPORARY;
	}
	if (code >= 500 && code <= 599) {
		snprintf(why, whylen, "smtp %ld", code);
		return MAIL_PERMANENT;
	}
	if (code >= 400 && code <= 499)
		snprintf(why, whylen, "smtp %ld", code);
	else /* curl's own words are fixed strings: no address in them */
		snprintf(why, whylen, "%s", curl_easy_strerror(res));
	return MAIL_TEMPORARY;
}

enum mail_outcome mail_transport_send(struct mail_transport *t, const char *from, const char *rcpt,
                                      const char *message_id, const char *msg, size_t len,
                                      const volatile bool *stop, char *why, size_t whylen)
{
	why[0] = '\0';
	if (t->kind == T_FILE)
		return file_send(t, message_id, msg, len, why, whylen);
	return smtp_send(t, from, rcpt, msg, len, stop, why, whylen);
}
