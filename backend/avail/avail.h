/*
 * avail.h — the availability engine: which starts an offering can be
 * booked at, for one clinician.
 *
 * Pure: it gets everything as values (the clinician's zone, "now", weekly
 * rules, date overrides, busy time, existing intensives) and touches no
 * database, so every rule is unit-tested at any instant. avail_load.c
 * reads the inputs from PostgreSQL.
 *
 * Everything is computed in the clinician's local wall-clock time: a rule
 * "Monday 09:00-17:00" and an intensive day "09:00-16:00" mean those local
 * times on every date, across daylight-saving changes. Local times that do
 * not exist (spring-forward gaps) are never offered.
 */
#ifndef TANDEM_AVAIL_AVAIL_H
#define TANDEM_AVAIL_AVAIL_H

#include "core/arena.h"
#include "core/tz.h"

enum { AVAIL_MAX_DAYS = 5, AVAIL_MAX_WINDOW_DAYS = 400 };

/* A weekly rule: open on ISO weekday (1 = Monday) from start to end minute. */
struct avail_rule {
	int weekday;   /* 1..7 */
	int start_min; /* minutes after local midnight, 0..1439 */
	int end_min;   /* exclusive, start_min < end_min <= 1440 */
};

/* One date's exception: extra hours, or time off (all day when start_min < 0). */
struct avail_override {
	int64_t day;   /* local date, days since 1970-01-01 */
	bool off;      /* true: time off; false: extra hours */
	int start_min; /* -1 with off: the whole day */
	int end_min;   /* exclusive */
};

/* A half-open UTC interval [start, end) in Unix seconds. */
struct avail_interval {
	int64_t start;
	int64_t end;
};

/* An existing active booking that matters for rest days and caps. */
struct avail_booked {
	int64_t first_day;  /* local date of its first block */
	int64_t last_day;   /* local date of its last block */
	bool intensive;     /* an intensive (counts for rest days) */
	bool same_offering; /* the offering asked about (counts for caps) */
};

/* The booking rules of one offering (SPEC §1). */
struct avail_offering {
	bool intensive;        /* fixed daily hours over `days` consecutive days */
	int days;              /* 1 for consults and sessions */
	int duration_min;      /* consults/sessions: length; intensives: day_end - day_start */
	int day_start_min;     /* intensives: each day's start, minutes after midnight */
	int day_end_min;       /* intensives: each day's end */
	int buffer_before_min; /* kept free before each block */
	int buffer_after_min;  /* kept free after each block */
	int min_notice_min;    /* earliest start is now + this */
	int horizon_days;      /* latest start date is today + this */
	int slot_interval_min; /* consults/sessions: starts on this grid from midnight */
	int start_weekdays;    /* bit 0 = Monday ... bit 6 = Sunday */
	int min_rest_days;     /* intensives: free days between two intensives */
	int cap_per_week;      /* bookings of this offering per ISO week, 0 = no cap */
	int cap_per_month;     /* per calendar month, 0 = no cap */
};

struct avail_input {
	const struct tz *tz;              /* the clinician's zone */
	int64_t now;                      /* Unix seconds */
	const struct avail_offering *off; /* what is being booked */
	const struct avail_rule *rules;   /* weekly hours (already those of this offering) */
	size_t nrules;
	const struct avail_override *overrides; /* any order */
	size_t noverrides;
	const struct avail_interval *busy; /* taken time incl. buffers, any order, may overlap */
	size_t nbusy;
	const struct avail_booked *booked; /* for rest days and caps */
	size_t nbooked;
	bool fail_closed; /* a stale external calendar: offer nothing */
};

struct avail_slot {
	int64_t start;                                /* first block's start */
	int64_t end;                                  /* last block's end */
	int nblocks;                                  /* 1, or days for intensives */
	struct avail_interval blocks[AVAIL_MAX_DAYS]; /* each day's block */
};

/* Slots whose start falls on local dates [from_day, to_day] (inclusive),
 * in time order, into *out (arena). ERR_INVALID when the window is empty
 * or longer than AVAIL_MAX_WINDOW_DAYS. */
int avail_compute(const struct avail_input *in, int64_t from_day, int64_t to_day, struct arena *a,
                  struct avail_slot **out, size_t *n);

/* The local date (days since epoch) of instant t in zone z. */
int64_t avail_local_day(const struct tz *z, int64_t t);

#endif
