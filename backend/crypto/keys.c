/* keys.c — see keys.h. All of mbedtls' GCM and HMAC use is here. */
#include "crypto/keys.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"

enum { KEY_BYTES = 32, MAX_KEYS = 16 };

struct data_key {
	char id[KEY_ID_MAX + 1];      /* printable id, e.g. "k20261121" */
	unsigned char key[KEY_BYTES]; /* AES-256 key */
};

struct keyring {
	struct data_key keys[MAX_KEYS];     /* keys[0] encrypts */
	size_t n;                           /* how many */
	unsigned char index_key[KEY_BYTES]; /* HMAC key for blind indexes */
	bool has_index;                     /* an index line was present */
};

static int unhex(const char *s, size_t slen, unsigned char *out, size_t n)
{
	if (slen != n * 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + (size_t)k];
			int d = isdigit((unsigned char)c) ? c - '0'
			        : (c >= 'a' && c <= 'f')  ? c - 'a' + 10
			        : (c >= 'A' && c <= 'F')  ? c - 'A' + 10
			                                  : -1;
			if (d < 0)
				return -1;
			v = v * 16 + d;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

static bool valid_id(const char *id, size_t n)
{
	if (n == 0 || n > KEY_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
			return false;
	return true;
}

int keyring_parse(const char *text, struct keyring **out, char *err, size_t errlen)
{
	struct keyring *k = xcalloc(1, sizeof(*k));
	int lineno = 0;
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		lineno++;
		char line[256];
		if (len >= sizeof(line)) {
			snprintf(err, errlen, "key file line %d is too long", lineno);
			goto fail;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (eol ? 1 : 0);
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		char *e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (!*s || *s == '#')
			continue;
		char *save = NULL;
		char *word = strtok_r(s, " \t", &save);
		char *a1 = strtok_r(NULL, " \t", &save);
		char *a2 = strtok_r(NULL, " \t", &save);
		if (word && !strcmp(word, "index") && a1 && !a2) {
			if (unhex(a1, strlen(a1), k->index_key, KEY_BYTES)) {
				snprintf(err, errlen, "key file line %d: the index key must be 64 hex digits",
				         lineno);
				goto fail;
			}
			k->has_index = true;
		} else if (word && !strcmp(word, "key") && a1 && a2 && !strtok_r(NULL, " \t", &save)) {
			if (!valid_id(a1, strlen(a1))) {
				snprintf(err, errlen, "key file line %d: a key id is 1-32 of [A-Za-z0-9_-]",
				         lineno);
				goto fail;
			}
			if (k->n == MAX_KEYS) {
				snprintf(err, errlen, "key file: at most %d keys", MAX_KEYS);
				goto fail;
			}
			for (size_t i = 0; i < k->n; i++)
				if (!strcmp(k->keys[i].id, a1)) {
					snprintf(err, errlen, "key file line %d: duplicate key id %s", lineno,
					         a1);
					goto fail;
				}
			if (unhex(a2, strlen(a2), k->keys[k->n].key, KEY_BYTES)) {
				snprintf(err, errlen, "key file line %d: a key must be 64 hex digits",
				         lineno);
				goto fail;
			}
			snprintf(k->keys[k->n].id, sizeof(k->keys[k->n].id), "%s", a1);
			k->n++;
		} else {
			snprintf(err, errlen, "key file line %d: expected \"index HEX\" or \"key ID HEX\"",
			         lineno);
			goto fail;
		}
	}
	if (!k->n || !k->has_index) {
		snprintf(err, errlen, "key file needs an index line and at least one key line");
		goto fail;
	}
	*out = k;
	return 0;
fail:
	keyring_free(k);
	*out = NULL;
	return ERR_CONFIG;
}

int keyring_load(const char *path, struct keyring **out, char *err, size_t errlen)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open key file %s (%s)", path, strerror(errno));
		return ERR_CONFIG;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 16384) {
		close(fd);
		snprintf(err, errlen, "key file %s is not a small regular file", path);
		return ERR_CONFIG;
	}
	if (st.st_mode & 077) {
		close(fd);
		snprintf(err, errlen, "key file %s is readable by others: chmod 600 it", path);
		return ERR_CONFIG;
	}
	char *text = xcalloc(1, (size_t)st.st_size + 1);
	ssize_t n = read(fd, text, (size_t)st.st_size);
	close(fd);
	int rc = ERR_CONFIG;
	if (n == st.st_size)
		rc = keyring_parse(text, out, err, errlen);
	else
		snprintf(err, errlen, "cannot read key file %s", path);
	memset(text, 0, (size_t)st.st_size);
	free(text);
	return rc;
}

