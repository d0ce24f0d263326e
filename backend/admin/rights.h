/*
 * rights.h — a client's data rights in the clinician area (issue 7 §7):
 * export everything about one client as JSON, and erase a client.
 *
 * A "client" is one person of one booking (booking_client.id). The same
 * person's other bookings are found through the blind index of their
 * email (booking_client.email_index), within the viewer's reach; in each
 * booking only one position is theirs (the one whose index matches, the
 * lower position if both partners share an address), and the partner's
 * data is never included.
 *
 * Export: the owner, or the clinician of the client's bookings (only the
 * bookings that clinician may see); anyone else gets 404. Every export is
 * audited before it is built ("client.export", target "client:<id>").
 *
 * Erase: the owner only (a non-owner who can see the booking gets 403):
 * erasing is irreversible and can destroy records the practice may have
 * to keep, so it is the practice's decision, not one clinician's. The
 * form must carry the booking reference typed as a confirmation. The
 * client's sealed name and email become sealed empty strings, the phone,
 * initials and blind index go, their intake (draft, answers, flags,
 * signature) is deleted, queued messages to them are deleted and sent ones
 * lose recipient and body (the clinician's copies too), cancel notes of
 * the booking go, and their capability links are revoked. The booking
 * stays as it was (times, status, blocks): it still reserves its time and
 * shows "erased client". Allowed at any time; cancelling is separate.
 */
#ifndef TANDEM_ADMIN_RIGHTS_H
#define TANDEM_ADMIN_RIGHTS_H
#include "core/ctx.h"
#include "crypto/keys.h"
#include "http/http.h"
int rights_http_clients(struct req *r); /* GET /admin/bookings/{id}/clients */

/* The clients of booking_id (the caller has checked the viewer's reach and
 * audits the read), decrypted for the booking page, in position order:
 * [{who, erased, name, email, phone (or absent), safe_contact_text,
 * intake ("not started", "draft", "submitted"; absent without a form)}]. */
int rights_booking_clients(struct ctx *c, const struct keyring *k, int64_t booking_id, json_t **out);
int rights_http_export(struct req *r); /* GET /admin/clients/{id}/export.json */
int rights_http_erase(struct req *r);  /* POST /admin/clients/{id}/erase */
#endif
