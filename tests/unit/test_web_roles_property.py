"""The role decision and the page paths are total: any header, path or method."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgwarden.web.auth import ADMIN_ONLY, IN_URL, REQUIRED, Roles, may_read
from pgwarden.web.pages import PAGE_PATHS, is_page

ADMIN, VIEWER = "admin-token-0123456789", "viewer-token-0123456789"
ROLES = Roles(ADMIN, VIEWER)
METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "get", "X"])
TEXT = st.text(max_size=200)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.one_of(st.none(), TEXT), METHODS, TEXT)
@example(b"token=x", f"Bearer {ADMIN}", "GET", "/api/admin/session")
@example(b"", f"Bearer {VIEWER}", "POST", "/api/admin/alerts/1/ack")
@example(b"", "Bearer \udcff", "GET", "/")
def test_decide_answers_one_of_three_ways(
    query: bytes, authorization: str | None, method: str, path: str
) -> None:
    code, why, role = ROLES.decide(query, authorization, method, path)
    assert (code, why, role) in {(200, "", "admin"), (200, "", "viewer"),
                                 (401, REQUIRED, None), (401, IN_URL, None),
                                 (403, ADMIN_ONLY, "viewer")}  # fmt: skip
    if code == 200 and role == "viewer":
        assert may_read(method, path)


def test_each_role_gets_what_it_may() -> None:
    admin, viewer = f"Bearer {ADMIN}", f"Bearer {VIEWER}"
    assert ROLES.decide(b"", admin, "POST", "/api/ingest/app-metrics")[:1] == (200,)
    assert ROLES.decide(b"", viewer, "GET", "/api/admin/live")[2] == "viewer"
    assert ROLES.decide(b"", viewer, "POST", "/api/admin/live/1/cancel")[0] == 403
    assert ROLES.decide(b"", viewer, "GET", "/api/ingest/slow-queries")[0] == 403
    assert ROLES.decide(b"token=1", admin, "GET", "/metrics")[:2] == (401, IN_URL)
    assert Roles(ADMIN).decide(b"", viewer, "GET", "/metrics")[0] == 401


def test_a_viewer_token_equal_to_the_admin_token_is_refused() -> None:
    for bad in (ADMIN, ""):
        try:
            Roles(ADMIN, bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted viewer token {bad!r}")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
@example("/queries/")
@example("/queries/1/2")
@example("/queries/-12")
def test_is_page_is_total(path: str) -> None:
    below = path.removeprefix("/queries/") if path.startswith("/queries/") else ""
    assert is_page(path) is (path in PAGE_PATHS or bool(below and "/" not in below))
