"""Sign-in, token refresh, expiry and tampering (issue 2 §5)."""

import base64
import dataclasses
import json

import jwt

from backend.app import create_app
from tests.conftest import PASSWORD, START

PROBLEM = "application/problem+json"


def _sign_in(client, username, password=PASSWORD):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_sign_in_returns_tokens_with_roles_and_me_answers(client, make_user):
    user = make_user("dispatcher", "supervisor", full_name="Li Wei")
    response = _sign_in(client, user.username)
    body = response.get_json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
    assert sorted(body["roles"]) == ["dispatcher", "supervisor"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.get_json()["username"] == user.username and me.get_json()["full_name"] == "Li Wei"
    assert "password" not in me.get_json() and "password_hash" not in me.get_json()


def test_username_is_case_insensitive(client, make_user):
    user = make_user("agent", username="Zhang.Min")
    assert _sign_in(client, "zhang.min").status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_401(client, make_user):
    user = make_user("agent")
    wrong = _sign_in(client, user.username, "not-the-password")
    unknown = _sign_in(client, "nobody-here", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.mimetype == PROBLEM
        assert response.get_json()["detail"] == "wrong username or password"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_missing_token_is_401(anonymous):
    response = anonymous.get("/api/v1/me")
    assert response.status_code == 401 and response.mimetype == PROBLEM


def test_access_token_expires_by_the_injected_clock(client, make_user, login, clock):
    api = login(make_user("agent"))
    clock.advance(minutes=14, seconds=59)
    assert api.get("/api/v1/me").status_code == 200
    clock.advance(seconds=1)
    response = api.get("/api/v1/me")
    assert response.status_code == 401
    assert "expired" in response.get_json()["detail"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_tampered_tokens_are_refused(client, make_user, login, settings):
    victim = make_user("technician")
    admin = make_user("admin")
    token = login(victim).token
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(admin.id)  # try to become the admin by editing the payload
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forgeries = [
        f"{header}.{forged_payload}.{signature}",
        jwt.encode(claims, "some-other-key-that-is-long-enough-0123456789", algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
        token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
        "not-a-jwt",
    ]
    for forged in forgeries:
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401, forged
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()["id"] == victim.id


def test_a_token_verified_under_one_key_is_refused_under_another(client, make_user, login, settings, clock):
    # Verified tokens are remembered per key: a server given a new secret (a rotated key, another deployment in
    # the same process) checks the signature afresh and refuses what the old key signed.
    token = login(make_user("agent")).token
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    rotated = create_app(dataclasses.replace(settings, secret_key="another-secret-key-that-is-long-enough-42"),
                         clock=clock)
    try:
        response = rotated.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    finally:
        rotated.extensions["onsite"].engine.dispose()
    assert response.status_code == 401 and response.get_json()["detail"] == "access token is invalid"


def test_disabled_user_cannot_sign_in_and_loses_access(client, make_user, login, as_role):
    user = make_user("agent")
    api = login(user)
    admin = as_role("admin")
    etag = admin.get(f"/api/v1/users/{user.id}").headers["ETag"]
    assert admin.patch(f"/api/v1/users/{user.id}", json={"active": False},
                       headers={"If-Match": etag}).status_code == 200
    assert api.get("/api/v1/me").status_code == 401
    assert _sign_in(client, user.username).status_code == 401


def test_refresh_rotates_and_a_reused_refresh_token_signs_the_family_out(client, make_user):
    user = make_user("technician")
    first = _sign_in(client, user.username).get_json()
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    second = second.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"}).status_code == 200

    # The first refresh token leaked and is replayed: refused, and the legitimate newer one dies with it.
    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401 and "already used" in replay.get_json()["detail"]
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401


def test_refresh_token_expires(client, make_user, clock):
    user = make_user("technician")
    tokens = _sign_in(client, user.username).get_json()
    clock.advance(days=30, seconds=1)
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 401


def test_unknown_refresh_token_is_401(client):
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"}).status_code == 401


def test_token_responses_may_not_be_cached(client, make_user):
    user = make_user("technician")
    signed_in = _sign_in(client, user.username)
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": signed_in.get_json()["refresh_token"]})
    for response in (signed_in, refreshed):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store" and response.headers["Pragma"] == "no-cache"


def _forged(settings, user, **claims):
    """A token signed with the server's own secret (as a misconfigured or older server could have minted it)."""
    now = int(START.timestamp())
    body = {"sub": str(user.id), "sep": 0, "roles": user.roles, "iat": now, "exp": now + 15 * 60} | claims
    return jwt.encode({k: v for k, v in body.items() if v is not None}, settings.secret_key, algorithm="HS256")


def test_a_token_minted_for_longer_than_the_configured_lifetime_is_refused(client, make_user, settings):
    user = make_user("agent")
    now = int(START.timestamp())
    fair = _forged(settings, user)
    too_long = _forged(settings, user, exp=now + 15 * 60 + 1)
    backdated = _forged(settings, user, iat=now - 24 * 3600, exp=now + 24 * 3600)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {fair}"}).status_code == 200
    for token in (too_long, backdated):
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and "longer than this server allows" in response.get_json()["detail"]


def test_a_token_with_an_out_of_range_or_malformed_subject_is_401_never_500(client, make_user, settings):
    user = make_user("agent")
    subjects = [str(2**64 + user.id), str(2**31), "1" * 5000, "0", "-1", f"{user.id}.0", "\u0664", f" {user.id}",
                user.id, None]
    for subject in subjects:
        token = _forged(settings, user, sub=subject)
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (subject, response.get_json())
        assert response.mimetype == PROBLEM


def test_a_token_with_malformed_times_or_epoch_is_401(client, make_user, settings):
    user = make_user("agent")
    now = int(START.timestamp())
    for claims in ({"sep": None}, {"sep": "0"}, {"sep": True}, {"exp": float(now + 60)}, {"exp": str(now + 60)},
                   {"exp": 10**400}):
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {_forged(settings, user, **claims)}"})
        assert response.status_code == 401, (claims, response.get_json())
