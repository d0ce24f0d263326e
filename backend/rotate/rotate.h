/*
 * rotate.h — re-encrypting every sealed column under the current data key
 * (SPEC §5 "rotation without downtime"; `tandem keys rotate`).
 *
 * Rotation: put a new `key` line first in the key file, restart the
 * servers (they then seal new values with it and still open old ones),
 * run the command; when it reports nothing left under old keys, the old
 * lines can go. It works in batches of rows, each its own short
 * transaction taking its rows with FOR UPDATE SKIP LOCKED, so the servers
 * keep serving and a row being changed is simply picked up by a later
 * batch. Each value is opened with the associated data it was sealed with
 * (its table, column and row) and sealed again with the same.
 */
#ifndef TANDEM_ROTATE_ROTATE_H
#define TANDEM_ROTATE_ROTATE_H

#include "core/ctx.h"
#include "crypto/keys.h"

struct rotate_report {
	long rotated; /* values re-encrypted */
	long failed;  /* values that did not open (unknown key, damaged): left as they were */
	long left;    /* values still under another key when done (failed + written meanwhile) */
};

/* Re-encrypts, batch rows per transaction. 0, or an ERR_*; failures to
 * open a value are counted, not fatal. */
int rotate_all(struct ctx *c, const struct keyring *k, int batch, struct rotate_report *out);

/* Values sealed under a key other than the current one. */
int rotate_count_old(struct ctx *c, const struct keyring *k, long *n);

#endif
