/* offering_http.c — see offering_http.h. */
#include "offering/offering_http.h"

#include "offering/offering.h"

static struct ctx req_ctx(struct req *r)
{
	return (struct ctx){r->a, r->db, ctx_clock_now(), "public", r->remote_addr};
}

int offering_http_home(struct req *r)
{
	struct ctx c = req_ctx(r);
	struct offering_home h;
	int rc = offering_home(&c, &h);
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < h.n; i++)
		json_array_append_new(arr, offering_to_view(r->a, &h.list[i]));
	json_t *view = json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:b, s:o, s:s}", "practice", "name",
	                         h.practice_name, "timezone", h.practice_timezone, "address",
	                         h.practice_address, "phone", h.practice_phone, "email", h.practice_email,
	                         "has_offerings", h.n > 0, "offerings", arr, "title", "Book a time");
	if (!view)
		core_oom();
	return http_send_page(r, 200, "pages/home", view);
}

int offering_http_api_list(struct req *r)
{
	struct ctx c = req_ctx(r);
	struct offering *list;
	size_t n;
	int rc = offering_list(&c, &list, &n);
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, offering_to_json(&list[i]));
	return http_send_json(r, 200, json_pack("{s:o}", "offerings", arr));
}
