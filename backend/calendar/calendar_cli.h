/*
 * calendar_cli.h — `tandem calendar import|subscribe|list|refresh|remove|busy`.
 * argv starts at the subcommand. Prints results on stdout, errors through
 * the log; returns 0 or an ERR_* (the process exit status is 1 then).
 */
#ifndef TANDEM_CALENDAR_CALENDAR_CLI_H
#define TANDEM_CALENDAR_CALENDAR_CLI_H

#include "calendar/calendar.h"

int calendar_cli(struct ctx *c, const struct keyring *k, const struct calendar_fetch_opts *fo, int argc,
                 char **argv);

/* The fetch options the configuration asks for (shared by the job). */
struct config;
void calendar_fetch_opts_from(const struct config *cfg, struct calendar_fetch_opts *o);

#endif