void keyring_free(struct keyring *k)
{
	if (!k)
		return;
	memset(k, 0, sizeof(*k));
	free(k);
}

const char *keyring_current_id(const struct keyring *k)
{
	return k->keys[0].id;
}

static void put_hex(char *out, const unsigned char *p, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int keyring_generate_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create key file %s (%s)", path, strerror(errno));
		return ERR_IO;
	}
	unsigned char idx[KEY_BYTES], key[KEY_BYTES], rnd[4];
	crypto_random(idx, sizeof(idx));
	crypto_random(key, sizeof(key));
	crypto_random(rnd, sizeof(rnd));
	char hidx[65], hkey[65], hid[9];
	put_hex(hidx, idx, sizeof(idx));
	put_hex(hkey, key, sizeof(key));
	put_hex(hid, rnd, sizeof(rnd));
	char text[512];
	int n = snprintf(text, sizeof(text),
	                 "# Tandem data keys. Keep outside the database and back it up separately:\n"
	                 "# without it, encrypted data cannot be read. The first key line encrypts.\n"
	                 "index %s\nkey k%s %s\n",
	                 hidx, hid, hkey);
	bool ok = n > 0 && write(fd, text, (size_t)n) == n && fsync(fd) == 0;
	close(fd);
	memset(text, 0, sizeof(text));
	memset(key, 0, sizeof(key));
	memset(idx, 0, sizeof(idx));
	if (!ok) {
		unlink(path);
		snprintf(err, errlen, "cannot write key file %s", path);
		return ERR_IO;
	}
	return 0;
}

/* AD = version | id | caller's binding, so neither can be swapped. */
static size_t build_ad(unsigned char *ad, size_t cap, const char *id, const char *bind)
{
	int n = snprintf((char *)ad, cap, "tandem-v1|%s|%s", id, bind);
	if (n < 0 || (size_t)n >= cap)
		BUG("associated data too long");
	return (size_t)n;
}

int crypto_seal(const struct keyring *k, struct arena *a, const void *pt, size_t n, const char *bind,
                unsigned char **out, size_t *outlen)
{
	const struct data_key *dk = &k->keys[0];
	size_t idlen = strlen(dk->id);
	size_t total = 2 + idlen + ENVELOPE_NONCE + n + ENVELOPE_TAG;
	unsigned char *env = arena_alloc(a, total);
	env[0] = 1;
	env[1] = (unsigned char)idlen;
	memcpy(env + 2, dk->id, idlen);
	unsigned char *nonce = env + 2 + idlen;
	crypto_random(nonce, ENVELOPE_NONCE);
	unsigned char ad[512];
	size_t adlen = build_ad(ad, sizeof(ad), dk->id, bind);
	mbedtls_gcm_context g;
	mbedtls_gcm_init(&g);
	int rc = mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, dk->key, KEY_BYTES * 8);
	if (!rc)
		rc = mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, n, nonce, ENVELOPE_NONCE, ad, adlen,
		                               pt, nonce + ENVELOPE_NONCE, ENVELOPE_TAG,
		                               nonce + ENVELOPE_NONCE + n);
	mbedtls_gcm_free(&g);
	if (rc)
		return ERR_INTERNAL;
	*out = env;
	*outlen = total;
	return 0;
}

int crypto_envelope_key_id(const unsigned char *env, size_t n, char id[KEY_ID_MAX + 1])
{
	if (n < 2 || env[0] != 1 || env[1] == 0 || env[1] > KEY_ID_MAX ||
	    n < 2 + (size_t)env[1] + ENVELOPE_NONCE + ENVELOPE_TAG)
		return ERR_MALFORMED;
	memcpy(id, env + 2, env[1]);
	id[env[1]] = '\0';
	if (!valid_id(id, env[1]))
		return ERR_MALFORMED;
	return 0;
}

