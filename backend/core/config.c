/* config.c — see config.h. The table below is the only list of keys. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>

#include "core/log.h"

enum cfg_type { CFG_STRING, CFG_LONG, CFG_BOOL };

struct cfg_key {
	const char *name;   /* key in the file; env is TANDEM_ + upper(name) */
	enum cfg_type type; /* how the value is parsed */
	size_t offset;      /* field in struct config */
	const char *def;    /* default, as text */
	long min, max;      /* bounds for CFG_LONG */
	bool secret;        /* redacted in logs; may come from <name>_file */
	int (*validate)(const char *value, char *err, size_t errlen); /* extra check, or NULL */
};

static int validate_listen(const char *v, char *err, size_t errlen)
{
	const char *colon = strrchr(v, ':');
	if (!colon || colon == v || !colon[1]) {
		snprintf(err, errlen, "listen must be address:port, got \"%s\"", v);
		return ERR_CONFIG;
	}
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno || *end || port < 1 || port > 65535) {
		snprintf(err, errlen, "listen port must be 1-65535, got \"%s\"", colon + 1);
		return ERR_CONFIG;
	}
	return 0;
}

/* "", or up to 4 comma-separated whole hours, each 1..720. */
static int validate_hour_list(const char *v, char *err, size_t errlen)
{
	int n = 0;
	const char *p = v;
	while (*p) {
		char *end;
		long h = strtol(p, &end, 10);
		if (end == p || h < 1 || h > 720 || ++n > 4 || (*end && *end != ',')) {
			snprintf(err, errlen,
			         "must be up to 4 comma-separated hours, each 1 to 720 (e.g. 72,24)");
			return ERR_CONFIG;
		}
		p = *end ? end + 1 : end;
		if (*end && !*p) {
			snprintf(err, errlen, "must not end with a comma");
			return ERR_CONFIG;
		}
	}
	return 0;
}

static int validate_base_url(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) || v[n - 1] == '/') {
		snprintf(err, errlen, "base_url must start with http:// or https:// and not end in /");
		return ERR_CONFIG;
	}
	return 0;
}

static int validate_log_level(const char *v, char *err, size_t errlen)
{
	if (log_level_parse(v) < 0) {
		snprintf(err, errlen, "log_level must be debug, info, warn or error");
		return ERR_CONFIG;
	}
	return 0;
}

static int validate_mail_transport(const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "file") && strcmp(v, "smtp")) {
		snprintf(err, errlen, "mail_transport must be file or smtp");
		return ERR_CONFIG;
	}
	return 0;
}

