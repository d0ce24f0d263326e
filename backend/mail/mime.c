/* mime.c — see mime.h. */
#include "mail/mime.h"

#include <ctype.h>
#include <time.h>

#include "core/str.h"
#include "crypto/crypto.h"

/*
 * One line of header text: controls (CR and LF included) and runs of white
 * space become one space, invalid UTF-8 becomes '?', the ends are trimmed
 * and at most max bytes are kept, cut on a character boundary. Into dst
 * (max + 1 bytes).
 */
static size_t clean_line(const char *src, char *dst, size_t max)
{
	const unsigned char *p = (const unsigned char *)(src ? src : "");
	size_t n = strlen((const char *)p), o = 0;
	bool space = false;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = o > 0;
			i++;
			continue;
		}
		size_t len = utf8_seq_len(p + i, n - i);
		const unsigned char *ch = p + i;
		if (!len) {
			ch = (const unsigned char *)"?";
			len = 1;
			i++;
		} else {
			i += len;
		}
		if (o + (space ? 1 : 0) + len > max)
			break;
		if (space)
			dst[o++] = ' ';
		space = false;
		memcpy(dst + o, ch, len);
		o += len;
	}
	dst[o] = '\0';
	return o;
}

static bool is_atext(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static void put_b64_raw(struct buf *out, const unsigned char *p, size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63], i + 1 < n ? b64[(v >> 6) & 63] : '=',
		             i + 2 < n ? b64[v & 63] : '='};
		buf_append(out, q, 4);
	}
}

/*
 * RFC 2047 "B" encoded words of a cleaned UTF-8 line, starting at column
 * col. Each line stays within 76 characters (so each word is at most 75),
 * a word never splits a character, and every word after the first goes on
 * a new folded line.
 */
static void put_encoded_words(struct buf *out, const char *s, size_t n, size_t col)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	if (col > 60) {
		buf_puts(out, "\r\n ");
		col = 1;
	}
	while (i < n) {
		/* 12 characters of =?UTF-8?B? and ?=, 4 of base64 per 3 bytes. */
		size_t room = (76 - col - 12) / 4 * 3;
		size_t take = 0;
		while (i + take < n) {
			size_t len = utf8_seq_len(p + i + take, n - i - take);
			if (!len)
				len = 1; /* cleaned already; never happens */
			if (take + len > room)
				break;
			take += len;
		}
		buf_puts(out, "=?UTF-8?B?");
		put_b64_raw(out, p + i, take);
		buf_puts(out, "?=");
		i += take;
		if (i < n) {
			buf_puts(out, "\r\n ");
			col = 1;
		}
	}
}

static bool plain_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

void mime_put_phrase(struct buf *out, const char *name, size_t col)
{
	char clean[MIME_NAME_MAX + 1];
	size_t n = clean_line(name, clean, MIME_NAME_MAX);
	if (!n)
		return;
	/* "=?" in plain text could be read as an encoded word by a lenient reader. */
	if (!plain_ascii(clean) || strstr(clean, "=?")) {
		put_encoded_words(out, clean, n, col);
		return;
	}
	bool atoms = true;
	for (size_t i = 0; i < n; i++)
		if (clean[i] != ' ' && !is_atext((unsigned char)clean[i]))
			atoms = false;
	if (atoms) {
		buf_append(out, clean, n);
		return;
	}
	buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		if (clean[i] == '"' || clean[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, clean[i]);
	}
	buf_putc(out, '"');
}

void mime_put_unstructured(struct buf *out, const char *text, size_t col)
{
	char clean[MIME_SUBJECT_MAX + 1];
	size_t n = clean_line(text, clean, MIME_SUBJECT_MAX);
	if (!plain_ascii(clean) || strstr(clean, "=?")) {
		put_encoded_words(out, clean, n, col);
		return;
	}
	/* Fold before a space when a line would pass 78 characters. */
	size_t i = 0;
	while (i < n) {
		size_t w = i;
		while (w < n && clean[w] != ' ')
			w++;
		size_t word = w - i;
		if (i > 0) {
			if (col + 1 + word > 78) {
				buf_puts(out, "\r\n");
				col = 0;
			}
			buf_putc(out, ' ');
			col++;
		}
		buf_append(out, clean + i, word);
		col += word;
		i = w < n ? w + 1 : w;
	}
}

