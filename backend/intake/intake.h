/*
 * intake.h — each client's private intake (SPEC §1 Intake, §2 flows 3-4,
 * §5): versioned form definitions seeded from the files in forms/, drafts and
 * submitted answers sealed at rest, validation, signature, and screening
 * rules that turn answers into flags and mark the booking "needs review".
 *
 * A person reaches their intake with their own capability link: the same
 * per-person token that opens their booking page (booking_by_token: the
 * booker's manage token is position 1, the partner's link position 2).
 * One token therefore reaches exactly one intake, its holder's own.
 *
 * Answers are a JSON object {question id: value}: a string for text,
 * single choice, date (YYYY-MM-DD) and yes/no ("yes"/"no"), an array of
 * choice values for multiple choice, an integer for a scale.
 */
#ifndef TANDEM_INTAKE_INTAKE_H
#define TANDEM_INTAKE_INTAKE_H

#include <jansson.h>

#include "core/ctx.h"
#include "crypto/keys.h"

/* One forms/<slug>.json file, embedded at build time (build/gen/forms.c). */
struct intake_form_file {
	const char *slug; /* file name without .json */
	const char *text; /* the file's bytes, NUL-terminated */
	size_t len;       /* bytes in text */
};
extern const struct intake_form_file intake_form_files[];
extern const size_t intake_form_files_count;

enum {
	INTAKE_ANSWERS_MAX = 64 * 1024, /* bytes of one answers object as JSON */
	INTAKE_TEXT_MAX = 8000,         /* characters in a text answer (a question may set less) */
	INTAKE_SIGNATURE_MAX = 200,     /* characters in the typed name */
	INTAKE_CHOICES_MAX = 32,        /* values in a multiple-choice answer */
};

/* Checks a definition's shape (pages, questions, types, choices, rules).
 * 0 or ERR_INVALID with a reason in err. */
int intake_form_check(json_t *def, char *err, size_t errlen);

/* Stores every embedded form whose bytes are new as the next version of
 * its slug (idempotent); *added counts new versions. */
int intake_forms_sync(struct ctx *c, int *added);

/*
 * The answer decoder: parses text (JSON, at most INTAKE_ANSWERS_MAX) into
 * a new object *out checked against def — unknown question ids, wrong
 * types, choices not in the list, text over its limit, scale values out of
 * range, dates that are not dates. A JSON null removes an answer (kept as
 * null in *out). ERR_MALFORMED: not a JSON object (no *fields);
 * ERR_TOO_LARGE: over the limit; ERR_INVALID: *fields (new reference)
 * names each question at fault. *out and *fields are new references.
 */
int intake_decode_answers(json_t *def, const char *text, size_t len, json_t **out, json_t **fields);
/* The same checks on an already parsed object (the JSON API). */
int intake_check_answers(json_t *def, json_t *answers, json_t *fields);

/* Whether question q is shown, given answers (show_if). */
bool intake_visible(json_t *def, json_t *q, json_t *answers);
/* Required questions that are shown and unanswered: adds a message per
 * question id to fields. Returns how many. */
int intake_missing(json_t *def, json_t *answers, json_t *fields);
/* Drops answers to questions that are hidden (show_if false). */
void intake_drop_hidden(json_t *def, json_t *answers);
/* The screening rules: a new array of distinct flag names raised. */
json_t *intake_screen(json_t *def, json_t *answers);
/* The question object with id qid, or NULL. */
json_t *intake_question(json_t *def, const char *qid);

/* What the intake page and API show to the person whose link it is. */
struct intake_view {
	int64_t id;                 /* intake.id */
	int64_t booking_id;         /* for the audit log; never shown to the client */
	int position;               /* 1 booker, 2 partner */
	const char *booking_status; /* the booking's status */
	const char *form_slug;      /* definition slug */
	int form_version;           /* its version */
	const char *form_sha256;    /* SHA-256 of its bytes */
	json_t *def;                /* the definition (arena-owned reference) */
	json_t *answers;            /* the draft, or the submitted answers (arena-owned) */
	bool policy_accepted;       /* the confidentiality policy was accepted */
	bool submitted;             /* read-only from now on */
	int64_t submitted_at;       /* Unix seconds, 0 when not submitted */
	const char *policy;         /* the practice's confidentiality policy */
	const char *practice_name;  /* for the page title */
};

/* Opens the intake of token's holder, creating it on first use with the
 * newest version of the offering's form. ERR_NOT_FOUND for an unknown,
 * expired or revoked token, a closed booking, or an offering without a
 * form. */
int intake_open(struct ctx *c, const struct keyring *k, const char *token, struct intake_view *out);

/* Saves a draft: merges answers (checked like intake_check_answers; a
 * null removes) into the stored draft; accept_policy records the
 * acceptance. ERR_CONFLICT once submitted; ERR_FORBIDDEN when answers
 * come before the policy is accepted; ERR_INVALID with *fields. */
int intake_save(struct ctx *c, const struct keyring *k, const char *token, json_t *answers,
                bool accept_policy, json_t **fields);

/* Submits the draft (after merging answers, which may be NULL) with the
 * typed full name: every shown required question answered, signature 1..
 * INTAKE_SIGNATURE_MAX characters. Stores the time, the form version and
 * hash, the sealed flags; a flag sets booking.needs_review. ERR_CONFLICT
 * when already submitted; ERR_INVALID with *fields. */
int intake_submit(struct ctx *c, const struct keyring *k, const char *token, json_t *answers,
                  const char *signature, json_t **fields);

/* An answer in words for people (choice labels, "Yes"/"No", the number
 * of a scale), from arena a; "" for no answer. */
const char *intake_answer_text(struct arena *a, json_t *q, json_t *v);

/* Both clients' intakes of a booking for the clinician (the caller has
 * checked the clinician may see the booking): a new object {"booking_id",
 * "form": {"slug", "version", "sha256"} or null, "definition" (without
 * nothing removed) or null, "clients": [{"position", "state" ("not
 * started", "draft", "submitted"), "submitted_at" (Unix seconds or null),
 * "form_version", "form_sha256", "signature", "flags": [...], "answers":
 * {...}}]} with one entry per position 1, 2. */
int intake_for_booking(struct ctx *c, const struct keyring *k, int64_t booking_id, json_t **out);

#endif
