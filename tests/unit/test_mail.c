/* Unit tests: building mail (mail/mime.c) — the whole structure, header
 * injection through names and subjects, RFC 2047 encoded words (length,
 * character boundaries, round trip), quoted-printable and base64 (line
 * lengths, round trip), addresses, Message-IDs, dates; the retry backoff;
 * and the derived link tokens. Python's email package reads the same
 * messages in tests/integration/test_mail.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "mail/mail.h"
#include "mail/mime.h"

static const char ICS[] = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
                          "UID:x@y\r\nSUMMARY:Café — Appointment\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

/* ------------------------------------------------------------ helpers */

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes base64 (ignoring CR/LF) into out; returns the length. */
static size_t unbase64(const char *s, size_t n, char *out)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '=')
			continue;
		int v = b64val(s[i]);
		assert_true(v >= 0);
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xFF);
		}
	}
	out[o] = '\0';
	return o;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes quoted-printable: soft breaks vanish, CRLF stays a line break
 * ("\n" in the output). */
static size_t unqp(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' && i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
		} else if (s[i] == '=') {
			assert_true(i + 2 < n);
			int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
			assert_true(h >= 0 && l >= 0);
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else if (s[i] == '\r') {
			assert_true(i + 1 < n && s[i + 1] == '\n');
			out[o++] = '\n';
			i++;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return o;
}

/* Every line ends in CRLF (no bare CR or LF) and is at most max octets. */
static void assert_lines(const char *s, size_t n, size_t max)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			assert_true(i + 1 < n && s[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		assert_true(s[i] != '\n');
		col++;
		assert_true(col <= max);
	}
}

/* The value of header name (unfolded: CRLF + space removed) into out. */
static bool header(const char *msg, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *end = strstr(msg, "\r\n\r\n");
	for (const char *p = msg; p && p < end; p = strstr(p, "\r\n"), p = p ? p + 2 : NULL) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t o = 0;
			while (v < end + 2 && o + 1 < outlen) {
				if (v[0] == '\r' && v[1] == '\n') {
					if (v[2] == ' ' || v[2] == '\t') {
						v += 2;
						continue;
					}
					break;
				}
				out[o++] = *v++;
			}
			out[o] = '\0';
			return true;
		}
	}
	return false;
}

/* Decodes a run of RFC 2047 B words (whitespace between them ignored). */
static void decode_words(const char *s, char *out)
{
	size_t o = 0;
	while (*s) {
		if (*s == ' ') {
			s++;
			continue;
		}
		assert_memory_equal(s, "=?UTF-8?B?", 10);
		const char *e = strstr(s + 10, "?=");
		assert_non_null(e);
		o += unbase64(s + 10, (size_t)(e - s - 10), out + o);
		s = e + 2;
	}
	out[o] = '\0';
}

static struct mime_message sample(void)
{
	return (struct mime_message){
	    .from = {"Riverbend Practice", "hello@riverbend.example"},
	    .to = {"Avery Quill", "avery@example.com"},
	    .reply_to = "desk@riverbend.example",
	    .subject = "Riverbend Practice: confirmed",
	    .date = 1796655600, /* 2026-12-07 15:00:00 UTC */
	    .message_id = "<0123456789abcdef@riverbend.example>",
	    .text = "Hello,\n\nYour appointment is confirmed.\n",
	    .html = "<p>Hello,</p>",
	    .calendar = ICS,
	    .calendar_len = sizeof(ICS) - 1,
	    .calendar_method = "REQUEST",
	};
}

static char *build(struct arena *a, const struct mime_message *m)
{
	struct buf b;
	buf_init(&b, a, 1 << 20);
	assert_int_equal(mime_build(m, &b), 0);
	assert_lines(b.data, b.len, 998);
	return b.data;
}

/* ------------------------------------------------------------ tests */

