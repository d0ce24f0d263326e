/*
 * mime.h — Internet messages as they go on the wire: RFC 5322 headers, MIME
 * bodies (RFC 2045-2047) and calendar parts as Outlook and Gmail want them
 * (shared/ICAL.md, "Email").
 *
 * Mail builds output; nothing here parses what others send. What matters is
 * that no value can change the message's structure: header values lose CR,
 * LF and every other control character, display names and subjects that are
 * not plain ASCII become RFC 2047 encoded words, quotes and backslashes in a
 * name are escaped inside a quoted string, addresses are checked against a
 * character set that cannot end a header or an angle-addr, and boundaries
 * contain "=_", which neither quoted-printable nor base64 output can.
 *
 * A message with a calendar is
 *
 *     multipart/mixed
 *       multipart/alternative
 *         text/plain; charset=UTF-8               (quoted-printable)
 *         text/html; charset=UTF-8                (quoted-printable)
 *         text/calendar; charset=UTF-8; method=M  (base64, the inline invite)
 *       application/ics; name="invite.ics"        (base64, the same file attached)
 *
 * and without one just the multipart/alternative (or a single text/plain
 * part when there is no HTML). Lines end in CRLF throughout.
 */
#ifndef TANDEM_MAIL_MIME_H
#define TANDEM_MAIL_MIME_H

#include "core/buf.h"

enum {
	MIME_NAME_MAX = 200,      /* bytes of a display name kept (cut on a character boundary) */
	MIME_SUBJECT_MAX = 500,   /* bytes of a subject kept */
	MIME_ADDRESS_MAX = 254,   /* RFC 5321 path limit */
	MIME_MESSAGE_ID_MAX = 128 /* bytes of a Message-ID, brackets included */
};

struct mime_address {
	const char *name;  /* display name, UTF-8; NULL or "" for none */
	const char *email; /* addr-spec; must pass mime_address_valid */
};

struct mime_message {
	struct mime_address from;    /* From: */
	struct mime_address to;      /* To: (one recipient per message, always) */
	const char *reply_to;        /* bare address for Reply-To:, or NULL */
	const char *subject;         /* UTF-8, one line (line breaks become spaces) */
	int64_t date;                /* Date:, Unix seconds (written in UTC) */
	const char *message_id;      /* "<local@domain>", see mime_message_id */
	const char *text;            /* text/plain body, UTF-8; required */
	const char *html;            /* text/html body, UTF-8; NULL for none */
	const char *calendar;        /* iCalendar object (CRLF lines) or NULL */
	size_t calendar_len;         /* its length */
	const char *calendar_method; /* METHOD of the calendar ("REQUEST", "CANCEL"); required with it */
	const char *attachment_name; /* file name of the attached copy; NULL for "invite.ics" */
};

/* Appends the whole message to out. ERR_INVALID for a missing or bad
 * address, Message-ID, method or body (invalid UTF-8 in a body or the
 * calendar is refused; in a name or subject it becomes '?'); ERR_TOO_LARGE
 * when out's maximum is reached. On error out is cut back to its length on
 * entry. */
int mime_build(const struct mime_message *m, struct buf *out);

/* An address we will put in a header and an SMTP envelope: local@domain,
 * at most 254 bytes, local part at most 64, no spaces, controls or any of
 * "(),:;<>[\]@, a dotted domain without "..". Non-ASCII is allowed in both
 * parts (SMTPUTF8 relays). */
bool mime_address_valid(const char *email);

/* A new Message-ID "<32 random hex@domain>" where domain is from_email's
 * (or "tandem.invalid" when it is not plain ASCII). From arena a. */
char *mime_message_id(struct arena *a, const char *from_email);

/* The pieces, exposed for the unit tests. */

/* An RFC 5322 date, "Mon, 07 Dec 2026 15:00:00 +0000" (out >= 40 bytes). */
void mime_date(int64_t t, char *out, size_t outlen);
/* A display name as a phrase: atoms as they are, other ASCII as a quoted
 * string, anything else as encoded words (folded onto new lines). "col" is
 * the column the phrase starts at. Nothing is written for an empty name. */
void mime_put_phrase(struct buf *out, const char *name, size_t col);
/* An unstructured value (Subject): folded ASCII, or encoded words. */
void mime_put_unstructured(struct buf *out, const char *text, size_t col);
/* Quoted-printable (RFC 2045 6.7) of UTF-8 text; any line break in the
 * input becomes a CRLF; lines stay at most 76 characters. */
void mime_put_qp(struct buf *out, const char *s, size_t n);
/* Base64 in lines of 76 characters, each ending in CRLF. */
void mime_put_base64(struct buf *out, const void *p, size_t n);

#endif
