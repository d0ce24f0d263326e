/* calendar_http.c — the clinician's calendars page: their private feeds
 * (one per device, webcal:// links, revoke) and the external calendars
 * that block their time (upload, subscribe, refresh now, remove). Every
 * route is ROUTE_ADMIN | ROUTE_CSRF; each action touches only the signed-in
 * clinician's own sources and feeds (another's id is a 404) and is audited. */
#include "calendar/calendar_http.h"

#include <ctype.h>

#include "admin/audit.h"
#include "admin/admin_http.h"
#include "admin/session.h"
#include "calendar/calendar_cli.h"
#include "core/humantime.h"
#include "core/tz.h"
#include "feed/feed.h"
#include "mail/mail.h"

static struct ctx rctx(struct req *r)
{
	return (struct ctx){r->a, r->db, ctx_clock_now(), r->session->actor, r->remote_addr};
}

static const char *when(struct req *r, const struct tz *z, int64_t t)
{
	if (!t)
		return "never";
	return arena_printf(r->a, "%s, %s", humantime_date(r->a, z, t), humantime_clock(r->a, z, t));
}

/* The page, with whatever the last action has to say. */
static int render(struct req *r, int status, json_t *extra)
{
	struct ctx c = rctx(r);
	const struct tz *z = admin_http_zone(r);
	json_t *view = admin_http_page_view(r, "Calendars");
	struct calendar_source_info *s;
	size_t n;
	int rc = calendar_list(&c, r->session->clinician_id, &s, &n);
	if (rc) {
		json_decref(view);
		json_decref(extra);
		return rc;
	}
	json_t *sources = json_array();
	bool stale = false;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack(
		    "{s:I, s:s, s:b, s:b, s:s, s:s, s:i, s:i, s:i}", "id", (json_int_t)s[i].id, "name",
		    s[i].name, "url", !strcmp(s[i].kind, "url"), "fresh", s[i].fresh, "last_success",
		    when(r, z, s[i].last_success), "next_refresh", when(r, z, s[i].next_refresh), "events",
		    s[i].events, "busy", s[i].busy, "failures", s[i].failures);
		if (s[i].url_display)
			json_object_set_new(o, "host", json_string(s[i].url_display));
		if (s[i].last_error)
			json_object_set_new(o, "last_error", json_string(s[i].last_error));
		if (s[i].warning)
			json_object_set_new(o, "warning", json_string(s[i].warning));
		stale |= !s[i].fresh;
		json_array_append_new(sources, o);
	}
	struct feed_info *f;
	size_t nf;
	rc = feed_list(&c, r->session->email, &f, &nf);
	if (rc) {
		json_decref(sources);
		json_decref(view);
		json_decref(extra);
		return rc;
	}
	json_t *feeds = json_array();
	for (size_t i = 0; i < nf; i++) {
		if (f[i].revoked_at)
			continue;
		json_array_append_new(
		    feeds, json_pack("{s:I, s:s, s:b, s:s, s:s, s:I}", "id", (json_int_t)f[i].id, "name",
		                     f[i].name, "initials", !strcmp(f[i].privacy, "initials"), "created",
		                     when(r, z, f[i].created_at), "last_fetch",
		                     when(r, z, f[i].last_fetch_at), "fetches", (json_int_t)f[i].fetches));
	}
	json_object_set_new(view, "has_sources", json_boolean(json_array_size(sources) > 0));
	json_object_set_new(view, "has_feeds", json_boolean(json_array_size(feeds) > 0));
	json_object_set_new(view, "sources", sources);
	json_object_set_new(view, "feeds", feeds);
	json_object_set_new(view, "stale", json_boolean(stale));
	json_object_set_new(view, "timezone", json_string(tz_name(z)));
	if (extra)
		json_object_update(view, extra);
	json_decref(extra);
	return http_send_page(r, status, "admin/calendars", view);
}

int calendar_http_page(struct req *r)
{
	return render(r, 200, NULL);
}

static json_t *notice(const char *text)
{
	return json_pack("{s:s}", "notice", text);
}

static json_t *problem(const char *field, const char *text)
{
	return json_pack("{s:{s:s}}", "errors", field, text);
}

int calendar_http_upload(struct req *r)
{
	struct ctx c = rctx(r);
	const struct form_field *file = NULL;
	for (size_t i = 0; i < r->form.n; i++)
		if (!strcmp(r->form.fields[i].name, "file"))
			file = &r->form.fields[i];
	const char *name = form_get(&r->form, "name");
	if (!file || file->value_len == 0)
		return render(r, 422, problem("file", "Choose an .ics file exported from your calendar."));
	if (!name || !*name)
		name = "Uploaded calendar";
	int64_t id = 0;
	struct calendar_outcome o;
	int rc = calendar_import_file(&c, r->app->keys, r->session->clinician_id, name, file->value,
	                              file->value_len, (size_t)r->app->cfg->calendar_max_bytes, &id, &o);
	if (rc == ERR_MALFORMED || rc == ERR_TOO_LARGE || rc == ERR_INVALID)
		return render(r, 422,
		              problem("file", arena_printf(r->a, "%s. Nothing was changed.", o.message)));
	if (rc == ERR_CONFLICT)
		return render(r, 422, problem("name", "A subscribed calendar already has this name."));
	if (rc)
		return rc;
	audit_write(&c, "calendar.import", arena_printf(r->a, "calendar_source:%lld", (long long)id),
	            json_pack("{s:i, s:i}", "events", o.events, "busy", o.busy));
	return render(
	    r, 200,
	    notice(arena_printf(r->a, "Imported %d events: %d busy periods now block your availability.%s%s",
	                        o.events, o.busy, o.message[0] ? " Note: " : "", o.message)));
}