static void test_structure(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	struct mime_message m = sample();
	char *msg = build(&a, &m);
	char v[2048];
	assert_true(header(msg, "Date", v, sizeof(v)));
	assert_string_equal(v, "Mon, 07 Dec 2026 15:00:00 +0000");
	assert_true(header(msg, "From", v, sizeof(v)));
	assert_string_equal(v, "Riverbend Practice <hello@riverbend.example>");
	assert_true(header(msg, "To", v, sizeof(v)));
	assert_string_equal(v, "Avery Quill <avery@example.com>");
	assert_true(header(msg, "Reply-To", v, sizeof(v)));
	assert_string_equal(v, "<desk@riverbend.example>");
	assert_true(header(msg, "Subject", v, sizeof(v)));
	assert_string_equal(v, "Riverbend Practice: confirmed");
	assert_true(header(msg, "Message-ID", v, sizeof(v)));
	assert_string_equal(v, "<0123456789abcdef@riverbend.example>");
	assert_true(header(msg, "MIME-Version", v, sizeof(v)));
	assert_string_equal(v, "1.0");
	assert_true(header(msg, "Auto-Submitted", v, sizeof(v)));
	assert_true(header(msg, "Content-Type", v, sizeof(v)));
	assert_non_null(strstr(v, "multipart/mixed; boundary=\"=_tandem_"));
	/* The parts, in order. */
	const char *alt = strstr(msg, "Content-Type: multipart/alternative;\r\n boundary=");
	const char *plain = strstr(msg, "Content-Type: text/plain; charset=UTF-8");
	const char *html = strstr(msg, "Content-Type: text/html; charset=UTF-8");
	const char *cal = strstr(msg, "Content-Type: text/calendar; charset=UTF-8; method=REQUEST");
	const char *att = strstr(msg, "Content-Type: application/ics; name=\"invite.ics\"");
	assert_true(alt && plain && html && cal && att);
	assert_true(alt < plain && plain < html && html < cal && cal < att);
	assert_non_null(strstr(att, "Content-Disposition: attachment; filename=\"invite.ics\""));
	/* The calendar, inline and attached, decodes to the same bytes. */
	const char *body = strstr(cal, "\r\n\r\n") + 4;
	char dec[4096];
	size_t n = unbase64(body, strcspn(body, "-"), dec);
	assert_int_equal(n, sizeof(ICS) - 1);
	assert_memory_equal(dec, ICS, n);
	body = strstr(att, "\r\n\r\n") + 4;
	n = unbase64(body, strcspn(body, "-"), dec);
	assert_memory_equal(dec, ICS, sizeof(ICS) - 1);
	/* The text part round-trips. */
	body = strstr(plain, "\r\n\r\n") + 4;
	n = unqp(body, (size_t)(strstr(body, "--=_tandem_") - body), dec);
	assert_string_equal(dec, "Hello,\n\nYour appointment is confirmed.\n");
	/* Both boundaries close. */
	char outer[64];
	assert_int_equal(sscanf(strstr(msg, "boundary=\"") + 10, "%63[^\"]", outer), 1);
	char close[80];
	snprintf(close, sizeof(close), "\r\n--%s--\r\n", outer);
	assert_non_null(strstr(msg, close));
	arena_release(&a);
}

