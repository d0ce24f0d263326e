/* jobs.c — see jobs.h. */
#include "jobs/jobs.h"

#include <pthread.h>
#include <time.h>

#include "admin/session.h"
#include "booking/booking.h"
#include "calendar/calendar_cli.h"
#include "core/log.h"
#include "mail/mail.h"

static pthread_t thread;
static bool running;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool stop_requested;
/* The mail sender's view of the app; lives as long as the threads. */
static struct mailer mailer;

/* One job's outcome: logged unless the database is merely down (the next
 * round retries), and the first failure kept for the caller. */
static void note(int *first, int rc, const char *job)
{
	if (rc && rc != ERR_UNAVAILABLE)
		log_warn("job %s failed: %s", job, err_code(rc));
	if (rc && !*first)
		*first = rc;
}

int jobs_run_once(struct db *db, const struct app *app)
{
	struct arena a;
	arena_init(&a);
	struct ctx c = {&a, db, ctx_clock_now(), "system", "jobs"};
	struct mailer m = {app->cfg, app->tpl, app->keys};
	int n = 0, first = 0;
	note(&first, booking_expire_holds(&c, &m, &n), "expire-holds");
	note(&first, booking_mail_reminders(&c, &m, &n), "reminders");
	note(&first, booking_mail_intake_reminders(&c, &m, &n), "intake-reminders");
	note(&first, outbox_purge(&c, &m, &n), "mail-purge");
	note(&first, session_purge(&c, &n), "purge-sessions");
	/* Subscribed calendars: a few per round, so one slow server cannot
	 * hold the other jobs back for long. */
	if (app->keys) {
		struct calendar_fetch_opts fo;
		calendar_fetch_opts_from(app->cfg, &fo);
		arena_reset(&a);
		c.now = ctx_clock_now();
		note(&first, calendar_refresh_due(&c, app->keys, &m, &fo, 10, &n), "calendar-refresh");
	}
	arena_release(&a);
	return first;
}

static void *loop(void *arg)
{
	const struct app *app = arg;
	struct db db;
	db_init(&db, app->cfg->database_url, app->cfg->db_connect_timeout, app->cfg->db_statement_timeout_ms);
	log_set_request_id("jobs");
	pthread_mutex_lock(&mu);
	while (!stop_requested) {
		pthread_mutex_unlock(&mu);
		jobs_run_once(&db, app);
		pthread_mutex_lock(&mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += app->cfg->jobs_interval_s;
		while (!stop_requested && pthread_cond_timedwait(&cv, &mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&mu);
	db_release(&db);
	return NULL;
}

void jobs_start(struct app *app)
{
	stop_requested = false;
	if (pthread_create(&thread, NULL, loop, app) != 0) {
		log_error("cannot start the background job thread");
		return;
	}
	running = true;
	mailer = (struct mailer){app->cfg, app->tpl, app->keys};
	mail_worker_start(&mailer);
}

void jobs_stop(void)
{
	mail_worker_stop();
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stop_requested = true;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	running = false;
}
