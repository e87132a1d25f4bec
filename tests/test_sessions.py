"""Sessions that can be ended (issue 10 §2): a password change, an admin's reset, deactivation and the admin's
"sign out everywhere" end every access and refresh token of the user; a sign-in has an absolute lifetime; a
refresh token can sign its own sign-in out."""

from sqlalchemy import select

from backend.accounts.models import RefreshToken, User
from backend.accounts.service import issue_tokens, session_is_current
from tests.conftest import PASSWORD, Api

NEW_PASSWORD = "a-brand-new-passphrase"


def _sign_in(client, username, password=PASSWORD):
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _refresh(client, refresh_token):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def _patch_user(admin, user_id, body):
    url = f"/api/v1/users/{user_id}"
    return admin.patch(url, json=body, headers={"If-Match": admin.get(url).headers["ETag"]})


def _alive(client, tokens):
    """Whether the access token still works and the refresh token can still be exchanged."""
    access = Api(client, tokens["access_token"]).get("/api/v1/me").status_code == 200
    return access, _refresh(client, tokens["refresh_token"]).status_code == 200


def test_an_admin_password_reset_ends_every_session_of_the_user(client, make_user, as_role):
    user = make_user("technician")
    phone, laptop = _sign_in(client, user.username), _sign_in(client, user.username)
    admin = as_role("admin")

    assert _patch_user(admin, user.id, {"password": NEW_PASSWORD}).status_code == 200

    assert _alive(client, phone) == (False, False)
    assert _alive(client, laptop) == (False, False)
    refused = Api(client, phone["access_token"]).get("/api/v1/me")
    assert refused.status_code == 401 and "session ended" in refused.get_json()["detail"]
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert client.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD}).status_code == 401
    assert _alive(client, _sign_in(client, user.username, NEW_PASSWORD)) == (True, True)


def test_changing_ones_own_password_ends_ones_own_sessions_too(client, make_user):
    admin = make_user("admin")
    old = _sign_in(client, admin.username)
    api = Api(client, old["access_token"])
    assert _patch_user(api, admin.id, {"password": NEW_PASSWORD}).status_code == 200
    assert _alive(client, old) == (False, False)
    assert _alive(client, _sign_in(client, admin.username, NEW_PASSWORD)) == (True, True)


def test_other_changes_to_the_account_leave_its_sessions_alone(client, make_user, as_role):
    user = make_user("agent")
    tokens = _sign_in(client, user.username)
    admin = as_role("admin")
    assert _patch_user(admin, user.id, {"full_name": "Renamed", "roles": ["agent", "dispatcher"]}).status_code == 200
    assert _alive(client, tokens) == (True, True)


def test_deactivation_ends_every_session_and_reactivation_does_not_revive_them(client, make_user, as_role):
    user = make_user("technician")
    tokens = _sign_in(client, user.username)
    admin = as_role("admin")

    assert _patch_user(admin, user.id, {"active": False}).status_code == 200
    assert _alive(client, tokens) == (False, False)
    assert _patch_user(admin, user.id, {"active": True}).status_code == 200
    assert _alive(client, tokens) == (False, False)
    assert _alive(client, _sign_in(client, user.username)) == (True, True)


def test_an_admin_signs_a_user_out_everywhere_and_it_is_audited(client, make_user, login):
    user, bystander = make_user("technician"), make_user("technician")
    first, second = _sign_in(client, user.username), _sign_in(client, user.username)
    untouched = _sign_in(client, bystander.username)
    admin_user = make_user("admin")
    admin = login(admin_user)

    response = admin.delete(f"/api/v1/users/{user.id}/sessions")

    assert response.status_code == 204 and response.get_data() == b""
    assert _alive(client, first) == (False, False) and _alive(client, second) == (False, False)
    assert _alive(client, untouched) == (True, True)
    assert _alive(client, _sign_in(client, user.username)) == (True, True)
    manager = login(make_user("manager"))
    entries = manager.get(f"/api/v1/audit?entity_type=users&entity_id={user.id}").get_json()
    ended = [e for e in entries if e["change"] == "update" and "session_epoch" in (e["after"] or {})]
    assert len(ended) == 1 and ended[0]["actor_user_id"] == admin_user.id
    assert ended[0]["action"] == "DELETE /api/v1/users/<id:user_id>/sessions"


