/*
 * ics.h — iCalendar (RFC 5545) invites, cancellations and feeds.
 *
 * Every booking change mails the client and the clinician a calendar file
 * (iTIP, RFC 5546): METHOD:REQUEST for a new or changed booking, METHOD:CANCEL
 * with the same UID and a higher SEQUENCE when it is cancelled (SPEC §4).
 * A clinician's private feed is one METHOD:PUBLISH calendar with many
 * events (ics_write_calendar). The text is written directly, without
 * libical: libical 3.0.16 names its zones "/freeassociation.sourceforge.net/…",
 * can fold between '\' and the escaped character, and needs its output
 * unfolded and refolded anyway (shared/ICAL.md). Here every value is escaped
 * once by us, every line is folded by us (fold.c), and the VTIMEZONE is built
 * from core/tz's reading of the system's zone files, so the TZID is the plain
 * IANA name and the zone rules are the ones the server itself computes
 * bookings with.
 *
 * The prefix is ics_ because libical owns ical*.
 */
#ifndef TANDEM_ICS_ICS_H
#define TANDEM_ICS_ICS_H

#include "core/buf.h"
#include "core/common.h"

/* Limits on one invite or calendar; past them the writers return ERR_INVALID. */
#define ICS_MAX_BLOCKS    366    /* days of one multi-day booking */
#define ICS_MAX_ATTENDEES 64     /* ATTENDEE properties */
#define ICS_MAX_SPAN_DAYS 3660   /* first block's start to last block's end */
#define ICS_MAX_EVENTS    100000 /* VEVENT masters in one calendar */
#define ICS_MAX_ZONES     16     /* distinct TZIDs in one calendar */

/* One invitee. */
struct ics_attendee {
	const char *name;  /* display name for CN=; NULL or "" omits CN */
	const char *email; /* bare address (no "Name <…>"), becomes mailto: */
};

/* One contiguous appointment time. */
struct ics_block {
	int64_t start; /* UTC seconds, inclusive */
	int64_t end;   /* UTC seconds, exclusive; > start */
};

/* One instance of a series changed after the series was sent: a day of an
 * intensive moved to another time, or cancelled on its own. Written as a
 * VEVENT with the series' UID and RECURRENCE-ID = the instance's original
 * start (RFC 5545 3.8.4.4). */
struct ics_override {
	int64_t recurrence_id; /* original start of the instance (UTC): one of the blocks' starts */
	int64_t start;         /* its new start (UTC); ignored when cancelled */
	int64_t end;           /* its new end (UTC), > start; ignored when cancelled */
	bool cancelled;        /* STATUS:CANCELLED at the original time instead */
};

/* Everything one calendar file says about one booking (or, in a feed, one
 * event). Strings are UTF-8 and borrowed for the duration of the call. */
struct ics_invite {
	const char *method;                   /* "REQUEST", "CANCEL" or "PUBLISH" */
	const char *uid;                      /* stable per booking, e.g. "b-42@tandem.example" */
	int sequence;                         /* SEQUENCE, >= 0; +1 on every change */
	int64_t dtstamp;                      /* now, UTC seconds (injected for tests) */
	const char *tzid;                     /* IANA zone of the clinician, e.g. "America/Chicago" */
	const char *summary;                  /* neutral title; NULL writes an empty SUMMARY */
	const char *description;              /* the manage link text; NULL or "" omits it */
	const char *location;                 /* address or video text; NULL or "" omits it */
	const char *url;                      /* URL property (a URI); NULL or "" omits it */
	const char *organizer_name;           /* the clinician's name for CN= (optional) */
	const char *organizer_email;          /* required for REQUEST and CANCEL */
	const struct ics_attendee *attendees; /* >= 1 for REQUEST and CANCEL */
	int nattendees;                       /* entries in attendees */
	const struct ics_block *blocks;       /* ascending, not overlapping */
	int nblocks;                          /* 1 for consults; one per day for intensives */
	bool cancelled; /* STATUS:CANCELLED; required with CANCEL, refused with REQUEST */
	bool tentative; /* STATUS:TENTATIVE (holds), else CONFIRMED; cancelled wins */
	/* Optional; zero values keep the plain invite. */
	int64_t last_modified; /* LAST-MODIFIED, UTC seconds; 0 omits it */
	bool transparent;      /* TRANSP:TRANSPARENT (the time is not busy), else OPAQUE */
	bool class_private;    /* CLASS:PRIVATE: a shared view of the calendar shows busy only */
	/* Changed instances of the series: each recurrence_id at most once and
	 * one of the blocks' starts; needs nblocks >= 2. Not written with
	 * METHOD:CANCEL, which cancels the whole series. With REQUEST a
	 * cancelled instance is an EXDATE of the series (RFC 5546 lets a
	 * REQUEST say only TENTATIVE or CONFIRMED); with PUBLISH it is an
	 * override with STATUS:CANCELLED. */
	const struct ics_override *overrides;
	int noverrides; /* entries in overrides, 0..nblocks */
	/* With METHOD:CANCEL: cancel only the instance the series starts at
	 * this instant (one of the blocks' starts, nblocks >= 2), as one
	 * VEVENT with its RECURRENCE-ID (RFC 5546 3.2.5). 0 cancels the whole
	 * series. */
	int64_t cancel_instance;
};