#define OFF(f) offsetof(struct config, f)
static const struct cfg_key keys[] = {
    {"database_url", CFG_STRING, OFF(database_url), "", 0, 0, true, NULL},
    {"listen", CFG_STRING, OFF(listen), "127.0.0.1:8080", 0, 0, false, validate_listen},
    {"base_url", CFG_STRING, OFF(base_url), "http://127.0.0.1:8080", 0, 0, false, validate_base_url},
    {"template_dir", CFG_STRING, OFF(template_dir), "templates", 0, 0, false, NULL},
    {"log_level", CFG_STRING, OFF(log_level), "info", 0, 0, false, validate_log_level},
    {"threads", CFG_LONG, OFF(threads), "8", 1, 256, false, NULL},
    {"max_body", CFG_LONG, OFF(max_body), "11534336", 1024, 64L << 20, false, NULL},
    {"request_timeout_ms", CFG_LONG, OFF(request_timeout_ms), "30000", 100, 600000, false, NULL},
    {"db_connect_timeout", CFG_LONG, OFF(db_connect_timeout), "3", 1, 60, false, NULL},
    {"db_statement_timeout_ms", CFG_LONG, OFF(db_statement_timeout_ms), "10000", 100, 3600000, false, NULL},
    {"access_log", CFG_BOOL, OFF(access_log), "true", 0, 0, false, NULL},
    {"key_file", CFG_STRING, OFF(key_file), "var/tandem.keys", 0, 0, false, NULL},
    {"jobs_interval_s", CFG_LONG, OFF(jobs_interval_s), "30", 1, 3600, false, NULL},
    {"calendar_fetch_timeout_s", CFG_LONG, OFF(calendar_fetch_timeout_s), "30", 1, 600, false, NULL},
    {"calendar_max_bytes", CFG_LONG, OFF(calendar_max_bytes), "10485760", 4096, 100L << 20, false, NULL},
    {"calendar_allow_private", CFG_BOOL, OFF(calendar_allow_private), "false", 0, 0, false, NULL},
    {"feed_past_days", CFG_LONG, OFF(feed_past_days), "30", 0, 3650, false, NULL},
    {"feed_future_days", CFG_LONG, OFF(feed_future_days), "365", 1, 3650, false, NULL},
    {"feed_rate_limit", CFG_LONG, OFF(feed_rate_limit), "60", 1, 100000, false, NULL},
    {"feed_rate_window_s", CFG_LONG, OFF(feed_rate_window_s), "3600", 1, 86400, false, NULL},
    {"mail_transport", CFG_STRING, OFF(mail_transport), "file", 0, 0, false, validate_mail_transport},
    {"mail_dir", CFG_STRING, OFF(mail_dir), "var/mail", 0, 0, false, NULL},
    {"mail_from", CFG_STRING, OFF(mail_from), "", 0, 0, false, NULL},
    {"mail_reply_to", CFG_STRING, OFF(mail_reply_to), "", 0, 0, false, NULL},
    {"mail_max_attempts", CFG_LONG, OFF(mail_max_attempts), "16", 1, 100, false, NULL},
    {"mail_retry_base_s", CFG_LONG, OFF(mail_retry_base_s), "60", 1, 86400, false, NULL},
    {"mail_retry_max_s", CFG_LONG, OFF(mail_retry_max_s), "3600", 1, 604800, false, NULL},
    {"mail_poll_ms", CFG_LONG, OFF(mail_poll_ms), "1000", 50, 600000, false, NULL},
    {"mail_keep_days", CFG_LONG, OFF(mail_keep_days), "30", 1, 3650, false, NULL},
    {"reminder_hours", CFG_LONG, OFF(reminder_hours), "48", 0, 720, false, NULL},
    {"intake_reminder_hours", CFG_STRING, OFF(intake_reminder_hours), "72,24", 0, 0, false,
     validate_hour_list},
    {"smtp_url", CFG_STRING, OFF(smtp_url), "", 0, 0, true, NULL},
    {"smtp_user", CFG_STRING, OFF(smtp_user), "", 0, 0, false, NULL},
    {"smtp_password", CFG_STRING, OFF(smtp_password), "", 0, 0, true, NULL},
    {"smtp_ca_file", CFG_STRING, OFF(smtp_ca_file), "", 0, 0, false, NULL},
    {"smtp_allow_plain_loopback", CFG_BOOL, OFF(smtp_plain_loopback), "false", 0, 0, false, NULL},
    {"smtp_timeout_s", CFG_LONG, OFF(smtp_timeout_s), "60", 5, 600, false, NULL},
    {"insecure_dev_cookies", CFG_BOOL, OFF(insecure_dev_cookies), "false", 0, 0, false, NULL},
    {"trust_proxy", CFG_BOOL, OFF(trust_proxy), "false", 0, 0, false, NULL},
    {"session_idle_s", CFG_LONG, OFF(session_idle_s), "1800", 1, 86400, false, NULL},
    {"session_absolute_s", CFG_LONG, OFF(session_absolute_s), "43200", 1, 2592000, false, NULL},
    {"login_free_attempts", CFG_LONG, OFF(login_free_attempts), "5", 1, 100, false, NULL},
    {"login_backoff_base_s", CFG_LONG, OFF(login_backoff_base_s), "2", 1, 3600, false, NULL},
    {"login_backoff_max_s", CFG_LONG, OFF(login_backoff_max_s), "900", 1, 86400, false, NULL},
};
#undef OFF