void mime_date(int64_t t, char *out, size_t outlen)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm)) {
		snprintf(out, outlen, "Thu, 01 Jan 1970 00:00:00 +0000");
		return;
	}
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
	         months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void mime_put_qp(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n') {
			if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
				i++;
			buf_puts(out, "\r\n");
			col = 0;
			continue;
		}
		bool at_eol = i + 1 == n || s[i + 1] == '\r' || s[i + 1] == '\n';
		char enc[3];
		size_t len;
		/* Literal: printable ASCII but '='; a space or tab unless it ends
		 * the line; never a '.' starting a line (SMTP's end of data). */
		if ((c >= 33 && c <= 126 && c != '=' && !(c == '.' && col == 0)) ||
		    ((c == ' ' || c == '\t') && !at_eol)) {
			enc[0] = (char)c;
			len = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			len = 3;
		}
		/* Room for the soft break's '=' after this, unless the line ends here. */
		if (col + len > (at_eol ? 76u : 75u)) {
			buf_puts(out, "=\r\n");
			col = 0;
			if (c == '.') {
				enc[0] = '=';
				enc[1] = hex[c >> 4];
				enc[2] = hex[c & 15];
				len = 3;
			}
		}
		buf_append(out, enc, len);
		col += len;
	}
	if (col)
		buf_puts(out, "\r\n");
}

void mime_put_base64(struct buf *out, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i += 57) {
		put_b64_raw(out, p + i, n - i < 57 ? n - i : 57);
		buf_puts(out, "\r\n");
	}
}

bool mime_address_valid(const char *e)
{
	if (!e)
		return false;
	size_t n = strlen(e);
	const char *at = strchr(e, '@');
	if (n < 3 || n > MIME_ADDRESS_MAX || !at || at == e || strchr(at + 1, '@') || (size_t)(at - e) > 64)
		return false;
	for (const char *p = e; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch <= ' ' || ch == 0x7f || strchr("\"(),:;<>[\\]", ch))
			return false;
	}
	if (!str_valid_utf8(str_from(e)))
		return false;
	const char *dom = at + 1;
	const char *dot = strrchr(dom, '.');
	if (!dot || dot == dom || strlen(dot + 1) < 2 || strstr(dom, "..") || dom[0] == '-' || dom[0] == '.')
		return false;
	for (const char *p = dom; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && (unsigned char)*p < 0x80)
			return false;
	return true;
}

char *mime_message_id(struct arena *a, const char *from_email)
{
	unsigned char r[16];
	crypto_random(r, sizeof(r));
	char hex[33];
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	const char *dom = from_email ? strchr(from_email, '@') : NULL;
	bool ok = dom && dom[1] && strlen(dom + 1) < 80;
	for (const char *p = dom ? dom + 1 : ""; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || *p == '-' || *p == '.';
	return arena_printf(a, "<%s@%s>", hex, ok ? dom + 1 : "tandem.invalid");
}

static bool message_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n < 5 || n > MIME_MESSAGE_ID_MAX || id[0] != '<' || id[n - 1] != '>')
		return false;
	const char *at = memchr(id, '@', n);
	if (!at || at == id + 1 || at + 2 >= id + n)
		return false;
	for (size_t i = 1; i + 1 < n; i++) {
		char c = id[i];
		if (!isalnum((unsigned char)c) && !strchr(".-_@", c))
			return false;
	}
	return memchr(at + 1, '@', (size_t)(id + n - at - 1)) == NULL;
}

static bool method_valid(const char *m)
{
	if (!m || !*m || strlen(m) > 20)
		return false;
	for (; *m; m++)
		if (!isupper((unsigned char)*m) && *m != '-')
			return false;
	return true;
}

static bool filename_valid(const char *f)
{
	if (!f || !*f || strlen(f) > 64)
		return false;
	for (; *f; f++)
		if (!isalnum((unsigned char)*f) && !strchr(".-_", *f))
			return false;
	return true;
}

