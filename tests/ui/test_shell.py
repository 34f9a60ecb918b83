"""The UI's frame: redirect from /, static files, headers, CSRF and login."""

import re

import requests


def test_browsers_are_sent_to_the_ui_and_clients_keep_the_version_document(base_url):
    r = requests.get(base_url + "/", headers={"Accept": "text/html,*/*;q=0.8"},
                     allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/ui/"
    for accept in ("*/*", "application/json", None):
        headers = {"Accept": accept} if accept else {}
        r = requests.get(base_url + "/", headers=headers, allow_redirects=False)
        assert r.status_code == 200, accept
        assert r.json()["name"] == "OpenStack Ironic API"


def test_static_files_have_types_etags_and_the_page_strict_headers(base_url):
    r = requests.get(base_url + "/ui/static/htmx.min.js")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/javascript")
    etag = r.headers["ETag"]
    again = requests.get(base_url + "/ui/static/htmx.min.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert requests.get(base_url + "/ui/static/xterm.css").headers["Content-Type"].startswith("text/css")
    assert requests.get(base_url + "/ui/static/nope.js").status_code == 404
    page = requests.get(base_url + "/ui/")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script anywhere


def test_cross_site_and_tokenless_posts_are_refused(base_url):
    page = requests.get(base_url + "/ui/").text
    token = re.search(r'name="_csrf" value="([0-9a-f]+)"|data-csrf="([0-9a-f]+)"', page)
    token = next(g for g in token.groups() if g)
    form = {"_csrf": token}
    for headers, why in [
        ({"Origin": "http://evil.example"}, "other origin"),
        ({"Sec-Fetch-Site": "cross-site", "Origin": base_url}, "cross-site fetch"),
        ({}, "no origin"),
    ]:
        r = requests.post(base_url + "/ui/logout", data=form, headers=headers,
                          allow_redirects=False)
        assert r.status_code == 403, why
        assert "Cross-site request refused" in r.json()["error_message"]
    r = requests.post(base_url + "/ui/logout", data={"_csrf": "forged"},
                      headers={"Origin": base_url}, allow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.json()["error_message"]
    r = requests.post(base_url + "/ui/logout", data=form, headers={"Origin": base_url},
                      allow_redirects=False)
    assert r.status_code == 303


def test_the_shell_renders_in_chromium_without_csp_violations(page, base_url):
    page.goto(base_url + "/")
    assert page.url == base_url + "/ui/"
    assert page.locator("header.top nav a", has_text="Machines").is_visible()
    # The vendored scripts loaded (a CSP or path mistake would leave them undefined).
    assert page.evaluate("typeof htmx") == "object"
    assert page.evaluate("htmx.version").startswith("2.")


def test_http_basic_login_flow(start_server, browser, shot):
    srv = start_server(auth="http_basic", users={"admin": "s3cret"})
    ctx = browser.new_context()
    pg = ctx.new_page()
    try:
        pg.goto(srv.url + "/ui/machines")
        assert "/ui/login" in pg.url
        pg.fill("input[name=username]", "admin")
        pg.fill("input[name=password]", "wrong")
        pg.click("button[type=submit]")
        assert pg.locator("p.error").inner_text() == \
            "Authorization failed: invalid or missing credentials"
        shot(pg, "login_wrong_password")
        pg.fill("input[name=password]", "s3cret")
        pg.click("button[type=submit]")
        pg.wait_for_url(srv.url + "/ui/machines")
        cookie = next(c for c in ctx.cookies() if c["name"] == "ironbox_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
        assert pg.locator("header.top .who").inner_text() == "admin"
        # The JSON API still wants its own credentials.
        assert requests.get(srv.url + "/v1/nodes").status_code == 401
        pg.click("form.logout button")
        pg.wait_for_url(re.compile(r".*/ui/login.*"))
        pg.goto(srv.url + "/ui/machines")
        assert "/ui/login" in pg.url
    finally:
        ctx.close()