static void errf(char *err, size_t errlen, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const struct cfg_key *find_key(const char *name, size_t len, bool *is_file)
{
	*is_file = false;
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		size_t kl = strlen(keys[i].name);
		if (len == kl && strncmp(name, keys[i].name, len) == 0)
			return &keys[i];
		if (keys[i].secret && len == kl + 5 && strncmp(name, keys[i].name, kl) == 0 &&
		    strncmp(name + kl, "_file", 5) == 0) {
			*is_file = true;
			return &keys[i];
		}
	}
	return NULL;
}

/* Reads a secret file: at most 64 KiB, trailing newline removed. */
static char *read_secret(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		errf(err, errlen, "cannot read secret file %s", path);
		return NULL;
	}
	char *data = xmalloc(65537);
	size_t n = fread(data, 1, 65536, f);
	bool more = fgetc(f) != EOF;
	fclose(f);
	if (more) {
		free(data);
		errf(err, errlen, "secret file %s is over 64 KiB", path);
		return NULL;
	}
	while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	data[n] = '\0';
	return data;
}

static int set_value(struct config *cfg, const struct cfg_key *k, const char *value, const char *where,
                     char *err, size_t errlen)
{
	char *field = (char *)cfg + k->offset;
	char sub[256];
	switch (k->type) {
	case CFG_STRING:
		if (k->validate && k->validate(value, sub, sizeof(sub)) != 0) {
			errf(err, errlen, "%s: %s", where, sub);
			return ERR_CONFIG;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case CFG_LONG: {
		char *end;
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < k->min || v > k->max) {
			errf(err, errlen, "%s: %s must be an integer from %ld to %ld", where, k->name, k->min,
			     k->max);
			return ERR_CONFIG;
		}
		*(long *)field = v;
		return 0;
	}
	case CFG_BOOL:
		if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1")) {
			*(bool *)field = true;
		} else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0")) {
			*(bool *)field = false;
		} else {
			errf(err, errlen, "%s: %s must be true or false", where, k->name);
			return ERR_CONFIG;
		}
		return 0;
	}
	BUG("unknown config type");
}

static int set_named(struct config *cfg, const char *name, size_t len, const char *value, const char *where,
                     char *err, size_t errlen)
{
	bool is_file;
	const struct cfg_key *k = find_key(name, len, &is_file);
	if (!k) {
		errf(err, errlen, "%s: unknown key \"%.*s\"", where, (int)(len > 64 ? 64 : len), name);
		return ERR_CONFIG;
	}
	if (!is_file)
		return set_value(cfg, k, value, where, err, errlen);
	char *secret = read_secret(value, err, errlen);
	if (!secret)
		return ERR_CONFIG;
	int rc = set_value(cfg, k, secret, where, err, errlen);
	free(secret);
	return rc;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		errf(err, errlen, "cannot open config file %s", path);
		return ERR_CONFIG;
	}
	char line[4096];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char where[512];
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (!strchr(line, '\n') && !feof(f)) {
			errf(err, errlen, "%s: line too long", where);
			rc = ERR_CONFIG;
			break;
		}
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			errf(err, errlen, "%s: expected key = value", where);
			rc = ERR_CONFIG;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		size_t vl = strlen(value);
		if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
			value[vl - 1] = '\0';
			value++;
		}
		rc = set_named(cfg, key, strlen(key), value, where, err, errlen);
		if (rc)
			break;
	}
	fclose(f);
	return rc;
}

extern char **environ;