static void put_address_header(struct buf *out, const char *field, const struct mime_address *ad)
{
	buf_puts(out, field);
	buf_puts(out, ": ");
	size_t before = out->len;
	mime_put_phrase(out, ad->name, strlen(field) + 2);
	if (out->len != before && !out->err) {
		/* Fold before the address when it would pass 78 characters. */
		size_t line = out->len;
		while (line > 0 && out->data[line - 1] != '\n')
			line--;
		buf_puts(out, out->len - line + 3 + strlen(ad->email) > 78 ? "\r\n " : " ");
	}
	buf_printf(out, "<%s>\r\n", ad->email);
}

static void boundary(char out[40])
{
	unsigned char r[12];
	crypto_random(r, sizeof(r));
	memcpy(out, "=_tandem_", 9);
	for (int i = 0; i < 12; i++)
		snprintf(out + 9 + 2 * i, 3, "%02x", r[i]);
}

static void put_text_part(struct buf *out, const char *type, const char *body)
{
	buf_printf(out,
	           "Content-Type: %s; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
	           type);
	mime_put_qp(out, body, strlen(body));
}

int mime_build(const struct mime_message *m, struct buf *out)
{
	size_t entry = out->len;
	int rc = ERR_INVALID;
	bool cal = m->calendar != NULL;
	const char *fname = m->attachment_name ? m->attachment_name : "invite.ics";
	if (!mime_address_valid(m->from.email) || !mime_address_valid(m->to.email) ||
	    (m->reply_to && !mime_address_valid(m->reply_to)) || !message_id_valid(m->message_id) ||
	    !m->text || !str_valid_utf8(str_from(m->text)) ||
	    (m->html && !str_valid_utf8(str_from(m->html))) ||
	    (cal && (!method_valid(m->calendar_method) || !filename_valid(fname) ||
	             !str_valid_utf8((struct str){m->calendar, m->calendar_len}))))
		goto out;
	char date[64];
	mime_date(m->date, date, sizeof(date));
	buf_printf(out, "Date: %s\r\n", date);
	put_address_header(out, "From", &m->from);
	put_address_header(out, "To", &m->to);
	if (m->reply_to)
		buf_printf(out, "Reply-To: <%s>\r\n", m->reply_to);
	buf_puts(out, "Subject: ");
	mime_put_unstructured(out, m->subject, 9);
	buf_puts(out, "\r\n");
	buf_printf(out, "Message-ID: %s\r\n", m->message_id);
	buf_puts(out, "MIME-Version: 1.0\r\n");
	/* RFC 3834: no vacation replies to a robot. */
	buf_puts(out, "Auto-Submitted: auto-generated\r\n");
	char outer[40], alt[40];
	boundary(outer);
	boundary(alt);
	if (cal) {
		buf_printf(out, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n\r\n", outer);
		buf_printf(out, "--%s\r\n", outer);
	}
	if (m->html || cal) {
		buf_printf(out, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n", alt);
		buf_printf(out, "--%s\r\n", alt);
		put_text_part(out, "text/plain", m->text);
		if (m->html) {
			buf_printf(out, "--%s\r\n", alt);
			put_text_part(out, "text/html", m->html);
		}
		if (cal) {
			buf_printf(out, "--%s\r\n", alt);
			buf_printf(out,
			           "Content-Type: text/calendar; charset=UTF-8; method=%s\r\n"
			           "Content-Transfer-Encoding: base64\r\n\r\n",
			           m->calendar_method);
			mime_put_base64(out, m->calendar, m->calendar_len);
		}
		buf_printf(out, "--%s--\r\n", alt);
	} else {
		put_text_part(out, "text/plain", m->text);
	}
	if (cal) {
		buf_printf(out, "--%s\r\n", outer);
		buf_printf(out,
		           "Content-Type: application/ics; name=\"%s\"\r\n"
		           "Content-Disposition: attachment; filename=\"%s\"\r\n"
		           "Content-Transfer-Encoding: base64\r\n\r\n",
		           fname, fname);
		mime_put_base64(out, m->calendar, m->calendar_len);
		buf_printf(out, "--%s--\r\n", outer);
	}
	rc = out->err ? ERR_TOO_LARGE : 0;
out:
	if (rc) {
		out->len = entry < out->len ? entry : out->len;
		if (out->data)
			out->data[out->len] = '\0';
	}
	return rc;
}