def test_only_an_admin_may_end_someone_elses_sessions(client, make_user, as_role):
    user = make_user("technician")
    tokens = _sign_in(client, user.username)
    for role in ("manager", "supervisor", "technician"):
        assert as_role(role).delete(f"/api/v1/users/{user.id}/sessions").status_code == 403
    assert Api(client).delete(f"/api/v1/users/{user.id}/sessions").status_code == 401
    assert as_role("admin").delete("/api/v1/users/999999/sessions").status_code == 404
    assert _alive(client, tokens) == (True, True)


def test_a_sign_in_ends_after_the_family_lifetime_however_often_it_is_refreshed(client, make_user, clock):
    user = make_user("technician")
    tokens = _sign_in(client, user.username)
    for _ in range(29):  # refreshed every day: each new token would live 30 days if the sign-in slid along
        clock.advance(days=1)
        response = _refresh(client, tokens["refresh_token"])
        assert response.status_code == 200
        tokens = response.get_json()
    clock.advance(days=1)  # 30 days after the password was given, although the last token is one day old
    assert _refresh(client, tokens["refresh_token"]).status_code == 401
    assert Api(client, tokens["access_token"]).get("/api/v1/me").status_code == 401  # its 15 minutes are over too


def test_the_family_lifetime_is_configurable(app, settings, clock, make_user):
    from dataclasses import replace

    from backend.app import create_app

    short = create_app(replace(settings, refresh_family_days=2), clock=clock)
    try:
        client = short.test_client()
        user = make_user("technician")
        tokens = _sign_in(client, user.username)
        clock.advance(days=1, hours=23)
        tokens = _refresh(client, tokens["refresh_token"]).get_json()
        clock.advance(hours=1)
        assert _refresh(client, tokens["refresh_token"]).status_code == 401
    finally:
        short.extensions["onsite"].engine.dispose()


def test_logout_ends_that_sign_in_only(client, make_user):
    user = make_user("technician")
    phone, laptop = _sign_in(client, user.username), _sign_in(client, user.username)
    rotated = _refresh(client, phone["refresh_token"]).get_json()

    # No access token needed: the refresh token is the credential. An older token of the family ends it too.
    response = client.post("/api/v1/auth/logout", json={"refresh_token": phone["refresh_token"]})

    assert response.status_code == 204
    assert _refresh(client, rotated["refresh_token"]).status_code == 401
    assert _alive(client, laptop) == (True, True)


def test_logout_with_an_unknown_or_ended_token_answers_the_same(client, make_user):
    user = make_user("technician")
    tokens = _sign_in(client, user.username)
    assert client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    assert client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    assert client.post("/api/v1/auth/logout", json={"refresh_token": "made-up"}).status_code == 204
    assert client.post("/api/v1/auth/logout", json={}).status_code == 422
    # A malformed Idempotency-Key is refused on anonymous writes too, as documented, not silently ignored.
    malformed = client.post("/api/v1/auth/logout", json={"refresh_token": "made-up"},
                            headers={"Idempotency-Key": "k" * 201})
    assert malformed.status_code == 422 and malformed.get_json()["errors"][0]["field"] == "Idempotency-Key"


def test_a_refresh_token_issued_while_sessions_were_being_ended_still_dies(app, client, make_user, session, clock):
    """A sign-in racing a password change can commit its refresh token after the change revoked the others; the
    epoch it carries still ends it."""
    user = make_user("technician")
    stale = issue_tokens(session, session.get(User, user.id), app.extensions["onsite"].token_policy, clock.now())
    session.get(User, user.id).session_epoch += 1  # the password change, committed in between
    session.commit()
    assert session.scalar(select(RefreshToken.revoked_at).where(RefreshToken.user_id == user.id)) is None
    assert _refresh(client, stale.refresh_token).status_code == 401


def test_session_is_current_is_the_one_check_for_other_front_ends(make_user, session):
    user = session.get(User, make_user("dispatcher").id)
    assert session_is_current(user, user.session_epoch)
    assert not session_is_current(user, user.session_epoch - 1)
    user.active = False
    assert not session_is_current(user, user.session_epoch)
