/*
 * config.h — Tandem's configuration: one table (Redis's standardConfig).
 *
 * Values come from the defaults in the table, then a file of `key = value`
 * lines (--config FILE or TANDEM_CONFIG), then TANDEM_<KEY> environment
 * variables. A secret may instead be read from a file named by
 * `<key>_file` / TANDEM_<KEY>_FILE. Unknown keys are errors. The
 * effective configuration is logged with secrets redacted.
 */
#ifndef TANDEM_CORE_CONFIG_H
#define TANDEM_CORE_CONFIG_H

#include "core/common.h"

struct config {
	char *database_url;            /* libpq conninfo or URI; secret (may hold a password) */
	char *listen;                  /* address:port the HTTP server binds */
	char *base_url;                /* public URL used in links, emails and invites */
	char *template_dir;            /* where *.mustache files and static/ live */
	char *log_level;               /* debug, info, warn, error */
	long threads;                  /* civetweb worker threads (one DB connection each) */
	long max_body;                 /* largest request body accepted, bytes */
	long request_timeout_ms;       /* civetweb's per-request read/write timeout */
	long db_connect_timeout;       /* seconds libpq may spend connecting */
	long db_statement_timeout_ms;  /* per statement, so no request hangs on a lock */
	bool access_log;               /* one line per request on stderr */
	char *key_file;                /* data keys for values encrypted at rest (keys.h) */
	long jobs_interval_s;          /* how often background jobs run (hold expiry, ...) */
	long calendar_fetch_timeout_s; /* one subscribed calendar's whole transfer */
	long calendar_max_bytes;       /* largest calendar file fetched or uploaded */
	bool calendar_allow_private;   /* fetch from loopback/private addresses (tests, LAN) */
	long feed_past_days;           /* clinician feed: days of past bookings it shows */
	long feed_future_days;         /* clinician feed: days ahead it shows */
	long feed_rate_limit;          /* fetches of one feed token allowed per window ... */
	long feed_rate_window_s;       /* ... of this many seconds; then 429 */
	char *mail_transport;          /* "file" (.eml files under mail_dir) or "smtp" */
	char *mail_dir;                /* where the file transport writes */
	char *mail_from;               /* From address; "" = the practice's email */
	char *mail_reply_to;           /* Reply-To address; "" = the practice's email when it differs */
	long mail_max_attempts;        /* tries before a message is dead-lettered */
	long mail_retry_base_s;        /* first retry delay; doubles each try, with jitter */
	long mail_retry_max_s;         /* ceiling on one retry delay */
	long mail_poll_ms;             /* how often the sender looks for due messages */
	long mail_keep_days;           /* sent messages' sealed bodies are purged after this */
	long reminder_hours;           /* appointment reminder this long before; 0 = none */
	char *smtp_url;                /* smtp://host:587 (STARTTLS) or smtps://host:465 */
	char *smtp_user;               /* AUTH user; "" = no AUTH */
	char *smtp_password;           /* AUTH password; secret */
	char *smtp_ca_file;            /* CA bundle for the relay's certificate; "" = the system's */
	bool smtp_plain_loopback;      /* smtp_allow_plain_loopback: plain SMTP to 127.0.0.0/8 or ::1 */
	long smtp_timeout_s;           /* one message's whole SMTP conversation */
	bool insecure_dev_cookies;     /* plain-http development: cookies without __Host- and Secure */
	bool trust_proxy;              /* client address from X-Forwarded-For of a loopback peer */
	long session_idle_s;           /* a clinician session ends after this long unused */
	long session_absolute_s;       /* and this long after sign-in, whatever happens */
	long login_free_attempts;      /* failed sign-ins per account before waits begin */
	long login_backoff_base_s;     /* the first wait; each further failure doubles it */
	long login_backoff_max_s;      /* the longest wait */

	/* "72,24": reminders of an unsent intake this many hours before a hold lapses. */
	const char *intake_reminder_hours;
};

/* Fills cfg from defaults, the file (NULL for none) and the environment.
 * On error writes a message into err and returns ERR_CONFIG. */
int config_load(struct config *cfg, const char *file, char *err, size_t errlen);
void config_free(struct config *cfg);
/* Logs every key and its value, secrets redacted. */
void config_log(const struct config *cfg);
/* database_url with any password replaced by "***"; caller frees. */
char *config_redact_url(const char *url);

#endif
