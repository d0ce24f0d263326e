/*
 * ics_sample — writes sample invites to stdout for tests/unit/ics_check.py,
 * which reads them with independent parsers (python icalendar,
 * recurring-ical-events, vobject). Not a cmocka test: the expected UTC
 * instants live in the Python script, written out by hand.
 *
 *   ics_sample --list    the sample names, one a line
 *   ics_sample NAME      that sample's calendar
 *
 * and the samples with several VEVENTs (RECURRENCE-ID overrides, feeds),
 * read by ics_check.py's check_multi:
 *
 *   ics_sample --list-multi
 *
 * Build: cc -std=c17 -D_GNU_SOURCE -Ibackend -pthread -o ics_sample
 *        tests/unit/ics_sample.c backend/ics/ics.c backend/ics/fold.c
 *        backend/core/{tz,buf,arena,common,log}.c
 */
#include "core/tz.h"
#include "ics/ics.h"

#define DAY 86400

/* Local wall time in zone → instant, the way the booking code makes them. */
static int64_t at(const char *zone, int y, int mo, int d, int h, int mi)
{
	const struct tz *z;
	if (tz_get(zone, &z) != 0) {
		fprintf(stderr, "no zone %s\n", zone);
		exit(2);
	}
	return tz_local_to_utc(z, tz_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60, NULL);
}

static const struct ics_attendee client = {"Alex Client", "alex@example.org"};

static struct ics_invite base(const char *zone)
{
	return (struct ics_invite){
	    .method = "REQUEST",
	    .uid = "b-1001@tandem.example",
	    .sequence = 0,
	    .dtstamp = tz_days_from_civil(2026, 10, 1) * DAY + 12 * 3600,
	    .tzid = zone,
	    .summary = "Riverbend Practice — Appointment",
	    .description = "Manage your booking: https://tandem.example/b/Tok3n_abc",
	    .location = "12 Main St, Suite 4; Springfield",
	    .url = "https://tandem.example/b/Tok3n_abc",
	    .organizer_name = "Dr. Jo Rivers",
	    .organizer_email = "jo@riverbend.example",
	    .attendees = &client,
	    .nattendees = 1,
	};
}

static int emit(const struct ics_invite *inv)
{
	struct buf out;
	buf_init(&out, NULL, 1 << 20);
	int rc = ics_write_invite(inv, &out);
	if (rc == 0)
		fwrite(out.data, 1, out.len, stdout);
	else
		fprintf(stderr, "ics_write_invite: %d\n", rc);
	buf_release(&out);
	return rc == 0 ? 0 : 1;
}

/* Consecutive days at h:mi for mins minutes. */
static void days(struct ics_block *b, int n, const char *zone, int y, int mo, int d, int h, int mi, int mins)
{
	for (int i = 0; i < n; i++) {
		int64_t day = tz_days_from_civil(y, mo, d) + i;
		int yy, mm, dd;
		tz_civil_from_days(day, &yy, &mm, &dd);
		b[i].start = at(zone, yy, mm, dd, h, mi);
		b[i].end = b[i].start + mins * 60;
	}
}

static const char *const names[] = {
    "consult",          "consult_before_dst",
    "intensive_dst",    "intensive_rdate",
    "cancel",           "tentative",
    "berlin_intensive", "sydney_consult",
    "kolkata_consult",  "lord_howe",
    "sao_paulo",        "chicago_2007",
    "first_130",        "second_130",
    "fold_intensive",   "injection",
    "unicode",          "publish",
};

/* Samples with several VEVENTs: a series with RECURRENCE-ID overrides, and
 * a clinician's PUBLISH feed with events in two zones. */
static const char *const multi_names[] = {
    "override_moved", "override_cancelled", "override_rdate", "cancel_one_day", "feed", "feed_empty",
};

static int emit_calendar(const struct ics_calendar *cal)
{
	struct buf out;
	buf_init(&out, NULL, 1 << 20);
	int rc = ics_write_calendar(cal, &out);
	if (rc == 0)
		fwrite(out.data, 1, out.len, stdout);
	else
		fprintf(stderr, "ics_write_calendar: %d\n", rc);
	buf_release(&out);
	return rc == 0 ? 0 : 1;
}

