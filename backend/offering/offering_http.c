/* offering_http.c — see offering_http.h. */
#include "offering/offering_http.h"

#include "offering/offering.h"
#include "practice/practice.h"

static struct ctx req_ctx(struct req *r)
{
	return (struct ctx){r->a, r->db, ctx_clock_now(), "public", r->remote_addr};
}

/* The view every public page starts from: the practice for the layout. */
static int base_view(struct ctx *c, json_t **view)
{
	struct practice p;
	int rc = practice_get(c, &p);
	if (rc)
		return rc;
	*view = json_pack("{s:o}", "practice", practice_to_view(&p));
	return 0;
}

int offering_http_home(struct req *r)
{
	struct ctx c = req_ctx(r);
	struct offering *list;
	size_t n;
	json_t *view;
	int rc = base_view(&c, &view);
	if (rc)
		return rc;
	rc = offering_list(&c, &list, &n);
	if (rc) {
		json_decref(view);
		return rc;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, offering_to_view(r->a, &list[i]));
	json_object_set_new(view, "has_offerings", json_boolean(n > 0));
	json_object_set_new(view, "offerings", arr);
	json_object_set_new(view, "title", json_string("Book a time"));
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
