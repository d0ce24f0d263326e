/*
 * err.h — the one error enum of Tandem.
 *
 * Every function that can fail returns int: 0 on success or one of these
 * negative values. http/response.c maps them to HTTP statuses and the JSON
 * error body of SPEC §3; nothing else decides a status from an error.
 */
#ifndef TANDEM_CORE_ERR_H
#define TANDEM_CORE_ERR_H

enum err {
	ERR_OK = 0,
	ERR_INTERNAL = -1,         /* a bug or an unexpected failure (500) */
	ERR_MALFORMED = -2,        /* input that cannot be parsed at all (400) */
	ERR_INVALID = -3,          /* parsed, but fails validation (422) */
	ERR_NOT_FOUND = -4,        /* no such record or route (404) */
	ERR_METHOD = -5,           /* route exists, method does not (405) */
	ERR_CONFLICT = -6,         /* a uniqueness or state conflict (409) */
	ERR_SLOT_UNAVAILABLE = -7, /* the time is taken (409 slot_unavailable) */
	ERR_TOO_LARGE = -8,        /* body or field over its limit (413) */
	ERR_MEDIA_TYPE = -9,       /* wrong Content-Type (415) */
	ERR_UNAUTHORIZED = -10,    /* no valid credentials (401) */
	ERR_FORBIDDEN = -11,       /* credentials, but not allowed (403) */
	ERR_RATE_LIMITED = -12,    /* too many requests (429) */
	ERR_UNAVAILABLE = -13,     /* a dependency (the database) is down (503) */
	ERR_RETRY = -14,           /* serialization failure or deadlock: retry the transaction */
	ERR_IO = -15,              /* a file or socket operation failed */
	ERR_CONFIG = -16,          /* bad configuration (start-up only) */
	ERR_GONE = -17,            /* a link that was valid but is no longer (410) */
};

/* A short stable name for logs and JSON codes ("invalid", "not_found"...). */
const char *err_code(int err);

#endif