/* A feed entry: no people, one block, the clinician's admin link. */
static struct ics_invite feed_entry(const char *uid, const char *zone, const struct ics_block *b,
                                    const char *summary)
{
	return (struct ics_invite){
	    .uid = uid,
	    .sequence = 1,
	    .dtstamp = tz_days_from_civil(2026, 10, 1) * DAY + 12 * 3600,
	    .last_modified = tz_days_from_civil(2026, 10, 1) * DAY + 12 * 3600,
	    .tzid = zone,
	    .summary = summary,
	    .description = "Booking TND-7K2Q\nhttps://tandem.example/admin/bookings/42",
	    .url = "https://tandem.example/admin/bookings/42",
	    .blocks = b,
	    .nblocks = 1,
	    .class_private = true,
	};
}

static int multi_sample(const char *s)
{
	const char *chi = "America/Chicago", *ber = "Europe/Berlin";
	static struct ics_block b[8];
	static struct ics_override ov[2];
	struct ics_invite inv = base(chi);
	inv.blocks = b;
	inv.nblocks = 3;
	inv.overrides = ov;
	inv.noverrides = 1;
	if (strcmp(s, "override_moved") == 0) {
		/* 09:00-16:00 on 13-15 March 2027 (DST from the 14th); the 14th
		 * moved to 10:00-17:30. */
		days(b, 3, chi, 2027, 3, 13, 9, 0, 7 * 60);
		ov[0] = (struct ics_override){b[1].start, at(chi, 2027, 3, 14, 10, 0),
		                              at(chi, 2027, 3, 14, 17, 30), false};
		inv.sequence = 2;
	} else if (strcmp(s, "override_cancelled") == 0) {
		/* The same series; the 14th cancelled, the 15th moved to the 16th. */
		days(b, 3, chi, 2027, 3, 13, 9, 0, 7 * 60);
		ov[0] = (struct ics_override){b[1].start, 0, 0, true};
		ov[1] = (struct ics_override){b[2].start, at(chi, 2027, 3, 16, 9, 0),
		                              at(chi, 2027, 3, 16, 16, 0), false};
		inv.noverrides = 2;
		inv.sequence = 3;
		inv.tentative = true;
	} else if (strcmp(s, "override_rdate") == 0) {
		/* Berlin, 6, 8 and 20 March 2027 (RDATE); the 8th moved to the 9th. */
		inv.tzid = ber;
		days(b, 1, ber, 2027, 3, 6, 10, 0, 6 * 60);
		days(b + 1, 1, ber, 2027, 3, 8, 10, 0, 6 * 60);
		days(b + 2, 1, ber, 2027, 3, 20, 10, 0, 6 * 60);
		ov[0] = (struct ics_override){b[1].start, at(ber, 2027, 3, 9, 10, 0),
		                              at(ber, 2027, 3, 9, 16, 0), false};
	} else if (strcmp(s, "cancel_one_day") == 0) {
		/* The series of override_moved; METHOD:CANCEL of the 14th alone
		 * (RFC 5546 3.2.5), as the mail of a day cancelled on its own. */
		days(b, 3, chi, 2027, 3, 13, 9, 0, 7 * 60);
		inv.method = "CANCEL";
		inv.cancelled = true;
		inv.cancel_instance = b[1].start;
		inv.noverrides = 0;
		inv.sequence = 4;
	} else if (strcmp(s, "feed") == 0) {
		/* Chicago: a confirmed consult, a held two-day intensive (one
		 * event a day), a cancelled consult; Berlin: one consult. */
		static struct ics_invite ev[5];
		days(b, 1, chi, 2026, 11, 2, 10, 0, 50);
		days(b + 1, 2, chi, 2027, 3, 13, 9, 0, 7 * 60);
		days(b + 3, 1, chi, 2026, 10, 30, 14, 30, 50);
		days(b + 4, 1, ber, 2027, 10, 30, 10, 0, 50);
		ev[0] = feed_entry("d1-c0ffee01@tandem.example", chi, &b[0], "Free consultation call");
		ev[1] = feed_entry("d1-c0ffee02@tandem.example", chi, &b[1],
		                   "On hold: Two-day intensive (day 1 of 2)");
		ev[2] = feed_entry("d2-c0ffee02@tandem.example", chi, &b[2],
		                   "On hold: Two-day intensive (day 2 of 2)");
		ev[1].tentative = ev[2].tentative = true;
		ev[3] =
		    feed_entry("d1-c0ffee03@tandem.example", chi, &b[3], "Cancelled: Free consultation call");
		ev[3].cancelled = true;
		ev[3].transparent = true;
		ev[3].sequence = 2;
		ev[4] =
		    feed_entry("d1-c0ffee04@tandem.example", ber, &b[4], "Free consultation call · AQ & JQ");
		struct ics_calendar cal = {
		    .method = "PUBLISH",
		    .name = "Riverbend Practice",
		    .refresh_minutes = 60,
		    .tzid = chi,
		    .tz_first = at(chi, 2026, 9, 1, 0, 0),
		    .tz_last = at(chi, 2027, 10, 1, 0, 0),
		    .events = ev,
		    .nevents = 5,
		};
		return emit_calendar(&cal);
	} else if (strcmp(s, "feed_empty") == 0) {
		struct ics_calendar cal = {
		    .method = "PUBLISH",
		    .name = "Riverbend Practice",
		    .refresh_minutes = 60,
		    .tzid = chi,
		    .tz_first = at(chi, 2026, 9, 1, 0, 0),
		    .tz_last = at(chi, 2027, 10, 1, 0, 0),
		};
		return emit_calendar(&cal);
	} else {
		fprintf(stderr, "unknown sample %s\n", s);
		return 2;
	}
	return emit(&inv);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: ics_sample --list | NAME\n");
		return 2;
	}
	const char *s = argv[1];
	if (strcmp(s, "--list") == 0) {
		for (size_t i = 0; i < ARRAY_LEN(names); i++)
			puts(names[i]);
		return 0;
	}
	if (strcmp(s, "--list-multi") == 0) {
		for (size_t i = 0; i < ARRAY_LEN(multi_names); i++)
			puts(multi_names[i]);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_LEN(multi_names); i++)
		if (strcmp(s, multi_names[i]) == 0)
			return multi_sample(s);
	const char *chi = "America/Chicago";
	struct ics_invite inv = base(chi);
	struct ics_block b[8];
	inv.blocks = b;
	inv.nblocks = 1;

	if (strcmp(s, "consult") == 0) {
		/* The day after the fall-back change: 10:00-10:50 CST. */
		days(b, 1, chi, 2026, 11, 2, 10, 0, 50);
	} else if (strcmp(s, "consult_before_dst") == 0) {
		days(b, 1, chi, 2026, 10, 30, 14, 30, 50);
	} else if (strcmp(s, "intensive_dst") == 0) {
		/* Spring forward on 2027-03-14: 09:00-16:00 both days. */
		days(b, 2, chi, 2027, 3, 13, 9, 0, 7 * 60);
		inv.nblocks = 2;
	} else if (strcmp(s, "intensive_rdate") == 0) {
		days(b, 1, chi, 2027, 3, 6, 9, 0, 7 * 60);
		days(b + 1, 1, chi, 2027, 3, 8, 9, 0, 7 * 60);
		days(b + 2, 1, chi, 2027, 3, 20, 9, 0, 7 * 60);
		inv.nblocks = 3;
	} else if (strcmp(s, "cancel") == 0) {
		days(b, 1, chi, 2026, 11, 2, 10, 0, 50);
		inv.method = "CANCEL";
		inv.sequence = 1;
		inv.cancelled = true;
	} else if (strcmp(s, "tentative") == 0) {
		days(b, 1, chi, 2026, 11, 2, 10, 0, 50);
		inv.tentative = true;
	} else if (strcmp(s, "berlin_intensive") == 0) {
		/* Fall back on 2027-10-31: 10:00-17:00 on three days. */
		inv.tzid = "Europe/Berlin";
		days(b, 3, "Europe/Berlin", 2027, 10, 30, 10, 0, 7 * 60);
		inv.nblocks = 3;
	} else if (strcmp(s, "sydney_consult") == 0) {
		/* DST ends 2027-04-04 03:00 AEDT. */
		inv.tzid = "Australia/Sydney";
		days(b, 1, "Australia/Sydney", 2027, 4, 4, 10, 0, 50);
	} else if (strcmp(s, "kolkata_consult") == 0) {
		inv.tzid = "Asia/Kolkata";
		days(b, 1, "Asia/Kolkata", 2027, 1, 15, 18, 30, 50);
	} else if (strcmp(s, "lord_howe") == 0) {
		/* Half-hour DST; ends 2027-04-04 02:00. */
		inv.tzid = "Australia/Lord_Howe";
		days(b, 2, "Australia/Lord_Howe", 2027, 4, 3, 9, 0, 6 * 60);
		inv.nblocks = 2;
	} else if (strcmp(s, "sao_paulo") == 0) {
		inv.tzid = "America/Sao_Paulo";
		days(b, 1, "America/Sao_Paulo", 2027, 11, 7, 9, 0, 50);
	} else if (strcmp(s, "chicago_2007") == 0) {
		/* The US rule changed in 2007: the yearly form cannot say both. */
		days(b, 1, chi, 2007, 3, 20, 9, 0, 50);
		inv.dtstamp = tz_days_from_civil(2007, 3, 1) * DAY;
	} else if (strcmp(s, "first_130") == 0) {
		/* 01:30 CDT on 2026-11-01, the first 01:30 of the night. */
		b[0].start = tz_days_from_civil(2026, 11, 1) * DAY + 6 * 3600 + 30 * 60;
		b[0].end = b[0].start + 50 * 60;
	} else if (strcmp(s, "fold_intensive") == 0) {
		/* 01:30 CDT on 2026-10-31 and on 2026-11-01 (ambiguous then). */
		for (int i = 0; i < 2; i++) {
			b[i].start = tz_days_from_civil(2026, 10, 31 + i) * DAY + 6 * 3600 + 30 * 60;
			b[i].end = b[i].start + 50 * 60;
		}
		inv.nblocks = 2;
	} else if (strcmp(s, "second_130") == 0) {
		/* 01:30 CST on 2026-11-01, the second 01:30 of the night. */
		b[0].start = tz_days_from_civil(2026, 11, 1) * DAY + 7 * 3600 + 30 * 60;
		b[0].end = b[0].start + 50 * 60;
	} else if (strcmp(s, "injection") == 0) {
		static const struct ics_attendee evil = {
		    "Eve\r\nATTENDEE:mailto:mallory@evil.example\r\nX-EVIL:1 \"q\"; a,b: c",
		    "eve@example.org"};
		days(b, 1, chi, 2026, 11, 2, 10, 0, 50);
		inv.attendees = &evil;
		inv.organizer_name = "Dr \"Jo\" Rivers\nORGANIZER:mailto:x@evil.example";
		inv.summary = "Hi\r\nATTENDEE:mailto:mallory@evil.example";
		inv.description = "Line one\r\nBEGIN:VEVENT\nEND:VEVENT\rX: y\\n, ; done\\";
		inv.location = "Room 1\r\nLOCATION:elsewhere";
	} else if (strcmp(s, "unicode") == 0) {
		static const struct ics_attendee jp = {
		    "山田太郎さんの長い名前のテストです、よろしくお願いします😀😀😀😀😀😀😀😀", "taro@example.jp"};
		days(b, 1, chi, 2026, 11, 2, 10, 0, 50);
		inv.attendees = &jp;
		inv.organizer_name =
		    "Dr. Zoë Ångström-Ñúñez "
		    "🩺🩺🩺🩺🩺🩺🩺🩺🩺🩺🩺🩺🩺🩺🩺🩺🩺🩺🩺";
		inv.description = "予約の管理: https://tandem.example/b/Tok3n_abc, 変更; またはキャンセル\n"
		                  "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀";
	} else if (strcmp(s, "publish") == 0) {
		days(b, 1, chi, 2026, 11, 2, 10, 0, 50);
		inv.method = "PUBLISH";
		inv.attendees = NULL;
		inv.nattendees = 0;
	} else {
		fprintf(stderr, "unknown sample %s\n", s);
		return 2;
	}
	return emit(&inv);
}
