"""Assertions on HTTP responses shared by the integration test files."""

import json


def media_type(resp):
    return resp.headers.get("content-type", "").split(";")[0].strip().lower()


def assert_json_error(resp, status, code):
    """resp is `status` with the JSON error envelope and error.code `code`."""
    assert resp.status == status, f"expected {status}, got {resp.status}: {resp.body[:500]!r}"
    assert media_type(resp) == "application/json", resp.headers
    doc = json.loads(resp.body)
    assert set(doc) == {"error"}, doc
    err = doc["error"]
    assert err.get("code") == code, doc
    assert isinstance(err.get("message"), str) and err["message"].strip(), doc
    assert isinstance(err.get("fields"), dict), f"error.fields must be an object: {doc}"
    return err
