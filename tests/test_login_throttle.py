"""Brute force on sign-in (issue 10 §3): failures are counted per username and, more loosely, per client address,
in the database (so every process counts together); past the limit, attempts get 429 with Retry-After, backing off
1, 2, 4, 8, at most 15 minutes, and the password is not even checked. A success clears the username's count."""

from __future__ import annotations

import threading
from dataclasses import replace
from functools import partial

import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from backend.accounts import service as accounts_service
from backend.accounts.models import LoginThrottle
from backend.app import create_app
from backend.duties.registry import registered, run_duty
from tests.conftest import PASSWORD
from tests.console_support import Console

PROBLEM = "application/problem+json"
WRONG = "not-the-password"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """These tests make many attempts; a one-round hash keeps them fast without changing what is checked."""
    monkeypatch.setattr(accounts_service, "generate_password_hash",
                        partial(generate_password_hash, method="pbkdf2:sha256:1"))


@pytest.fixture
def password_checks(monkeypatch):
    """How many times a password was checked against a hash."""
    calls = []

    def counting(stored, password):
        calls.append(password)
        return check_password_hash(stored, password)

    monkeypatch.setattr(accounts_service, "check_password_hash", counting)
    return calls


def _sign_in(client, username, password=PASSWORD, address="192.0.2.10"):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _fail(client, username, times, address="192.0.2.10"):
    for _ in range(times):
        assert _sign_in(client, username, WRONG, address).status_code == 401


def _assert_throttled(response, *, retry_after):
    assert response.status_code == 429
    assert response.mimetype == PROBLEM
    assert response.get_json()["status"] == 429 and "too many failed sign-ins" in response.get_json()["detail"]
    assert int(response.headers["Retry-After"]) == retry_after


def test_the_eleventh_attempt_is_refused_for_a_minute_even_with_the_right_password(client, make_user,
                                                                                     password_checks):
    user = make_user("technician")
    _fail(client, user.username, 10)
    checked = len(password_checks)

    response = _sign_in(client, user.username)

    _assert_throttled(response, retry_after=60)
    assert len(password_checks) == checked  # refused before the password was looked at
    # Any spelling of the username, from any address: the lock is on the account name.
    _assert_throttled(_sign_in(client, user.username.upper(), address="198.51.100.7"), retry_after=60)


def test_the_console_sign_in_shares_the_lock_and_says_when_to_retry(client, make_user):
    user = make_user("dispatcher")
    _fail(client, user.username, 10)

    response = Console(client).sign_in(user)

    assert response.status_code == 429 and "Too many failed sign-ins" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) == 60


def test_the_lock_expires_and_a_success_clears_the_count(client, make_user, clock):
    user = make_user("technician")
    _fail(client, user.username, 10)
    clock.advance(seconds=59)
    _assert_throttled(_sign_in(client, user.username), retry_after=1)
    clock.advance(seconds=1)
    assert _sign_in(client, user.username).status_code == 200
    # A fresh start: ten more mistakes are allowed before the next lock.
    _fail(client, user.username, 10)
    assert _sign_in(client, user.username).status_code == 429


def test_each_failure_past_the_limit_doubles_the_lock_up_to_fifteen_minutes(client, make_user, clock):
    user = make_user("technician")
    _fail(client, user.username, 10)
    for expected in (60, 120, 240, 480, 900, 900):
        _assert_throttled(_sign_in(client, user.username), retry_after=expected)
        clock.advance(seconds=expected)
        assert _sign_in(client, user.username, WRONG).status_code == 401
    assert int(_sign_in(client, user.username).headers["Retry-After"]) == 900


def test_the_count_decays_after_a_quiet_window(client, make_user, clock):
    user = make_user("technician")
    _fail(client, user.username, 9)
    clock.advance(minutes=15)
    _fail(client, user.username, 9)  # counted from one again, so still no lock
    assert _sign_in(client, user.username).status_code == 200


