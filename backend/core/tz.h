/*
 * tz.h — time zones: UTC instants ↔ local wall-clock time for any IANA zone.
 *
 * Bookings are stored as UTC instants but offered and shown in a
 * clinician's or client's local time, across daylight-saving changes. This
 * module reads the system's compiled TZif files (RFC 8536; /usr/share/zoneinfo,
 * or $TZDIR) itself — the 64-bit v2+ data block plus the POSIX TZ footer rule
 * for instants after the last stored transition, so "slim" files work too —
 * because the libc route (setenv("TZ") + localtime_r) changes process-wide
 * state and civetweb serves requests on many threads.
 *
 * Times are int64_t seconds. An instant is Unix time (UTC, no leap seconds).
 * A "local" value is a wall-clock reading encoded the same way as if it were
 * UTC: days_since_1970 * 86400 + seconds_into_the_day. Instants and local
 * values are clamped to ±2^41 s (about ±69,000 years) before use, so no input
 * can overflow. Leap-second ("right/") zone files are refused.
 *
 * Loaded zones are immutable and may be shared freely between threads.
 */
#ifndef TANDEM_CORE_TZ_H
#define TANDEM_CORE_TZ_H

#include "core/common.h"

/* ---- Civil date helpers (proleptic Gregorian, no time zone) ---- */

/* Days since 1970-01-01 (negative before). m 1..12, d 1..31; out-of-range
 * months or days are not checked (use tz_valid_date first). */
int64_t tz_days_from_civil(int y, int m, int d);
/* The inverse of tz_days_from_civil; |days| must stay below about 7e11. */
void tz_civil_from_days(int64_t days, int *y, int *m, int *d);
/* ISO weekday of a day number: 1 = Monday ... 7 = Sunday. */
int tz_iso_weekday(int64_t days);
/* True when y-m-d exists (m 1..12, d within the month, leap years honoured). */
bool tz_valid_date(int y, int m, int d);
/* Days in month m (1..12) of year y; 0 for a bad month. */
int tz_days_in_month(int y, int m);

/* ---- Zones ---- */

/* Opaque, immutable once loaded. Zones from tz_get are owned by the cache
 * and live until tz_cache_clear(); zones from tz_parse are the caller's. */
struct tz;

/* Loads (once, then from a cache guarded by a mutex) the zone named e.g.
 * "America/Chicago" or "UTC" from $TZDIR or /usr/share/zoneinfo.
 * ERR_NOT_FOUND for an unknown zone and for any name that is not a plausible
 * zone name: empty, over 255 bytes, a leading or trailing '/', an empty path
 * component, or a character outside [A-Za-z0-9/_+-] (so "..", "." and
 * absolute paths never reach the file system). ERR_INVALID when the file is
 * not a usable TZif file, ERR_IO when it cannot be read. Thread-safe. */
int tz_get(const char *name, const struct tz **out);
/* Parses a TZif image of len bytes (for tests and the fuzzer). name is
 * copied (NULL means ""). ERR_INVALID for anything malformed. The caller
 * frees *out with tz_free. */
int tz_parse(const unsigned char *data, size_t len, const char *name, struct tz **out);
void tz_free(struct tz *z);
/* Frees every cached zone. Only when no thread can still use one (tests,
 * exit). */
void tz_cache_clear(void);
/* The name the zone was loaded under; owned by the zone. */
const char *tz_name(const struct tz *z);

/* UTC offset in seconds (local = utc + offset) in force at instant t. */
int32_t tz_offset_at(const struct tz *z, int64_t t);
/* The abbreviation in force at instant t ("EST", "CEST", "+1030"); owned by
 * the zone. */
const char *tz_abbrev_at(const struct tz *z, int64_t t);

/* Kinds of local time reported by tz_local_to_utc. */
enum tz_local_kind {
	TZ_LOCAL_NORMAL = 0, /* the local time happens exactly once */
	TZ_LOCAL_GAP = 1,    /* skipped by a spring-forward change: does not exist */
	TZ_LOCAL_FOLD = 2,   /* repeated by a fall-back change: happens twice */
};

/* Local wall time → instant. In a gap the offset in force before the change
 * is used, so 02:30 in a 02:00→03:00 gap comes out as 03:30 new local time
 * (what calendar apps do); in a fold the earlier instant is returned.
 * *kind (may be NULL) gets an enum tz_local_kind. */
int64_t tz_local_to_utc(const struct tz *z, int64_t local, int *kind);
/* Instant → local wall time (same encoding as above). */
int64_t tz_utc_to_local(const struct tz *z, int64_t t);

/* Writes instant t as RFC 3339 local time with the zone's offset, e.g.
 * "2026-03-08T09:00:00-05:00" ("Z" when the offset is zero). Offsets with
 * seconds (pre-1900 local mean time) are truncated to whole minutes and the
 * local time shifted to match, so the text still names instant t exactly.
 * Years are clamped to 0000..9999. out should have room for 32 bytes; when
 * outlen is too small out gets "" (never a truncated time). */
void tz_format_rfc3339(const struct tz *z, int64_t t, char *out, size_t outlen);
/* Parses "YYYY-MM-DDTHH:MM:SS(.frac)?(Z|±HH:MM)" (t and z may be lower
 * case) into Unix seconds; a fraction is dropped. ERR_INVALID when s is
 * malformed, a field is out of range (leap second 60 included) or the year
 * is outside 1970..9999. */
int tz_parse_rfc3339(const char *s, int64_t *out);
/* Parses "YYYY-MM-DD" (years 0001..9999) into days since 1970-01-01.
 * ERR_INVALID if malformed or not a real date. */
int tz_parse_date(const char *s, int64_t *days);

/* Writes up to max instants in [from, to) at which the zone's UTC offset
 * changes, ascending, into out, and returns how many were written. Changes
 * of abbreviation or DST flag alone are not reported. */
size_t tz_transitions(const struct tz *z, int64_t from, int64_t to, int64_t *out, size_t max);

#endif
