/*
 * fold.c — RFC 5545 3.1 line folding and unfolding, done by us.
 *
 * Calendar apps are strict where libical is not: Google drops an event whose
 * fold puts '\' at the end of one line and 'n' at the start of the next, and
 * a fold inside a UTF-8 sequence shows as mojibake. So a line is cut into
 * units — one UTF-8 character, or '\' together with the character after it —
 * and breaks fall only between units.
 */
#include "ics/ics.h"

#define FOLD_FIRST 75 /* octets of the first physical line, CRLF excluded */
#define FOLD_NEXT  74 /* octets after the leading space of a continuation */
#define FOLD_AVOID 8  /* units to step back to avoid a space at a break */

/* Length of the UTF-8 sequence starting with lead byte c (input is valid). */
static size_t utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xE0)
		return 2;
	if (c < 0xF0)
		return 3;
	return 4;
}

/* Length of the unit at p[i]: '\' binds the whole character after it. */
static size_t unit_len(const char *p, size_t i, size_t n)
{
	size_t u = utf8_len((unsigned char)p[i]);
	if (p[i] == '\\' && i + 1 < n)
		u += utf8_len((unsigned char)p[i + 1]);
	return u;
}

int ics_fold_line(const char *line, size_t len, struct buf *out)
{
	if (len && (memchr(line, '\r', len) || memchr(line, '\n', len)))
		return ERR_INVALID;
	if (!str_valid_utf8((struct str){line, len}))
		return ERR_INVALID;

	size_t i = 0, limit = FOLD_FIRST;
	for (;;) {
		/* Greedy: as many whole units as fit; ends[] remembers the last
		 * few unit ends so a break can step back off a space. */
		size_t ends[FOLD_AVOID + 1], nends = 0, j = i;
		while (j < len) {
			size_t u = unit_len(line, j, len);
			if (j - i + u > limit)
				break;
			j += u;
			if (nends == ARRAY_LEN(ends)) {
				memmove(ends, ends + 1, sizeof(ends) - sizeof(ends[0]));
				nends--;
			}
			ends[nends++] = j;
		}
		if (j < len) {
			/* A space just before or after the break can be lost by
			 * sloppy unfolders and mail transports: prefer a break
			 * between two non-spaces, never an empty chunk. */
			for (size_t k = nends; k-- > 0;) {
				size_t b = ends[k];
				if (b > i && line[b - 1] != ' ' && line[b] != ' ') {
					j = b;
					break;
				}
			}
		}
		buf_append(out, line + i, j - i);
		buf_append(out, "\r\n", 2);
		if (j >= len)
			break;
		buf_putc(out, ' ');
		i = j;
		limit = FOLD_NEXT;
	}
	return out->err ? ERR_TOO_LARGE : 0;
}

/* Folds the logical line in lb (if any) into out and empties lb. */
static int flush(struct buf *lb, bool *open, struct buf *out)
{
	int rc = 0;
	if (*open && lb->len > 0 && (lb->data[0] == ' ' || lb->data[0] == '\t')) {
		/* "\r\n\r\n  x": an empty line continued by " x". A content
		 * line starts with a name, and folded again it would read as a
		 * continuation of the line before. */
		rc = ERR_MALFORMED;
	} else if (*open && lb->len > 0) {
		rc = ics_fold_line(lb->data, lb->len, out);
		if (rc == ERR_INVALID)
			rc = ERR_MALFORMED;
	}
	buf_reset(lb);
	*open = false;
	return rc;
}

int ics_refold(const char *src, size_t len, struct buf *out)
{
	size_t start = out->len;
	int rc = ERR_INTERNAL;
	struct buf lb; /* the logical line being unfolded */
	bool open = false;

	buf_init(&lb, NULL, len + 1);
	if (out->err) {
		rc = ERR_TOO_LARGE;
		goto out;
	}
	size_t i = 0;
	while (i < len) {
		/* One physical line: [i, e), then its line break. */
		const char *nl = memchr(src + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - src) : len;
		size_t next = nl ? e + 1 : len;
		if (e > i && src[e - 1] == '\r' && nl)
			e--;
		if (e > i && memchr(src + i, '\r', e - i)) {
			rc = ERR_MALFORMED; /* a bare CR: not a line end, not text */
			goto out;
		}
		if (e > i && (src[i] == ' ' || src[i] == '\t')) {
			if (!open) {
				rc = ERR_MALFORMED;
				goto out;
			}
			buf_append(&lb, src + i + 1, e - i - 1);
		} else {
			rc = flush(&lb, &open, out);
			if (rc)
				goto out;
			buf_append(&lb, src + i, e - i);
			open = true;
		}
		i = next;
	}
	rc = flush(&lb, &open, out);
	if (rc)
		goto out;
	rc = lb.err || out->err ? ERR_TOO_LARGE : 0;
out:
	buf_release(&lb);
	if (rc) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}