/* A calendar of several events: a clinician's feed (PUBLISH). */
struct ics_calendar {
	const char *method;              /* "PUBLISH"; "REQUEST"/"CANCEL" take exactly one event */
	const char *name;                /* NAME and X-WR-CALNAME; NULL or "" omits them */
	int refresh_minutes;             /* REFRESH-INTERVAL and X-PUBLISHED-TTL; 0 omits them */
	const char *tzid;                /* a zone that gets a VTIMEZONE even with no event in it, or NULL */
	int64_t tz_first;                /* with tzid: the span its VTIMEZONE covers at least (UTC) ... */
	int64_t tz_last;                 /* ... to here; tz_first <= tz_last */
	const struct ics_invite *events; /* method NULL or the calendar's; distinct UIDs */
	int nevents;                     /* 0..ICS_MAX_EVENTS */
};

/*
 * Appends a whole VCALENDAR for inv to out: CRLF line ends, lines folded at
 * <= 75 octets on UTF-8 boundaries and never between '\' and the character
 * it escapes; a VTIMEZONE whose TZID is the plain IANA name; one VEVENT.
 *
 * Several blocks become one VEVENT: DTSTART/DTEND of the first block plus
 * RRULE:FREQ=DAILY;COUNT=N when the blocks fall on consecutive local days at
 * the same local time, else RDATE;TZID=… with each further block's start. All
 * blocks must therefore last exactly as long as the first (ERR_INVALID if
 * not). A time that local time cannot name unambiguously (01:30 on a
 * fall-back night happens twice) is written in UTC ("…Z") instead, and such
 * a block never goes through an RRULE.
 *
 * Each override follows as its own VEVENT: the same UID, SEQUENCE, text and
 * people as the series, RECURRENCE-ID (TZID form, or UTC as above) = the
 * instance's original start, and either its new DTSTART/DTEND or its
 * original ones with STATUS:CANCELLED. The series itself (DTSTART, RRULE or
 * RDATE) stays as first sent, so a reader that knew it matches each
 * override to the instance it replaces.
 *
 * Text (SUMMARY, DESCRIPTION, LOCATION, UID) is escaped per RFC 5545 3.3.11
 * and loses control characters other than tab; a line break (CRLF, CR or
 * LF) becomes "\n" in DESCRIPTION and a space in SUMMARY and LOCATION. CN
 * values lose control characters and turn '"' into '\'', and are quoted when
 * they hold ';', ':' or ','. Emails and the URL are refused (ERR_INVALID)
 * when they hold spaces, controls or characters that could end the value.
 *
 * Returns 0; ERR_INVALID for bad input (unknown METHOD, unknown zone, no
 * blocks, blocks out of order or of different lengths, invalid UTF-8, a
 * missing organizer or attendee for REQUEST/CANCEL, times outside
 * 1970..8999, an override whose recurrence_id is not an instance of the
 * series or repeats another's, …); ERR_TOO_LARGE when out's maximum is reached; ERR_IO when
 * the zone file cannot be read. On error out is truncated back to the
 * length it had on entry (out->err stays set after ERR_TOO_LARGE).
 */
int ics_write_invite(const struct ics_invite *inv, struct buf *out);

/*
 * Appends a whole VCALENDAR with every event of cal, in the order given,
 * each written as ics_write_invite writes its one (with its overrides right
 * after it). Each distinct zone gets exactly one VTIMEZONE, before the
 * events, covering every event that uses it (and cal->tz_first..tz_last for
 * cal->tzid). After METHOD come NAME and X-WR-CALNAME when cal->name is set,
 * and REFRESH-INTERVAL;VALUE=DURATION and X-PUBLISHED-TTL when
 * cal->refresh_minutes is. UIDs are not compared: the caller keeps them
 * distinct.
 *
 * Returns as ics_write_invite; also ERR_INVALID for an iTIP method with
 * other than one event, an event whose method differs from the calendar's,
 * more than ICS_MAX_ZONES zones, or a calendar that would hold no component
 * at all (no event and no tzid; RFC 5545 3.6 wants one).
 */
int ics_write_calendar(const struct ics_calendar *cal, struct buf *out);

/* The Content-Type for a calendar with this METHOD, e.g.
 * "text/calendar; charset=utf-8; method=REQUEST"; without a method parameter
 * for NULL or an unknown method. A static string. */
const char *ics_content_type(const char *method);

/*
 * Folding (fold.c).
 *
 * ics_fold_line appends one logical content line of len bytes (valid UTF-8,
 * no CR or LF) to out as physical lines of at most 75 octets, each ending in
 * CRLF, continuation lines starting with one space. A break never falls
 * inside a UTF-8 sequence nor between '\' and the character after it (the
 * pairs are counted from the start of the line, so "\\" is one pair), and
 * avoids a space on either side when it can. ERR_INVALID for CR, LF or
 * invalid UTF-8 in the line; ERR_TOO_LARGE when out is full.
 */
int ics_fold_line(const char *line, size_t len, struct buf *out);

/*
 * ics_refold unfolds src (RFC 5545 3.1: a line break followed by one space
 * or tab continues the previous line; CRLF or bare LF line breaks), drops
 * empty logical lines and folds every logical line again with
 * ics_fold_line. Refolding its own output gives the same bytes. Returns 0;
 * ERR_MALFORMED for a bare CR, a continuation with nothing to continue, a
 * logical line that starts with a space or tab (an empty line continued) or
 * is not valid UTF-8; ERR_TOO_LARGE when out is full.
 * On error out is truncated back to its length on entry.
 */
int ics_refold(const char *src, size_t len, struct buf *out);

#endif
