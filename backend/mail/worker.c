/* worker.c — see mail.h: the sender thread. It has its own database
 * connection and transport, wakes every mail_poll_ms, and sends what is
 * due. Several server processes each run one; FOR UPDATE SKIP LOCKED in
 * outbox_send_due keeps them off each other's messages. */
#include "mail/mail.h"

#include <pthread.h>
#include <time.h>

#include "core/log.h"
#include "db/db.h"

enum { BATCH = 20 };

static pthread_t thread;
static bool running;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
/* Read by libcurl's progress callback while a transfer runs. */
static volatile bool stop_requested;

static void *loop(void *arg)
{
	const struct mailer *m = arg;
	const struct config *cfg = m->cfg;
	struct db db;
	db_init(&db, cfg->database_url, cfg->db_connect_timeout, cfg->db_statement_timeout_ms);
	log_set_request_id("mail");
	struct mail_transport *t = NULL;
	char err[256];
	if (mail_transport_new(cfg, &t, err, sizeof(err)) != 0) {
		log_error("mail: %s; nothing will be sent", err);
		goto out;
	}
	pthread_mutex_lock(&mu);
	while (!stop_requested) {
		pthread_mutex_unlock(&mu);
		int handled = 0;
		struct arena a;
		arena_init(&a);
		struct ctx c = {&a, &db, ctx_clock_now(), "system", "mail"};
		int rc = outbox_send_due(&c, m, t, BATCH, &stop_requested, &handled);
		arena_release(&a);
		if (rc && rc != ERR_UNAVAILABLE)
			log_warn("mail: sending failed: %s", err_code(rc));
		pthread_mutex_lock(&mu);
		if (handled == BATCH && !rc)
			continue; /* more may be due: no pause */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		long ms = cfg->mail_poll_ms;
		until.tv_sec += ms / 1000;
		until.tv_nsec += (ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!stop_requested && pthread_cond_timedwait(&cv, &mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&mu);
out:
	mail_transport_free(t);
	db_release(&db);
	return NULL;
}

void mail_worker_start(const struct mailer *m)
{
	stop_requested = false;
	if (pthread_create(&thread, NULL, loop, (void *)m) != 0) {
		log_error("cannot start the mail sender thread");
		return;
	}
	running = true;
}

void mail_worker_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stop_requested = true;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	running = false;
}
