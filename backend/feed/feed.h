/*
 * feed.h — a clinician's private calendar feed (SPEC §4, flow 8).
 *
 * A clinician subscribes their calendar app to /feeds/{token}.ics: one
 * METHOD:PUBLISH calendar with a VEVENT per booking day in a window around
 * today, titled neutrally (the offering's name, optionally the clients'
 * initials; never a name, an email or anything from an intake) and linking
 * back to the admin page. Tokens are per device, shown once, stored as
 * SHA-256 hashes, revocable. Every fetch of a known token is written to
 * feed_fetch, and a token may be fetched at most feed_rate_limit times per
 * feed_rate_window_s, counted in the database so the limit holds across
 * server processes. An unchanged feed is answered 304 from one cheap query
 * (feed_fetch decides before rendering anything).
 */
#ifndef TANDEM_FEED_FEED_H
#define TANDEM_FEED_FEED_H

#include "core/ctx.h"

enum {
	FEED_TOKEN_BYTES = 32,   /* 256 bits of randomness ... */
	FEED_TOKEN_LEN = 43,     /* ... as base64url without padding */
	FEED_NAME_MAX = 100,     /* characters of a token's name */
	FEED_UA_MAX = 200,       /* octets of User-Agent kept in the audit */
	FEED_CANCELLED_DAYS = 30 /* a cancelled booking stays (as CANCELLED) this long */
};

/* ---- tokens (the `tandem feed` commands) ---- */

/* A new token, as shown once. */
struct feed_created {
	int64_t id;         /* feed_token.id, for `tandem feed revoke` */
	const char *url;    /* base_url + /feeds/TOKEN.ics */
	const char *webcal; /* the same with webcal:// (Apple's subscribe links) */
};

/*
 * Creates a token for the clinician with this email (case-insensitive).
 * name: 1..100 characters of one-line text; privacy: "neutral" or
 * "initials". ERR_INVALID for a bad name or privacy (*why says which),
 * ERR_NOT_FOUND for no such (active) clinician.
 */
int feed_create(struct ctx *c, const char *base_url, const char *email, const char *name, const char *privacy,
                struct feed_created *out, const char **why);

/* One row of `tandem feed list`; times are Unix seconds, 0 when never. */
struct feed_info {
	int64_t id;
	const char *name;
	const char *privacy;
	int64_t created_at;
	int64_t revoked_at;
	int64_t last_fetch_at;
	int64_t fetches; /* rows in feed_fetch */
};

/* The clinician's tokens, oldest first (never the token: it is not kept).
 * ERR_NOT_FOUND for no such clinician. */
int feed_list(struct ctx *c, const char *email, struct feed_info **out, size_t *n);

/* 0 when feed token id belongs to clinician_id, else ERR_NOT_FOUND. */
int feed_owned(struct ctx *c, int64_t clinician_id, int64_t id);

/* Revokes token id; its URL answers 404 from then on. ERR_NOT_FOUND for no
 * such token; *already set when it had been revoked before (nothing changes). */
int feed_revoke(struct ctx *c, int64_t id, bool *already);

/* ---- the `tandem feed` command (feed_cli.c) ---- */

#define FEED_CLI_USAGE                                                                                       \
	"tandem feed create --clinician EMAIL --name NAME [--privacy neutral|initials]"                      \
	" | feed list --clinician EMAIL | feed revoke ID"

/* True when argv (after "feed") is one of the forms above; checked before
 * the database is opened. */
bool feed_cli_usage_ok(int argc, char **argv);
/* Runs it: results on stdout (the URL only from create), problems logged.
 * Returns 0 or the ERR_* of the failure. */
int feed_cli(struct ctx *c, const char *base_url, int argc, char **argv);

/* ---- fetching ---- */

/* What the route passes in. Strings are borrowed. */
struct feed_request {
	const char *token;         /* from the URL, unchecked */
	const char *if_none_match; /* the header, or NULL */
	const char *remote_addr;   /* peer address, for the audit */
	const char *user_agent;    /* the header, or NULL; kept cleaned, truncated */
	const char *base_url;      /* for the admin links in DESCRIPTION */
	long past_days;            /* the window: today - past_days ... */
	long future_days;          /* ... to today + future_days, in the clinician's zone */
	long rate_limit;           /* fetches allowed per window */
	long rate_window_s;        /* the window, seconds */
};

struct feed_response {
	int status;            /* 200, 304, 404 or 429 */
	char etag[40];         /* strong, quoted ("\"<32 hex>\""); 200 and 304 */
	int64_t last_modified; /* newest change to anything shown; 200 and 304 */
	int64_t retry_after;   /* seconds, for 429 */
	const char *body;      /* the calendar for 200 (arena), else NULL */
	size_t len;            /* its length */
};

/*
 * Answers one fetch. A token that is unknown, revoked or of an inactive
 * clinician is 404 (revoked ones are still audited while under the rate
 * limit; the answer never differs from an unknown token's). Otherwise the
 * ETag comes from one aggregate query, and then, in a short transaction
 * holding the token's row (so the limit holds across server processes):
 * 429 when the token made rate_limit fetches (other than 429s) in the last
 * rate_window_s; else 304 when If-None-Match holds the ETag; else 200. The
 * fetch is recorded there (time, address, user agent, status) and
 * last_fetch_at set. A 200 is rendered after that commit, from one query.
 * Returns 0 (see out->status) or an ERR_* when the database or rendering
 * fails.
 */
int feed_fetch(struct ctx *c, const struct feed_request *rq, struct feed_response *out);

/* Formats t as an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT") into out
 * (>= 30 bytes). Exposed for tests. */
void feed_http_date(int64_t t, char *out, size_t outlen);

/* True when the If-None-Match header value matches etag (a quoted strong
 * tag): "*", or a comma-separated list with etag in it (weak comparison,
 * so W/"x" matches "x", RFC 9110 13.1.2). Exposed for tests. */
bool feed_etag_matches(const char *if_none_match, const char *etag);

#endif
