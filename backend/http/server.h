/*
 * server.h — the civetweb glue: start the listener, dispatch every request
 * through the route table, and stop cleanly on SIGINT/SIGTERM.
 *
 * Each worker thread owns a struct db and an arena (civetweb init_thread /
 * mg_get_thread_pointer); a request borrows both and the arena is reset
 * when it ends. The request path: request id → route → body limits and
 * parsing → handler → response → access log and metrics.
 */
#ifndef TANDEM_HTTP_SERVER_H
#define TANDEM_HTTP_SERVER_H

#include "http/http.h"

/* Serves until SIGINT or SIGTERM; in-flight requests finish first.
 * Returns 0 on a clean stop, ERR_CONFIG/ERR_IO when it cannot start. */
int server_run(struct app *app);

/* Hooks for background work started with the server (jobs); may be NULL. */
struct server_hooks {
	void (*start)(struct app *app); /* after the listener is up */
	void (*stop)(void);             /* before the listener stops */
};
void server_set_hooks(const struct server_hooks *hooks);

#endif
