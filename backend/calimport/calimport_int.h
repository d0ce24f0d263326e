/*
 * calimport_int.h — what calimport.c (the scanner) and expand.c (the
 * recurrence expansion) share. Not for other modules: include
 * calimport/calimport.h.
 */
#ifndef TANDEM_CALIMPORT_CALIMPORT_INT_H
#define TANDEM_CALIMPORT_CALIMPORT_INT_H

#include <libical/ical.h>

#include "calimport/calimport.h"
#include "core/buf.h"
#include "core/tz.h"

#define CAL_DAY         86400
#define CAL_MAX_INSTANT INT64_C(253402300800) /* 10000-01-01T00:00:00Z */

/* How a DATE or DATE-TIME value was written. */
enum tv_kind {
	TV_DATE,  /* 20240101: a whole local day in the clinician's zone */
	TV_FLOAT, /* 20240101T090000: local time in the clinician's zone */
	TV_UTC,   /* 20240101T090000Z */
	TV_ZONED, /* TZID=…:20240101T090000 */
};

/* One VCALENDAR's VTIMEZONEs as libical read them (NULL: none), kept
 * until every event of the file is expanded. */
struct calrec {
	icalcomponent *ical;
	struct calrec *next; /* the previous VCALENDAR */
};

/* One TZID of one VCALENDAR, resolved on first use (expand.c). */
struct zone {
	const char *tzid;    /* as written (arena) */
	struct calrec *cal;  /* the VCALENDAR it was named in */
	int line;            /* the first line naming it, for warnings */
	bool has_vtz;        /* the calendar has a usable VTIMEZONE for it */
	bool vtz_bad;        /* its VTIMEZONE was refused */
	bool resolved;       /* tz / ical below are set */
	const struct tz *tz; /* the core/tz zone it names, or the clinician's */
	icaltimezone *ical;  /* or: its VTIMEZONE, owned by cal->ical */
};

/* A DATE or DATE-TIME value. */
struct tval {
	int64_t local;     /* wall clock, core/tz "local" encoding; the instant for TV_UTC */
	int kind;          /* enum tv_kind */
	struct zone *zone; /* TV_ZONED only */
};

/* A DURATION: nominal days (weeks included) plus exact seconds. */
struct dur {
	int64_t days;
	int64_t secs;
};

enum { PERIOD_NONE, PERIOD_END, PERIOD_DUR };

/* One value of an RDATE, EXDATE or FREEBUSY list. */
struct tlist {
	struct tlist *next;
	struct tval v;    /* the value, or a PERIOD's start */
	int pkind;        /* PERIOD_*: a plain value or a period */
	struct tval pend; /* PERIOD_END: its end */
	struct dur pdur;  /* PERIOD_DUR: its length */
	int line;
};

/* One RRULE; libical reads text, UNTIL is ours. */
struct rrule {
	struct rrule *next;
	const char *text;  /* the rule without UNTIL (arena, NUL-terminated) */
	int freq;          /* icalrecurrencetype_frequency */
	bool has_count;    /* COUNT is part of text */
	bool has_until;    /* until below is set */
	struct tval until; /* UNTIL as written (no TZID) */
	int line;
};

/* One VEVENT: a single event, a series (master) or an override. */
struct event {
	int line;         /* its BEGIN:VEVENT */
	const char *uid;  /* NULL when it has none */
	int seq;          /* SEQUENCE */
	bool cancelled;   /* STATUS:CANCELLED */
	bool transparent; /* TRANSP:TRANSPARENT */
	bool has_start;   /* DTSTART read */
	bool has_end;     /* DTEND read */
	bool has_dur;     /* DURATION read */
	bool has_rid;     /* RECURRENCE-ID read: an override */
	bool rid_future;  /* RANGE=THISANDFUTURE */
	struct tval start, end, rid;
	struct dur dur;
	int start_line, end_line, dur_line;
	struct rrule *rrules;
	struct tlist *rdates;
	struct tlist *exdates;
};

/* The events of the file, and what the VCALENDAR being read has
 * collected. UIDs are matched across the whole file (an override may come
 * in a later VCALENDAR, as when invites are concatenated); TZIDs are
 * resolved within their VCALENDAR. */
struct calstate {
	struct event **events; /* heap array of arena events, the whole file */
	size_t nevents, capevents;
	struct calrec *cals; /* every VCALENDAR read, newest first */
	struct zone **zmap;  /* this VCALENDAR: TZID → zone, open addressing (arena) */
	size_t zcap, zcount;
	struct buf vtz; /* this VCALENDAR's usable VTIMEZONEs, as text for libical */
};

/* One candidate instance of a series. */
struct cand {
	int64_t start, end; /* UTC */
	int64_t local;      /* its start as wall clock in the series' zone */
};

struct importer {
	struct arena *a;
	const struct cal_import_opts *o;
	struct cal_import_result *r;
	char *err;
	size_t errlen;
	const struct tz *clin; /* opts->zone */
	int clamp_year;        /* VTIMEZONE offsets after this year repeat it */
	size_t steps;          /* recurrence work done */
	size_t max_steps;      /* ... and allowed */
	struct cal_busy *out;  /* heap */
	size_t nout, capout;
	struct cand *cand; /* heap scratch for one series */
	size_t ncand, capcand;
	bool warned_future; /* RANGE=THISANDFUTURE warned about */
	struct calstate cal;
};

void cal_warn(struct importer *im, const char *fmt, ...) PRINTF_LIKE(2, 3);
int cal_fail(struct importer *im, int rc, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Copies len bytes of s into dst as printable ASCII ('?' for the rest),
 * cut at 40 characters with "...". */
void cal_quote(char *dst, size_t n, const char *s, size_t len);
/* 0, or -1 when s is not a DATE or DATE-TIME value. */
int cal_parse_dt(const char *s, size_t n, int *kind, int64_t *local);
/* 0, or -1 when s is not a DURATION value. */
int cal_parse_dur(const char *s, size_t n, struct dur *out);
struct zone *cal_intern_zone(struct importer *im, const char *s, size_t n, int line);

/* expand.c */
/* Charges n steps of recurrence work; ERR_TOO_LARGE (and err) past the
 * budget. */
int cal_charge(struct importer *im, size_t n);
void cal_calendar_begin(struct importer *im);
void cal_calendar_end(struct importer *im);
int cal_expand(struct importer *im);
void cal_release(struct importer *im);
int cal_add_period(struct importer *im, const struct tlist *t);

#endif