static void test_without_calendar_or_html(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	struct mime_message m = sample();
	m.calendar = NULL;
	char *msg = build(&a, &m);
	char v[512];
	assert_true(header(msg, "Content-Type", v, sizeof(v)));
	assert_non_null(strstr(v, "multipart/alternative"));
	assert_null(strstr(msg, "text/calendar"));
	assert_null(strstr(msg, "multipart/mixed"));
	m.html = NULL;
	msg = build(&a, &m);
	assert_true(header(msg, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "text/plain; charset=UTF-8");
	assert_null(strstr(msg, "multipart"));
	assert_null(m.reply_to ? NULL : "reply");
	m.reply_to = NULL;
	msg = build(&a, &m);
	assert_false(header(msg, "Reply-To", v, sizeof(v)));
	arena_release(&a);
}

/* Nothing in a name or subject can start a new header or end the address. */
static void test_header_injection(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	static const char *const names[] = {
	    "Eve\r\nBcc: victim@example.com", "Eve\nBcc: victim@example.com", "Eve\rBcc: victim@example.com",
	    "Eve\" <evil@example.com>, \"x",  "Eve\\\" <evil@example.com>",   "=?UTF-8?B?QmNjOiB4?=",
	    "Eve\t\v\f\x01\x7f Smith",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct mime_message m = sample();
		m.to.name = names[i];
		m.subject = names[i];
		char *msg = build(&a, &m);
		const char *head_end = strstr(msg, "\r\n\r\n");
		/* No line of the head starts a Bcc header. */
		for (const char *p = msg; p < head_end; p = strstr(p, "\r\n") + 2)
			assert_false(strncasecmp(p, "Bcc", 3) == 0);
		assert_null(memmem(msg, (size_t)(head_end - msg), "\r\nBcc", 5));
		char to[1024];
		assert_true(header(msg, "To", to, sizeof(to)));
		/* The real address is the only angle-addr, at the end. */
		const char *lt = strrchr(to, '<');
		assert_string_equal(lt, "<avery@example.com>");
		if (to[0] == '"') {
			/* A quoted string: every inner quote is escaped. */
			const char *q = to + 1;
			while (*q && !(*q == '"' && q[-1] != '\\'))
				q++;
			assert_int_equal(q[1], ' ');
			assert_ptr_equal(q + 2, lt);
		} else if (strncmp(to, "=?", 2) == 0) {
			char words[1024], dec[1024];
			snprintf(words, sizeof(words), "%.*s", (int)(lt - to - 1), to);
			decode_words(words, dec);
			assert_null(strchr(dec, '\r'));
			assert_null(strchr(dec, '\n'));
		} else {
			assert_null(strchr(to, '"'));
		}
		/* Controls never reach the head. */
		for (const char *p = msg; p < head_end; p++)
			assert_true((unsigned char)*p >= 0x20 || *p == '\r' || *p == '\n');
	}
	struct mime_message m = sample();
	m.to.name = "Eve\" <evil@example.com>, \"x";
	char *msg = build(&a, &m);
	char to[256];
	assert_true(header(msg, "To", to, sizeof(to)));
	assert_string_equal(to, "\"Eve\\\" <evil@example.com>, \\\"x\" <avery@example.com>");
	arena_release(&a);
}

static void test_encoded_words(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	struct mime_message m = sample();
	/* 2-, 3- and 4-byte characters, long enough for several words. */
	const char *name = "Zoë Ångström-Þórsdóttir 山田太郎 😀😀😀 Ünïcödé Nâmé Thät Gœs On Änd Ön";
	m.to.name = name;
	m.subject = "Riverbend Practice: confirmed for Monday, December 7, 2026, 9:00 AM – 4:00 PM CST "
	            "and a long tail so that it needs several encoded words";
	char *msg = build(&a, &m);
	assert_lines(msg, strlen(msg), 78);
	char to[2048], dec[2048];
	assert_true(header(msg, "To", to, sizeof(to)));
	char *lt = strrchr(to, '<');
	assert_string_equal(lt, "<avery@example.com>");
	lt[-1] = '\0';
	decode_words(to, dec);
	assert_string_equal(dec, name);
	char subj[2048];
	assert_true(header(msg, "Subject", subj, sizeof(subj)));
	decode_words(subj, dec);
	assert_string_equal(dec, m.subject);
	/* Each word is at most 75 characters and decodes to whole characters. */
	for (const char *p = strstr(msg, "=?UTF-8?B?"); p; p = strstr(p + 1, "=?UTF-8?B?")) {
		const char *e = strstr(p + 10, "?=");
		assert_true(e + 2 - p <= 75);
		char one[128];
		size_t n = unbase64(p + 10, (size_t)(e - p - 10), one);
		assert_true(str_valid_utf8((struct str){one, n}));
	}
	/* ASCII with atoms only stays as it is; other ASCII is quoted. */
	struct buf b;
	buf_init(&b, &a, 1024);
	mime_put_phrase(&b, "  Avery   Quill ", 4);
	assert_string_equal(buf_cstr(&b), "Avery Quill");
	buf_reset(&b);
	mime_put_phrase(&b, "Dr. O'Neil, Jr.", 4);
	assert_string_equal(buf_cstr(&b), "\"Dr. O'Neil, Jr.\"");
	buf_reset(&b);
	mime_put_phrase(&b, "", 4);
	assert_int_equal(b.len, 0);
	buf_reset(&b);
	mime_put_phrase(&b, "bad \xff\xfe utf8", 4);
	assert_string_equal(buf_cstr(&b), "bad ?? utf8");
	arena_release(&a);
}

static void test_ascii_subject_folds(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	struct buf b;
	buf_init(&b, &a, 4096);
	const char *s =
	    "Riverbend Practice: reserved dates released, Monday, December 14, 2026 and more words "
	    "to fold again";
	buf_puts(&b, "Subject: ");
	mime_put_unstructured(&b, s, 9);
	assert_lines(b.data, b.len, 78);
	/* Unfolding gives the text back. */
	char un[4096];
	size_t o = 0;
	for (size_t i = 9; i < b.len; i++)
		if (!(b.data[i] == '\r' || b.data[i] == '\n'))
			un[o++] = b.data[i];
	un[o] = '\0';
	assert_string_equal(un, s);
	arena_release(&a);
}

static void test_quoted_printable(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	struct buf b;
	buf_init(&b, &a, 1 << 16);
	char in[4096];
	size_t n = 0;
	/* Long lines, '=' signs, trailing spaces, a leading dot, UTF-8, CRLF and LF. */
	n += (size_t)snprintf(in + n, sizeof(in) - n, "a=b %s\r\n", "x");
	for (int i = 0; i < 200; i++)
		in[n++] = (char)('a' + i % 26);
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\n.leading dot\ntrailing space \n");
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "é");
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\ntab\tend\t");
	in[n] = '\0';
	mime_put_qp(&b, in, n);
	assert_lines(b.data, b.len, 76);
	/* No line ends in a space or tab; no line starts with a dot. */
	for (const char *p = b.data; *p; p = strstr(p, "\r\n") + 2) {
		assert_true(*p != '.');
		const char *e = strstr(p, "\r\n");
		assert_non_null(e);
		if (e > p)
			assert_true(e[-1] != ' ' && e[-1] != '\t');
	}
	char out[8192];
	unqp(b.data, b.len, out);
	/* Line breaks come back as LF. */
	char want[4096];
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (in[i] != '\r')
			want[w++] = in[i];
	want[w++] = '\n'; /* a last line always ends */
	want[w] = '\0';
	assert_string_equal(out, want);
	arena_release(&a);
}