int calendar_http_subscribe(struct req *r)
{
	struct ctx c = rctx(r);
	const char *url = form_get(&r->form, "url");
	const char *name = form_get(&r->form, "name");
	if (!name || !*name)
		name = "Subscribed calendar";
	int64_t id = 0;
	int rc =
	    calendar_subscribe(&c, r->app->keys, r->session->clinician_id, name, url ? url : "", 0, 0, &id);
	if (rc == ERR_INVALID)
		return render(r, 422,
		              problem("url", "Paste the calendar's address: https:// or webcal://, without a "
		                             "password in it."));
	if (rc == ERR_CONFLICT)
		return render(r, 422, problem("sub_name", "You already have a calendar with this name."));
	if (rc)
		return rc;
	audit_write(&c, "calendar.subscribe", arena_printf(r->a, "calendar_source:%lld", (long long)id),
	            NULL);
	struct calendar_fetch_opts fo;
	calendar_fetch_opts_from(r->app->cfg, &fo);
	struct mailer m = {r->app->cfg, r->app->tpl, r->app->keys};
	struct calendar_outcome o;
	rc = calendar_refresh(&c, r->app->keys, &m, &fo, id, &o);
	if (rc && rc != ERR_UNAVAILABLE)
		return render(r, 200,
		              notice(arena_printf(r->a,
		                                  "Subscribed, but the first fetch failed: %s. It is retried "
		                                  "automatically; until one succeeds no times are offered.",
		                                  o.message)));
	if (rc)
		return rc;
	return render(r, 200,
	              notice(arena_printf(r->a,
	                                  "Subscribed: %d events, %d busy periods. It refreshes every 15 "
	                                  "minutes.",
	                                  o.events, o.busy)));
}

int calendar_http_refresh(struct req *r)
{
	struct ctx c = rctx(r);
	int64_t id = http_param_id(r, 0);
	if (!id || calendar_owned(&c, r->session->clinician_id, id) != 0)
		return ERR_NOT_FOUND;
	struct calendar_fetch_opts fo;
	calendar_fetch_opts_from(r->app->cfg, &fo);
	struct mailer m = {r->app->cfg, r->app->tpl, r->app->keys};
	struct calendar_outcome o;
	int rc = calendar_refresh(&c, r->app->keys, &m, &fo, id, &o);
	audit_write(&c, "calendar.refresh", arena_printf(r->a, "calendar_source:%lld", (long long)id), NULL);
	if (rc == ERR_UNAVAILABLE)
		return rc;
	if (rc)
		return render(r, 200, notice(arena_printf(r->a, "The refresh failed: %s.", o.message)));
	return render(r, 200,
	              notice(arena_printf(r->a, "Refreshed%s: %d events, %d busy periods.",
	                                  o.not_modified ? " (unchanged)" : "", o.events, o.busy)));
}

int calendar_http_remove(struct req *r)
{
	struct ctx c = rctx(r);
	int64_t id = http_param_id(r, 0);
	if (!id)
		return ERR_NOT_FOUND;
	int rc = calendar_remove(&c, r->session->clinician_id, id);
	if (rc)
		return rc;
	audit_write(&c, "calendar.remove", arena_printf(r->a, "calendar_source:%lld", (long long)id), NULL);
	return render(r, 200, notice("Removed, with the busy time it held."));
}

int calendar_http_feed_create(struct req *r)
{
	struct ctx c = rctx(r);
	const char *name = form_get(&r->form, "feed_name");
	const char *privacy = form_get(&r->form, "privacy");
	struct feed_created fc;
	const char *why = NULL;
	int rc = feed_create(&c, r->app->cfg->base_url, r->session->email, name ? name : "",
	                     privacy && !strcmp(privacy, "initials") ? "initials" : "neutral", &fc, &why);
	if (rc == ERR_INVALID)
		return render(r, 422, problem("feed_name", why ? why : "Name the device, like \"Phone\"."));
	if (rc)
		return rc;
	audit_write(&c, "feed.create", arena_printf(r->a, "feed_token:%lld", (long long)fc.id), NULL);
	/* Shown once: only its hash is kept. */
	return render(r, 200, json_pack("{s:{s:s, s:s}}", "created", "url", fc.url, "webcal", fc.webcal));
}

int calendar_http_feed_revoke(struct req *r)
{
	struct ctx c = rctx(r);
	int64_t id = http_param_id(r, 0);
	if (!id || feed_owned(&c, r->session->clinician_id, id) != 0)
		return ERR_NOT_FOUND;
	bool already = false;
	int rc = feed_revoke(&c, id, &already);
	if (rc)
		return rc;
	audit_write(&c, "feed.revoke", arena_printf(r->a, "feed_token:%lld", (long long)id), NULL);
	return render(r, 200, notice("Revoked: that feed's address no longer works."));
}