int crypto_open(const struct keyring *k, struct arena *a, const unsigned char *env, size_t n,
                const char *bind, char **pt, size_t *ptlen)
{
	char id[KEY_ID_MAX + 1];
	int rc = crypto_envelope_key_id(env, n, id);
	if (rc)
		return rc;
	const struct data_key *dk = NULL;
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->keys[i].id, id))
			dk = &k->keys[i];
	if (!dk)
		return ERR_NOT_FOUND;
	size_t hdr = 2 + strlen(id);
	const unsigned char *nonce = env + hdr;
	size_t clen = n - hdr - ENVELOPE_NONCE - ENVELOPE_TAG;
	unsigned char ad[512];
	size_t adlen = build_ad(ad, sizeof(ad), id, bind);
	char *plain = arena_alloc(a, clen + 1);
	mbedtls_gcm_context g;
	mbedtls_gcm_init(&g);
	rc = mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, dk->key, KEY_BYTES * 8);
	if (!rc)
		rc = mbedtls_gcm_auth_decrypt(&g, clen, nonce, ENVELOPE_NONCE, ad, adlen,
		                              nonce + ENVELOPE_NONCE + clen, ENVELOPE_TAG,
		                              nonce + ENVELOPE_NONCE, (unsigned char *)plain);
	mbedtls_gcm_free(&g);
	if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED)
		return ERR_FORBIDDEN;
	if (rc)
		return ERR_INTERNAL;
	plain[clen] = '\0';
	*pt = plain;
	*ptlen = clen;
	return 0;
}

void crypto_blind_index(const struct keyring *k, const char *value, char hex[65])
{
	unsigned char mac[32];
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	if (mbedtls_md_hmac(md, k->index_key, KEY_BYTES, (const unsigned char *)value, strlen(value), mac) !=
	    0)
		BUG("hmac failed");
	put_hex(hex, mac, sizeof(mac));
}

char *crypto_link_token(const struct keyring *k, struct arena *a, const char *label)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	/* The NUL after the prefix cannot occur in a blind-indexed value (a C
	 * string), so no link token equals any blind index. */
	static const char prefix[] = "tandem-link-v1";
	unsigned char mac[32];
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	mbedtls_md_context_t ctx;
	mbedtls_md_init(&ctx);
	if (mbedtls_md_setup(&ctx, md, 1) != 0 ||
	    mbedtls_md_hmac_starts(&ctx, k->index_key, KEY_BYTES) != 0 ||
	    mbedtls_md_hmac_update(&ctx, (const unsigned char *)prefix, sizeof(prefix)) != 0 ||
	    mbedtls_md_hmac_update(&ctx, (const unsigned char *)label, strlen(label)) != 0 ||
	    mbedtls_md_hmac_finish(&ctx, mac) != 0)
		BUG("hmac failed");
	mbedtls_md_free(&ctx);
	enum { RAW = 16 };
	char *out = arena_alloc(a, (RAW * 4 + 2) / 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < RAW; i += 3) {
		unsigned v = (unsigned)mac[i] << 16;
		if (i + 1 < RAW)
			v |= (unsigned)mac[i + 1] << 8;
		if (i + 2 < RAW)
			v |= mac[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (i + 1 < RAW)
			out[o++] = b64[(v >> 6) & 63];
		if (i + 2 < RAW)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	return out;
}

char *crypto_bytea_hex(struct arena *a, const unsigned char *p, size_t n)
{
	char *s = arena_alloc(a, 2 * n + 3);
	s[0] = '\\';
	s[1] = 'x';
	put_hex(s + 2, p, n);
	return s;
}

int crypto_bytea_parse(struct arena *a, const char *text, unsigned char **out, size_t *n)
{
	size_t len = strlen(text);
	if (len < 2 || text[0] != '\\' || text[1] != 'x' || (len - 2) % 2)
		return ERR_MALFORMED;
	*n = (len - 2) / 2;
	*out = arena_alloc(a, *n ? *n : 1);
	return unhex(text + 2, len - 2, *out, *n) ? ERR_MALFORMED : 0;
}
