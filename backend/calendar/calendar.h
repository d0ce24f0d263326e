/*
 * calendar.h — the clinician's external calendars ("sources") and the busy
 * time they put in front of the availability engine (SPEC §2 flow 8, §4).
 *
 * A source is an uploaded .ics file or a subscribed URL. Either way the
 * file is expanded by calimport/ over a window (a week back to the longest
 * booking horizon ahead) into busy intervals, which replace the source's
 * previous ones in one transaction: a bad file or a failed fetch changes
 * nothing, so the last good busy data stays until a good refresh replaces
 * it. A subscription not refreshed successfully for longer than its
 * freshness limit makes availability fail closed for its clinician
 * (avail_load.c); uploads never go stale, they are re-expanded daily as the
 * window moves.
 *
 * Several server processes share the refresh work: a process leases one due
 * source at a time (UPDATE … FOR UPDATE SKIP LOCKED), fetches outside any
 * transaction, and writes the result only while its lease still holds.
 *
 * The URL (often a secret address) and the file (the clinician's other
 * appointments) are sealed at rest; neither is ever logged.
 */
#ifndef TANDEM_CALENDAR_CALENDAR_H
#define TANDEM_CALENDAR_CALENDAR_H

#include "core/ctx.h"

struct keyring;
struct mailer;

#define CAL_MAX_URL  2048
#define CAL_MAX_NAME 200
#define CAL_MAX_BUSY 100000 /* busy intervals stored per source */
#define CAL_LEASE_S  300    /* a refresh may take this long before another process retries it */

/* How subscriptions are fetched (from the configuration). */
struct calendar_fetch_opts {
	long connect_timeout_ms;
	long timeout_ms;    /* the whole transfer */
	size_t max_bytes;   /* larger files fail with ERR_TOO_LARGE */
	int max_redirects;  /* followed, each checked like the first */
	bool allow_private; /* loopback/private addresses (tests and LAN calendars only) */
	const char *user_agent;
};

struct calendar_fetch_result {
	int http_status;     /* 0 when no answer came */
	bool not_modified;   /* 304: the validators matched */
	char *body;          /* arena, NUL-terminated, when 200 */
	size_t len;          /* bytes in body */
	char *etag;          /* the answer's validators, arena or NULL */
	char *last_modified; /* (header values, control characters refused) */
	char error[160];     /* our own words for a failure; never quotes the URL */
};

/*
 * GET url with If-None-Match/If-Modified-Since from the previous fetch.
 * http and https only, redirects bounded and checked, every connection's
 * address checked after resolution (private and local ones refused unless
 * o->allow_private), the body bounded by o->max_bytes while it arrives.
 * 0 with a body or not_modified; ERR_TOO_LARGE; ERR_IO with r->error for
 * everything else (timeouts, refused connections, HTTP errors, TLS).
 */
int calendar_fetch(struct arena *a, const char *url, const char *etag, const char *last_modified,
                   const struct calendar_fetch_opts *o, struct calendar_fetch_result *r);

/* Checks a subscription URL and rewrites webcal:// and webcals:// to
 * https://. *display is "scheme://host" for lists. ERR_INVALID for anything
 * but http(s)/webcal(s), spaces or controls, user:password@, > CAL_MAX_URL. */
int calendar_normalise_url(struct arena *a, const char *url, char **out, char **display);

/* What the clinician's list shows of one source. */
struct calendar_source_info {
	int64_t id;
	char *name;
	char *kind;        /* "upload" or "url" */
	char *url_display; /* "https://host" for subscriptions, NULL for uploads */
	bool fresh;        /* false: availability is failing closed because of it */
	int64_t last_success, last_attempt, next_refresh; /* Unix seconds, 0 = never */
	char *last_error;                                 /* NULL when the last attempt succeeded */
	char *warning; /* e.g. an unknown time zone placed in the clinician's */
	int events, busy, failures;
	int refresh_minutes, freshness_minutes;
};

/* Outcome of an import or refresh, for the CLI and the admin page. */
struct calendar_outcome {
	bool changed;      /* busy intervals were replaced */
	bool not_modified; /* a 304 (or the same file again) */
	int events, busy;
	char message[256]; /* the error, or the first warning; "" when neither */
};

/*
 * Uploads a file as the source called name (created, or replaced when the
 * clinician already has an upload of that name). The file is checked and
 * expanded first: ERR_MALFORMED / ERR_TOO_LARGE with out->message, and
 * nothing changes. ERR_CONFLICT when a subscription has that name.
 */
int calendar_import_file(struct ctx *c, const struct keyring *k, int64_t clinician_id, const char *name,
                         const char *data, size_t len, size_t max_bytes, int64_t *source_id,
                         struct calendar_outcome *out);

/*
 * Adds a subscription (refreshed by the job from now on). refresh and
 * freshness are minutes (0 = defaults 15 and 360). ERR_INVALID for a bad
 * URL or limits, ERR_CONFLICT for a name in use.
 */
int calendar_subscribe(struct ctx *c, const struct keyring *k, int64_t clinician_id, const char *name,
                       const char *url, int refresh_minutes, int freshness_minutes, int64_t *source_id);

/*
 * Refreshes one source now (subscriptions are fetched, uploads re-expanded),
 * waiting for a lease if another process holds it: ERR_CONFLICT when busy.
 * A failure is recorded on the source (last_error, failures, next attempt
 * with back-off) and returned with out->message; busy data is untouched.
 */
int calendar_refresh(struct ctx *c, const struct keyring *k, const struct mailer *m,
                     const struct calendar_fetch_opts *o, int64_t source_id, struct calendar_outcome *out);

/* The job: refreshes due sources one at a time, at most max of them, and
 * reports how many it handled. Safe with several processes.
 *
 * With a mailer (m not NULL), a failure that leaves a subscription past its
 * freshness limit tells the clinician by email, once per outage
 * (failing_notified_at; a success clears it). The CLI passes NULL: the job's
 * next attempt tells them. */
int calendar_refresh_due(struct ctx *c, const struct keyring *k, const struct mailer *m,
                         const struct calendar_fetch_opts *o, int max, int *n);

/* 0 when source_id is clinician_id's, else ERR_NOT_FOUND. */
int calendar_owned(struct ctx *c, int64_t clinician_id, int64_t source_id);

/* Deletes a source and its busy time. clinician_id 0 = any clinician. */
int calendar_remove(struct ctx *c, int64_t clinician_id, int64_t source_id);

/* The clinician's sources, by name. */
int calendar_list(struct ctx *c, int64_t clinician_id, struct calendar_source_info **out, size_t *n);

/* Busy time from external calendars overlapping [from, to), merged and
 * clipped to the range, as pairs of Unix seconds (arena). */
int calendar_busy(struct ctx *c, int64_t clinician_id, int64_t from, int64_t to, int64_t **pairs, size_t *n);

#endif
