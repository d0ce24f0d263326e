/*
 * practice.h — the practice itself (name, time zone, address, policies)
 * and its clinicians' accounts; plus the demo practice for `make run`.
 */
#ifndef TANDEM_PRACTICE_PRACTICE_H
#define TANDEM_PRACTICE_PRACTICE_H

#include <jansson.h>

#include "core/ctx.h"

struct practice {
	int64_t id;                         /* primary key */
	const char *name;                   /* shown on every page */
	const char *timezone;               /* IANA zone */
	const char *address;                /* postal address, may be "" */
	const char *phone;                  /* may be "" */
	const char *email;                  /* may be "" */
	const char *cancellation_policy;    /* plain text */
	const char *confidentiality_policy; /* plain text */
};

/* The practice (the first one; a deployment serves one). ERR_NOT_FOUND
 * before seed/setup. */
int practice_get(struct ctx *c, struct practice *out);
/* The view for page layouts. */
json_t *practice_to_view(const struct practice *p);

/* Creates or updates a clinician account with an Argon2id hash of
 * password. *id receives the clinician id. ERR_INVALID for a bad email or
 * a password under 10 characters; ERR_NOT_FOUND with no practice yet. */
int practice_clinician_upsert(struct ctx *c, const char *email, const char *name, const char *password,
                              const char *role, int64_t *id);

/* The active clinician with this email (any case): id and zone (arena).
 * ERR_NOT_FOUND when there is none. */
int practice_clinician_by_email(struct ctx *c, const char *email, int64_t *id, char **timezone);

/* Creates or refreshes the demo practice (idempotent). The demo login is
 * written to login_email / login_password (static strings). */
int practice_seed_demo(struct ctx *c, const char **login_email, const char **login_password);

#endif
