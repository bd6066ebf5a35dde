"""connectors.http: the one HTTP session factory and its error helpers."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
import requests
import responses

from connectors import http, outbound
from connectors.base import ConnectorError

URL = "https://acme.example.com/api/v1/things"


@pytest.fixture(autouse=True)
def mocked():
    # Every request in this module goes to responses; anything unregistered
    # fails with a ConnectionError, so nothing can reach the network.
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def session(sleeps) -> http.HttpSession:
    s = http.http_session(user_agent_suffix="test")
    s.sleep = sleeps.append
    return s


# -- the session ---------------------------------------------------------------


def test_the_user_agent_names_hrsync_its_version_and_the_suffix(mocked, session):
    mocked.get(URL, json={})
    session.get(URL)
    agent = mocked.calls[0].request.headers["User-Agent"]
    assert agent == f"hrsync/{http.VERSION} test"
    assert http.user_agent() == f"hrsync/{http.VERSION}"


def test_a_default_timeout_is_applied_to_every_request(mocked, session):
    mocked.get(URL, json={})
    mocked.post(URL, json={})
    session.get(URL)
    session.post(URL, json={"a": 1})
    assert [c.request.req_kwargs["timeout"] for c in mocked.calls] == [(10, 60), (10, 60)]


def test_an_explicit_timeout_wins_but_none_is_never_allowed(mocked, session):
    mocked.get(URL, json={})
    session.get(URL, timeout=3)
    session.get(URL, timeout=None)
    assert [c.request.req_kwargs["timeout"] for c in mocked.calls] == [3, (10, 60)]


def test_the_timeout_is_configurable_per_session(mocked):
    s = http.http_session(timeout=(2.0, 5.0))
    mocked.get(URL, json={})
    s.get(URL)
    assert mocked.calls[0].request.req_kwargs["timeout"] == (2.0, 5.0)


def test_a_429_is_retried_after_the_seconds_in_retry_after(mocked, session, sleeps):
    mocked.get(URL, status=429, headers={"Retry-After": "7"})
    mocked.get(URL, status=429, headers={"Retry-After": "2"})
    mocked.get(URL, json={"ok": True})
    response = session.get(URL)
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert sleeps == [7.0, 2.0]
    assert len(mocked.calls) == 3


def test_a_retry_after_date_is_honoured_and_capped_at_five_minutes(mocked, session, sleeps):
    far_future = "Fri, 31 Dec 2100 23:59:59 GMT"
    mocked.get(URL, status=503, headers={"Retry-After": far_future})
    mocked.get(URL, json={})
    assert session.get(URL).status_code == 200
    assert sleeps == [http.MAX_RETRY_AFTER] == [300.0]


def test_an_unreadable_retry_after_falls_back_to_backoff(mocked, session, sleeps):
    mocked.get(URL, status=429, headers={"Retry-After": "soon-ish"})
    mocked.get(URL, json={})
    assert session.get(URL).status_code == 200
    assert sleeps == [1.0]


def test_retry_after_reads_seconds_and_http_dates():
    now = dt.datetime(2025, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert http.retry_after_seconds("120", now=now) == 120.0
    assert http.retry_after_seconds("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert http.retry_after_seconds("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert http.retry_after_seconds(None) is None
    assert http.retry_after_seconds("") is None
    assert http.retry_after_seconds("-5") is None
    assert http.retry_after_seconds("later") is None


def test_server_errors_back_off_exponentially_then_the_last_response_is_returned(
    mocked, session, sleeps
):
    for _ in range(5):
        mocked.get(URL, status=503)
    response = session.get(URL)
    assert response.status_code == 503
    assert len(mocked.calls) == 5
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_backoff_is_capped_and_attempts_are_configurable(mocked, sleeps):
    s = http.http_session(max_attempts=4, backoff_base=10.0, max_backoff=25.0)
    s.sleep = sleeps.append
    for status in (500, 502, 504, 500):
        mocked.get(URL, status=status)
    assert s.get(URL).status_code == 500
    assert len(mocked.calls) == 4
    assert sleeps == [10.0, 20.0, 25.0]


def test_a_server_error_that_clears_up_is_retried_to_success(mocked, session, sleeps):
    mocked.get(URL, status=502)
    mocked.get(URL, json={"fine": 1})
    assert session.get(URL).json() == {"fine": 1}
    assert sleeps == [1.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_client_errors_are_not_retried(mocked, session, sleeps, status):
    mocked.get(URL, status=status)
    assert session.get(URL).status_code == status
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_a_connection_error_is_retried_then_raised(mocked, sleeps):
    s = http.http_session(max_attempts=3)
    s.sleep = sleeps.append
    for _ in range(3):
        mocked.get(URL, body=requests.ConnectionError("connection reset"))
    with pytest.raises(requests.ConnectionError):
        s.get(URL)
    assert len(mocked.calls) == 3
    assert sleeps == [1.0, 2.0]


def test_a_read_timeout_is_retried_to_success(mocked, session, sleeps):
    mocked.get(URL, body=requests.ReadTimeout("slow"))
    mocked.get(URL, json=[1, 2])
    assert session.get(URL).json() == [1, 2]
    assert sleeps == [1.0]


def test_a_certificate_error_is_not_retried(mocked, session, sleeps):
    mocked.get(URL, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(requests.exceptions.SSLError):
        session.get(URL)
    assert sleeps == []


def test_a_post_is_retried_on_429_but_not_on_a_server_error(mocked, session, sleeps):
    mocked.post(URL, status=429, headers={"Retry-After": "1"})
    mocked.post(URL, status=503)
    response = session.post(URL, json={"create": "me"})
    assert response.status_code == 503
    assert len(mocked.calls) == 2
    assert sleeps == [1.0]


def test_a_post_marked_idempotent_is_retried_on_a_server_error(mocked, session, sleeps):
    mocked.post(URL, status=503)
    mocked.post(URL, json={"access_token": "t"})
    assert session.post(URL, data={"grant_type": "password"}, idempotent=True).status_code == 200
    assert sleeps == [1.0]


def test_a_post_whose_connection_never_opened_is_retried(mocked, session, sleeps):
    mocked.post(URL, body=requests.ConnectTimeout("connect timeout"))
    mocked.post(URL, json={})
    assert session.post(URL).status_code == 200
    assert sleeps == [1.0]


def test_a_post_whose_connection_broke_is_not_retried(mocked, session, sleeps):
    mocked.post(URL, body=requests.ConnectionError("reset by peer"))
    with pytest.raises(requests.ConnectionError):
        session.post(URL)
    assert sleeps == []


def test_retries_are_logged_with_method_host_path_and_status_only(mocked, session, caplog):
    session.auth = ("api-user", "hunter2-secret")
    mocked.get(URL, status=429, headers={"Retry-After": "3"})
    mocked.get(URL, status=503)
    mocked.get(URL, json={})
    with caplog.at_level(logging.DEBUG):
        session.get(URL, params={"token": "query-secret"})
    retries = [
        r for r in caplog.records if r.name == "connectors.http" and r.levelno == logging.INFO
    ]
    assert len(retries) == 2
    assert "GET acme.example.com/api/v1/things returned 429" in retries[0].getMessage()
    assert "3.0 s" in retries[0].getMessage()
    assert "returned 503" in retries[1].getMessage()
    assert "hunter2-secret" not in caplog.text
    assert "query-secret" not in caplog.text
    assert "Authorization" not in caplog.text


def test_giving_up_is_logged_as_a_warning(mocked, sleeps, caplog):
    s = http.http_session(max_attempts=2)
    s.sleep = sleeps.append
    mocked.get(URL, status=500)
    mocked.get(URL, status=500)
    with caplog.at_level(logging.INFO, logger="connectors.http"):
        s.get(URL)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "GET acme.example.com/api/v1/things returned 500; giving up after 2 tries"
    ]


def test_max_attempts_must_be_at_least_one():
    with pytest.raises(ValueError):
        http.http_session(max_attempts=0)


# -- redirects -------------------------------------------------------------------


def test_a_redirect_from_https_to_plain_http_is_refused(mocked, session):
    mocked.get(URL, status=302, headers={"Location": "http://acme.example.com/api/v1/things"})
    with pytest.raises(ConnectorError) as caught:
        session.get(URL)
    assert caught.value.message.startswith(
        "acme.example.com redirected hrsync from https to plain http, so hrsync stopped"
    )
    assert caught.value.permanent is True
    assert len(mocked.calls) == 1  # the plain http address was never asked


def test_a_redirect_that_stays_on_https_is_followed(mocked, session):
    mocked.get(URL, status=301, headers={"Location": "/api/v2/things"})
    mocked.get("https://acme.example.com/api/v2/things", json={"ok": True})
    assert session.get(URL).json() == {"ok": True}


# -- a web page's deadline -------------------------------------------------------


def test_inside_a_deadline_the_timeouts_shrink_to_what_is_left(mocked, session):
    mocked.get(URL, json={})
    mocked.get(URL, json={})
    with outbound.deadline(seconds=5, then=""):
        session.get(URL)
    session.get(URL)
    connect, read = mocked.calls[0].request.req_kwargs["timeout"]
    assert 4 < connect <= 5 and 4 < read <= 5
    assert mocked.calls[1].request.req_kwargs["timeout"] == (10, 60)  # outside it, the full allowance


def test_no_retry_waits_past_the_deadline(mocked, session, sleeps):
    mocked.get(URL, status=503, headers={"Retry-After": "30"})
    with outbound.deadline(seconds=5, then=""):
        response = session.get(URL)
    assert response.status_code == 503
    assert sleeps == []
    assert len(mocked.calls) == 1


def test_a_timeout_at_the_deadline_says_the_check_stopped(mocked, session, sleeps):
    def slow(request):
        time.sleep(0.3)
        raise requests.ReadTimeout("read timed out")

    mocked.add_callback(responses.GET, URL, callback=slow)
    with outbound.deadline(seconds=0.2, then="The next sync will try again."), pytest.raises(ConnectorError) as caught:
        session.get(URL)
    assert caught.value.message == (
        "The server at acme.example.com did not answer within 0.2 seconds, so the check stopped. "
        "The next sync will try again."
    )
    assert caught.value.permanent is False
    assert sleeps == []
    assert len(mocked.calls) == 1


# -- helpers --------------------------------------------------------------------


def test_safe_url_drops_user_info_query_and_fragment():
    assert http.safe_url("https://u:p@Host.example.com:8443/a/b?key=s#frag") == (
        "host.example.com:8443/a/b"
    )
    assert http.safe_host("https://u:p@host.example.com/a") == "host.example.com"


def _get(mocked, session, status, **kwargs) -> requests.Response:
    mocked.get(URL, status=status, **kwargs)
    return session.get(URL)


@pytest.mark.parametrize(
    ("status", "expected", "permanent"),
    [
        (401, "Acme rejected the credentials (401).", True),
        (403, "refused access to acme.example.com/api/v1/things (403)", True),
        (404, "Acme has nothing at acme.example.com/api/v1/things (404).", True),
        (
            400,
            "Acme refused the request GET acme.example.com/api/v1/things (HTTP 400 Bad Request)",
            True,
        ),
    ],
)
def test_client_errors_become_permanent_connector_errors(
    mocked, session, status, expected, permanent
):
    response = _get(mocked, session, status)
    with pytest.raises(ConnectorError) as caught:
        http.raise_for_status(response, vendor="Acme")
    assert expected in caught.value.message
    assert caught.value.permanent is permanent


def test_a_429_after_retries_is_a_transient_rate_limit_error(mocked, sleeps):
    s = http.http_session(max_attempts=1)
    response = _get(mocked, s, 429)
    with pytest.raises(ConnectorError) as caught:
        http.raise_for_status(response, vendor="Acme")
    assert "rate limited (HTTP 429)" in caught.value.message
    # A failed run says "Nothing was changed." itself (sync_run_execute), once.
    assert "nothing was changed" not in caught.value.message.lower()
    assert caught.value.permanent is False


def test_a_server_error_after_retries_is_transient_and_says_when_it_is_tried_again(mocked, sleeps):
    s = http.http_session(max_attempts=1)
    response = _get(mocked, s, 503)
    with pytest.raises(ConnectorError) as caught:
        http.raise_for_status(response, vendor="Acme")
    assert caught.value.message == (
        "Acme had a server error (HTTP 503) on every try. "
        "hrsync will try again at the next sync."
    )
    assert caught.value.permanent is False


def test_a_failed_write_does_not_claim_nothing_changed(mocked):
    s = http.http_session(max_attempts=1)
    mocked.post(URL, status=500)
    with pytest.raises(ConnectorError) as caught:
        http.raise_for_status(s.post(URL), vendor="Acme")
    assert "nothing was changed" not in caught.value.message
    assert "(HTTP 500) on every try." in caught.value.message


def test_messages_can_be_overridden_per_status(mocked, session):
    response = _get(mocked, session, 401)
    with pytest.raises(ConnectorError) as caught:
        http.raise_for_status(
            response, vendor="Acme", messages={401: "{vendor} said no to {host} ({status})."}
        )
    assert caught.value.message == "Acme said no to acme.example.com (401)."
    assert caught.value.permanent is True


@pytest.mark.parametrize("status", [200, 204, 304])
def test_success_is_not_an_error(mocked, session, sleeps, status):
    response = _get(mocked, session, status)
    assert response.status_code == status
    assert http.raise_for_status(response, vendor="Acme") is None
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_response_json_returns_the_body(mocked, session):
    mocked.get(URL, body=b"\xef\xbb\xbf{\"a\": [1, 2]}", content_type="application/json")
    assert http.response_json(session.get(URL), vendor="Acme") == {"a": [1, 2]}


def test_response_json_names_an_html_error_page(mocked, session):
    page = "<html><head><title>Service Unavailable</title></head><body>Try later</body></html>"
    mocked.get(URL, body=page, content_type="text/html")
    with pytest.raises(ConnectorError) as caught:
        http.response_json(session.get(URL), vendor="Acme")
    assert caught.value.message == (
        "Acme returned something that is not JSON from acme.example.com/api/v1/things "
        "(an HTML page starting 'Service Unavailable'…); check the base URL and path."
    )
    assert caught.value.permanent is True


def test_a_secret_the_server_echoes_is_scrubbed_before_the_excerpt_is_cut(mocked, session):
    password = "Zq9-echoed-back-password"
    # The excerpt keeps 40 characters: a cut after scrubbing would keep "Zq9-echoed".
    page = f"<html><head><title>Login failed for the password {password}</title></head></html>"
    mocked.get(URL, body=page, content_type="text/html")
    with pytest.raises(ConnectorError) as caught:
        http.response_json(session.get(URL), vendor="Acme", scrub=lambda text: text.replace(password, "********"))
    assert "(an HTML page starting 'Login failed for the password ********'…)" in caught.value.message
    assert "Zq9" not in caught.value.message


def test_a_secret_the_server_echoes_in_its_reason_phrase_is_scrubbed_before_the_cut():
    password = "Zq9" + "x" * 60
    response = requests.Response()
    response.status_code = 400
    response.reason = f"Bad password {password}"
    response.url = URL
    with pytest.raises(ConnectorError) as caught:
        http.raise_for_status(response, vendor="Acme", scrub=lambda text: text.replace(password, "********"))
    assert "(HTTP 400 Bad password ********)" in caught.value.message
    assert "Zq9" not in caught.value.message


def test_response_json_explains_broken_json(mocked, session):
    mocked.get(URL, body='{"employees": [{"id": 1},', content_type="application/json")
    with pytest.raises(ConnectorError) as caught:
        http.response_json(session.get(URL), vendor="Acme")
    assert caught.value.message.startswith("Acme returned broken JSON from acme.example.com")
    assert "line 1 column" in caught.value.message


def test_response_json_explains_an_empty_body(mocked, session):
    mocked.get(URL, body="")
    with pytest.raises(ConnectorError) as caught:
        http.response_json(session.get(URL), vendor="Acme")
    assert "returned an empty response" in caught.value.message


def test_request_json_turns_an_unreachable_host_into_a_transient_error(mocked, sleeps):
    s = http.http_session(max_attempts=2)
    s.sleep = sleeps.append
    url = "https://user:pa55word@acme.example.com/api/v1/things?key=k3y"
    for _ in range(2):
        mocked.get(url, body=requests.ConnectionError("Failed to resolve: NameResolutionError"))
    with pytest.raises(ConnectorError) as caught:
        http.request_json(s, "GET", url, vendor="Acme")
    assert caught.value.message == (
        "Could not reach acme.example.com: the host name could not be found. "
        "Check the address in the connection settings."
    )
    assert caught.value.permanent is False
    assert sleeps == [1.0]


@pytest.mark.parametrize(
    ("exc", "why"),
    [
        (requests.ConnectTimeout("x"), "the connection timed out on every try"),
        (requests.ReadTimeout("x"), "it stopped answering (read timeout) on every try"),
        (requests.ConnectionError("[Errno 111] Connection refused"), "the connection was refused"),
        (requests.ConnectionError("weird"), "the connection failed (ConnectionError)"),
    ],
)
def test_unreachable_errors_say_what_went_wrong(exc, why):
    error = http.unreachable_error(exc, url="https://u:p@acme.example.com/x?q=1")
    assert error.message == f"Could not reach acme.example.com: {why}."
    assert error.permanent is False


def test_a_retry_wait_reads_as_a_sentence_naming_the_vendor_and_the_reason():
    assert http.retry_wait_sentence(vendor="Acme HR", status=429, seconds=30) == (
        "Waiting 30 s: Acme HR asked hrsync to slow down (rate limit)."
    )
    assert http.retry_wait_sentence(vendor="Acme HR", status=503, seconds=2.5) == (
        "Waiting 2.5 s: Acme HR had a server error (HTTP 503); hrsync will ask again."
    )
    assert http.seconds_phrase(12.4) == "12 s"


def test_a_vendors_words_are_cleaned_and_cut_but_only_after_the_secrets_are_out():
    text = http.secrets_scrub("refused\x00 key abc123 and abc", secrets={"abc", "abc123", ""})
    assert text == "refused\x00 key ******** and ********"
    assert http.quoted_words(text, limit=14) == "refused key **…"
    assert http.quoted_words("  \x01 ", limit=14) == ""
