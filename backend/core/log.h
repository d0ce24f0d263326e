/*
 * log.h — one line per event on stderr: time, level, request id, message.
 *
 * The request id is thread-local and set by the HTTP layer for the span of
 * one request, so every line written while serving it carries it. Never log
 * a token, a query string, a password or anything from an intake: log ids.
 */
#ifndef TANDEM_CORE_LOG_H
#define TANDEM_CORE_LOG_H

#include "core/common.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* "debug", "info", "warn" or "error"; -1 for anything else. */
int log_level_parse(const char *name);

/* The id printed on this thread's lines; NULL clears it. Copied. */
void log_set_request_id(const char *id);
const char *log_request_id(void);

void log_msg(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
