/*
 * multipart.h — a bounded multipart/form-data parser (RFC 7578) for file
 * uploads from HTML forms (an .ics file on the clinician's calendars page).
 *
 * Ours because civetweb's mg_handle_form_request has CVE-2025-9648 and is
 * never called. The whole body is already in memory under the route's
 * limit; parts become form fields (struct form, as form.c fills it) so the
 * CSRF check and handlers read them the same way. Ordinary fields must be
 * text (UTF-8 without controls other than tab/CR/LF); a file part
 * (filename= present) keeps its bytes, NUL-terminated, with value_len.
 */
#ifndef TANDEM_HTTP_MULTIPART_H
#define TANDEM_HTTP_MULTIPART_H

#include "http/form.h"

#define MULTIPART_MAX_PARTS   16
#define MULTIPART_MAX_HEADERS 2048 /* bytes of headers per part */
#define MULTIPART_MAX_NAME    100

/* Parses body under content_type's boundary. 0; ERR_MEDIA_TYPE when the
 * type is not multipart/form-data; ERR_MALFORMED for a missing boundary,
 * a part without a form-data name, or a body that ends inside a part;
 * ERR_TOO_LARGE past the part or header limits; ERR_INVALID for a name or
 * a non-file value that is not text (*bad_field names it). */
int multipart_parse(struct arena *a, const char *content_type, const char *body, size_t len, struct form *out,
                    const char **bad_field);

#endif
