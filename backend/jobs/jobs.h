/*
 * jobs.h — background work inside the server: one thread with its own
 * database connection runs each job every jobs_interval_s seconds (hold
 * expiry, appointment reminders, purging sent mail), and the mail sender
 * runs beside it on its own thread (mail/worker.c).
 *
 * Every job is written to be safe with several server processes on one
 * database: it claims rows with a single UPDATE (or FOR UPDATE SKIP
 * LOCKED), so each row is handled exactly once whoever runs it.
 */
#ifndef TANDEM_JOBS_JOBS_H
#define TANDEM_JOBS_JOBS_H

#include "http/http.h"

void jobs_start(struct app *app);
void jobs_stop(void);

/* Runs every job once now (tests, and `tandem jobs run-once`). */
int jobs_run_once(struct db *db, const struct app *app);

#endif