static void test_base64_lines(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	for (size_t len = 0; len < 200; len++) {
		char in[256], out[512];
		for (size_t i = 0; i < len; i++)
			in[i] = (char)(i * 7 + 3);
		struct buf b;
		buf_init(&b, &a, 4096);
		mime_put_base64(&b, in, len);
		assert_lines(b.data ? b.data : "", b.len, 76);
		assert_int_equal(unbase64(b.data ? b.data : "", b.len, out), len);
		assert_memory_equal(out, in, len);
	}
	arena_release(&a);
}

static void test_addresses(void **state)
{
	(void)state;
	static const char *const good[] = {"a@b.co", "avery.quill+tag@example.com", "x@mail.example.org",
	                                   "zoë@exämple.de"};
	static const char *const bad[] = {NULL,       "",          "a@b",          "@b.co",    "a@",
	                                  "a@@b.co",  "a b@c.de",  "a@b..co",      "a@-b.co",  "a@.b.co",
	                                  "a<b@c.de", "a@b.co>",   "a@b.co\r\nX:", "a\n@b.co", "\"a\"@b.co",
	                                  "a,b@c.de", "a@b.c",     "a@b_c.de",     "a;b@c.de", "a@[1.2.3.4]",
	                                  "a:b@c.de", "a@b.co\x7f"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(mime_address_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(mime_address_valid(bad[i]));
	char longer[300];
	memset(longer, 'a', 65);
	snprintf(longer + 65, sizeof(longer) - 65, "@example.com");
	assert_false(mime_address_valid(longer)); /* local part over 64 */
	/* mime_build refuses bad addresses and leaves the buffer as it was. */
	struct arena a;
	arena_init(&a);
	struct buf b;
	buf_init(&b, &a, 1 << 16);
	buf_puts(&b, "keep");
	struct mime_message m = sample();
	m.to.email = "victim@example.com>\r\nBcc: x@y.z";
	assert_int_equal(mime_build(&m, &b), ERR_INVALID);
	assert_string_equal(buf_cstr(&b), "keep");
	m = sample();
	m.reply_to = "not an address";
	assert_int_equal(mime_build(&m, &b), ERR_INVALID);
	m = sample();
	m.message_id = "<a b@c>";
	assert_int_equal(mime_build(&m, &b), ERR_INVALID);
	m = sample();
	m.calendar_method = "REQUEST\r\nX: y";
	assert_int_equal(mime_build(&m, &b), ERR_INVALID);
	m = sample();
	m.text = "bad \xc3 utf-8";
	assert_int_equal(mime_build(&m, &b), ERR_INVALID);
	m = sample();
	m.attachment_name = "../../x\".ics";
	assert_int_equal(mime_build(&m, &b), ERR_INVALID);
	assert_string_equal(buf_cstr(&b), "keep");
	/* Too small a buffer: ERR_TOO_LARGE, cut back. */
	struct buf small;
	buf_init(&small, &a, 300);
	buf_puts(&small, "keep");
	m = sample();
	assert_int_equal(mime_build(&m, &small), ERR_TOO_LARGE);
	assert_int_equal(small.len, 4);
	arena_release(&a);
}

static void test_message_id_and_date(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	char *id = mime_message_id(&a, "hello@riverbend.example");
	assert_int_equal(strlen(id), 1 + 32 + 1 + strlen("riverbend.example") + 1);
	assert_int_equal(id[0], '<');
	assert_string_equal(id + 33, "@riverbend.example>");
	char *id2 = mime_message_id(&a, "hello@riverbend.example");
	assert_string_not_equal(id, id2);
	assert_string_equal(strchr(mime_message_id(&a, "x@exämple.de"), '@'), "@tandem.invalid>");
	assert_string_equal(strchr(mime_message_id(&a, NULL), '@'), "@tandem.invalid>");
	char d[64];
	mime_date(0, d, sizeof(d));
	assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	mime_date(1709251199, d, sizeof(d)); /* a leap day */
	assert_string_equal(d, "Thu, 29 Feb 2024 23:59:59 +0000");
	arena_release(&a);
}

static void test_backoff(void **state)
{
	(void)state;
	/* base * 2^(n-1), capped, times [0.5, 1). */
	assert_int_equal(outbox_backoff(60, 3600, 1, 0.0), 30);
	assert_int_equal(outbox_backoff(60, 3600, 1, 0.999), 59);
	assert_int_equal(outbox_backoff(60, 3600, 2, 0.0), 60);
	assert_int_equal(outbox_backoff(60, 3600, 3, 0.0), 120);
	assert_int_equal(outbox_backoff(60, 3600, 7, 0.0), 1800);
	assert_int_equal(outbox_backoff(60, 3600, 8, 0.0), 1800); /* 3840 capped at 3600 */
	assert_int_equal(outbox_backoff(60, 3600, 50, 0.5), 2700);
	assert_int_equal(outbox_backoff(60, 3600, 1000, 0.0), 1800);
	assert_int_equal(outbox_backoff(1, 3600, 1, 0.0), 1); /* never 0 */
	for (int n = 1; n < 40; n++) {
		int64_t lo = outbox_backoff(60, 3600, n, 0.0), hi = outbox_backoff(60, 3600, n, 0.999);
		assert_true(lo <= hi && hi <= 3600 && lo >= 30);
		if (n > 1)
			assert_true(outbox_backoff(60, 3600, n - 1, 0.0) <= lo);
	}
}

static const char RING[] = "index 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
                           "key k1 1111111111111111111111111111111111111111111111111111111111111111\n";
static const char RING2[] = "index 0f0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
                            "key k1 1111111111111111111111111111111111111111111111111111111111111111\n";

static void test_link_tokens(void **state)
{
	(void)state;
	struct keyring *k, *k2;
	char err[128];
	assert_int_equal(keyring_parse(RING, &k, err, sizeof(err)), 0);
	assert_int_equal(keyring_parse(RING2, &k2, err, sizeof(err)), 0);
	struct arena a;
	arena_init(&a);
	char *t1 = crypto_link_token(k, &a, "booking:abc@x:1");
	char *t2 = crypto_link_token(k, &a, "booking:abc@x:2");
	assert_int_equal(strlen(t1), 22); /* 128 bits, base64url */
	for (const char *p = t1; *p; p++)
		assert_non_null(
		    strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
	assert_string_equal(t1, crypto_link_token(k, &a, "booking:abc@x:1"));      /* stable */
	assert_string_not_equal(t1, t2);                                           /* per person */
	assert_string_not_equal(t1, crypto_link_token(k2, &a, "booking:abc@x:1")); /* per key */
	/* Not the blind index of the same text. */
	char idx[65];
	crypto_blind_index(k, "booking:abc@x:1", idx);
	assert_null(strstr(idx, t1));
	arena_release(&a);
	keyring_free(k);
	keyring_free(k2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_structure),           cmocka_unit_test(test_without_calendar_or_html),
	    cmocka_unit_test(test_header_injection),    cmocka_unit_test(test_encoded_words),
	    cmocka_unit_test(test_ascii_subject_folds), cmocka_unit_test(test_quoted_printable),
	    cmocka_unit_test(test_base64_lines),        cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_message_id_and_date), cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_link_tokens),
	};
	return cmocka_run_group_tests_name("mail", tests, NULL, NULL);
}