static int load_env(struct config *cfg, char *err, size_t errlen)
{
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, "TANDEM_", 7) != 0)
			continue;
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		const char *name = *e + 7;
		size_t len = (size_t)(eq - name);
		/* Variables of the tooling around the server, not configuration. */
		if ((len == 6 && !strncmp(name, "CONFIG", 6)) || (len == 3 && !strncmp(name, "BIN", 3)))
			continue;
		char lower[128];
		if (len >= sizeof(lower)) {
			errf(err, errlen, "environment: unknown variable TANDEM_%.40s…", name);
			return ERR_CONFIG;
		}
		for (size_t i = 0; i < len; i++)
			lower[i] = (char)tolower((unsigned char)name[i]);
		lower[len] = '\0';
		char where[160];
		snprintf(where, sizeof(where), "environment TANDEM_%.*s", (int)len, name);
		int rc = set_named(cfg, lower, len, eq + 1, where, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int config_load(struct config *cfg, const char *file, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		int rc = set_value(cfg, &keys[i], keys[i].def, "default", err, errlen);
		if (rc)
			BUG("bad config default");
	}
	if (!file)
		file = getenv("TANDEM_CONFIG");
	if (file && *file) {
		int rc = load_file(cfg, file, err, errlen);
		if (rc)
			return rc;
	}
	return load_env(cfg, err, errlen);
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (keys[i].type == CFG_STRING) {
			char **p = (char **)((char *)cfg + keys[i].offset);
			free(*p);
			*p = NULL;
		}
}

/* Copies url with every password value replaced by "***": the userinfo
 * of a URI (scheme://user:password@host), a "password=" query parameter of
 * a URI (?password=... or &password=...), and the keyword form
 * (password=value or password='quoted value'). */
char *config_redact_url(const char *url)
{
	size_t n = strlen(url);
	char *out = xmalloc(n + 16);
	size_t o = 0;
	const char *p = url;
	const char *scheme = strstr(url, "://");
	bool uri = scheme && scheme > url && !strpbrk(url, " \t");
	if (uri) {
		const char *auth = scheme + 3;
		size_t alen = strcspn(auth, "/?#");
		const char *at = memchr(auth, '@', alen);
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			memcpy(out, url, (size_t)(colon + 1 - url));
			o = (size_t)(colon + 1 - url);
			memcpy(out + o, "***", 3);
			o += 3;
			p = at;
		}
	}
	while (*p) {
		bool start =
		    p == url || (uri ? (p[-1] == '?' || p[-1] == '&') : isspace((unsigned char)p[-1]));
		if (start && strncmp(p, "password", 8) == 0) {
			const char *q = p + 8;
			while (!uri && isspace((unsigned char)*q))
				q++;
			if (*q == '=') {
				q++;
				while (!uri && isspace((unsigned char)*q))
					q++;
				memcpy(out + o, "password=***", 12);
				o += 12;
				if (uri) {
					q += strcspn(q, "&#");
				} else if (*q == '\'') {
					q++;
					while (*q && *q != '\'')
						q += (*q == '\\' && q[1]) ? 2 : 1;
					if (*q)
						q++;
				} else {
					while (*q && !isspace((unsigned char)*q))
						q++;
				}
				p = q;
				continue;
			}
		}
		if (o < n + 15)
			out[o++] = *p;
		p++;
	}
	out[o] = '\0';
	return out;
}

void config_log(const struct config *cfg)
{
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		const struct cfg_key *k = &keys[i];
		const char *field = (const char *)cfg + k->offset;
		switch (k->type) {
		case CFG_STRING: {
			const char *v = *(char *const *)field;
			if (k->secret && strcmp(k->name, "database_url") && strcmp(k->name, "smtp_url")) {
				/* A bare secret (a password): nothing of it is shown. */
				log_info("config %s = \"%s\"", k->name, v && *v ? "***" : "");
			} else if (k->secret) {
				char *r = config_redact_url(v ? v : "");
				log_info("config %s = \"%s\"", k->name, r);
				free(r);
			} else {
				log_info("config %s = \"%s\"", k->name, v ? v : "");
			}
			break;
		}
		case CFG_LONG: log_info("config %s = %ld", k->name, *(const long *)field); break;
		case CFG_BOOL:
			log_info("config %s = %s", k->name, *(const bool *)field ? "true" : "false");
			break;
		}
	}
}