def test_waiting_out_a_lock_is_not_a_quiet_window(client, make_user, clock):
    user = make_user("technician")
    _fail(client, user.username, 10)
    clock.advance(minutes=1)
    _fail(client, user.username, 1)  # the count goes on: a two-minute lock
    _assert_throttled(_sign_in(client, user.username), retry_after=120)
    clock.advance(minutes=2 + 15)  # a whole window after the lock ended: forgotten
    _fail(client, user.username, 9)
    assert _sign_in(client, user.username).status_code == 200


def test_unknown_usernames_are_throttled_alike_so_a_lock_reveals_no_account(client, make_user):
    _fail(client, "nobody-by-this-name", 10)
    _assert_throttled(_sign_in(client, "nobody-by-this-name"), retry_after=60)


def test_a_locked_username_does_not_stop_other_users(client, make_user):
    victim, colleague = make_user("technician"), make_user("technician")
    _fail(client, victim.username, 10)
    assert _sign_in(client, colleague.username).status_code == 200


def test_one_client_address_is_limited_across_usernames(app, settings, clock, make_user):
    loose = create_app(replace(settings, login_max_failures_per_address=5), clock=clock)
    try:
        client = loose.test_client()
        user = make_user("dispatcher")
        for number in range(5):
            _fail(client, f"guess{number}", 1, address="203.0.113.9")
        _assert_throttled(_sign_in(client, user.username, address="203.0.113.9"), retry_after=60)
        assert _sign_in(client, user.username, address="203.0.113.10").status_code == 200
    finally:
        loose.extensions["onsite"].engine.dispose()


def test_the_default_address_limit_is_looser_than_the_username_limit(client, make_user):
    users = [make_user("technician") for _ in range(3)]
    for user in users:
        _fail(client, user.username, 9)  # 27 failures from one address, none locked yet
    assert all(_sign_in(client, user.username).status_code == 200 for user in users)


def test_limits_and_window_are_settings(app, settings, clock, make_user):
    strict = create_app(replace(settings, login_max_failures_per_user=3, login_window_minutes=5), clock=clock)
    try:
        client = strict.test_client()
        user = make_user("technician")
        _fail(client, user.username, 3)
        _assert_throttled(_sign_in(client, user.username), retry_after=60)
        clock.advance(minutes=1 + 5)  # the lock, then a quiet window: counted from one again
        _fail(client, user.username, 2)
        assert _sign_in(client, user.username).status_code == 200
    finally:
        strict.extensions["onsite"].engine.dispose()


def test_concurrent_failures_are_all_counted(app, make_user, session):
    """Each attempt has its own client, session and connection; on PostgreSQL they truly overlap."""
    user = make_user("technician")
    callers = 8
    barrier = threading.Barrier(callers)
    statuses = []

    def attempt(number: int) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(_sign_in(client, user.username, WRONG, address=f"192.0.2.{number + 20}").status_code)

    threads = [threading.Thread(target=attempt, args=(number,)) for number in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [401] * callers
    counts = {key: failures for key, failures in session.execute(select(LoginThrottle.key, LoginThrottle.failures))}
    assert counts[f"user:{user.username}"] == callers
    assert all(counts[f"addr:192.0.2.{number + 20}"] == 1 for number in range(callers))
    client = app.test_client()
    _fail(client, user.username, 10 - callers)
    assert _sign_in(client, user.username).status_code == 429


def test_the_duty_forgets_counts_a_quiet_window_after_their_last_failure_and_lock(app, client, make_user, clock,
                                                                                  session):
    user = make_user("technician")
    _fail(client, user.username, 10)  # locked until one minute from now
    _fail(client, "someone-else", 2, address="198.51.100.1")
    onsite, duty = app.extensions["onsite"], registered()["login-throttle"]
    assert run_duty(onsite, duty) == {"forgotten": 0}
    clock.advance(minutes=15)
    assert run_duty(onsite, duty) == {"forgotten": 3}
    assert session.scalars(select(LoginThrottle.key)).all() == [f"user:{user.username}"]
    clock.advance(minutes=1)
    assert run_duty(onsite, duty) == {"forgotten": 1}
