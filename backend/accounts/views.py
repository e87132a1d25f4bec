from typing import Any

from flask import request
from sqlalchemy.orm import Session

from backend.accounts import service
from backend.accounts.models import Role, User, UserRole
from backend.accounts.scope import assign_stations
from backend.accounts.schemas import (MeSchema, RefreshRequestSchema, TokenRequestSchema, TokenResponseSchema,
                                      UserCreateSchema, UserFilterSchema, UserSchema, UserUpdateSchema)
from backend.http import crud
from backend.http.api import PUBLIC, Blueprint, etag_of
from backend.http.context import current_user, db, now, onsite
from backend.stations.models import Station

auth_blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in and refresh tokens")
me_blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in user")
users_blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="User accounts (admin)")


# Tokens are credentials: no cache (a browser's, a proxy's) may keep them (RFC 6749 §5.1).
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_NO_STORE_HEADERS = {name: {"schema": {"type": "string", "enum": [value]}, "required": True}
                     for name, value in _NO_STORE.items()}


def _token_response(pair: service.TokenPair) -> tuple[dict[str, Any], dict[str, str]]:
    return {"access_token": pair.access_token, "token_type": "Bearer", "expires_in": pair.expires_in,
            "refresh_token": pair.refresh_token, "user_id": pair.user.id, "roles": pair.user.roles}, _NO_STORE


@auth_blp.endpoint("POST", "/token", roles=PUBLIC, writes=True, takes=TokenRequestSchema, answers=TokenResponseSchema,
                   headers=_NO_STORE_HEADERS, refuses=(401, 429),
                   doc={"description":
                        "After too many failed attempts for a username (default 10) or from one client address "
                        "(default 100) within the window (default 15 minutes), attempts are refused with 429 and "
                        "Retry-After for 1, 2, 4, 8, at most 15 minutes, without checking the password."},
                   summary="Sign in with username and password")
def issue_token(data: dict[str, Any]) -> Any:
    session, app = db(), onsite()
    user = service.authenticate(session, data["username"], data["password"],
                                address=request.remote_addr or "unknown", settings=app.settings, now=app.clock.now())
    return _token_response(service.issue_tokens(session, user, app.token_policy, app.clock.now()))


@auth_blp.endpoint("POST", "/refresh", roles=PUBLIC, writes=True, takes=RefreshRequestSchema,
                   answers=TokenResponseSchema, headers=_NO_STORE_HEADERS, refuses=(401,),
                   doc={"description":
                        "The new refresh token ends with the sign-in it belongs to: refreshing never extends a "
                        "sign-in past ONSITE_REFRESH_FAMILY_DAYS after the password was given."},
                   summary="Exchange a refresh token for new tokens (the old refresh token stops working)")
def refresh_token(data: dict[str, Any]) -> Any:
    session, app = db(), onsite()
    return _token_response(service.rotate_refresh_token(session, data["refresh_token"], app.token_policy,
                                                        app.clock.now()))


@auth_blp.endpoint("POST", "/logout", roles=PUBLIC, writes=True, takes=RefreshRequestSchema, status=204,
                   doc={"description":
                        "The refresh token is the credential; no access token is needed. An unknown or already "
                        "ended token also answers 204. The access token of the sign-in stays valid until it "
                        "expires (ONSITE_ACCESS_TOKEN_MINUTES); the app should discard it."},
                   summary="Sign out: the refresh token and every token refreshed from the same sign-in stop working")
def logout(data: dict[str, Any]) -> Any:
    service.sign_out(db(), data["refresh_token"], now())
    return None


@me_blp.endpoint("GET", roles=(), answers=MeSchema, etag=True,
                 summary="Who am I: account, roles, and technician id if any")
def get_me() -> Any:
    user = current_user()
    return user, {"ETag": etag_of(user.version)}


def _create_user(session: Session, data: dict[str, Any]) -> User:
    station_ids = data.pop("station_ids", [])
    user = service.create_user(session, min_password_length=onsite().settings.password_min_length, **data)
    assign_stations(session, user, station_ids)
    return user


def _update_user(session: Session, user: User, data: dict[str, Any]) -> None:
    app = onsite()
    for name, value in data.items():
        if name == "password":
            service.change_password(session, user, value, min_length=app.settings.password_min_length,
                                    now=app.clock.now())
        elif name == "active":
            service.set_active(session, user, value, app.clock.now())
        elif name == "roles":
            user.roles = service.validate_roles(value)
        elif name == "station_ids":
            assign_stations(session, user, value)
        else:
            setattr(user, name, value)


@users_blp.endpoint("DELETE", "/<id:user_id>/sessions", roles=(Role.ADMIN,), writes=True, status=204, refuses=(404,),
                    summary="Sign the user out everywhere: every refresh token and access token stops working")
def end_sessions(user_id: int) -> Any:
    session = db()
    service.end_sessions(session, crud.get_or_404(session, User, user_id, "user", for_update=True),
                         now())
    return None


crud.register(users_blp, crud.Resource(
    model=User, singular="user", plural="users", schema=UserSchema, create_schema=UserCreateSchema,
    update_schema=UserUpdateSchema, filters=UserFilterSchema, read_roles=(Role.ADMIN,), write_roles=(Role.ADMIN,),
    search_columns=("username", "full_name"), references={"station_id": Station},
    custom_filters={"role": lambda stmt, role: stmt.where(User.role_rows.any(UserRole.role == role))},
    create=_create_user, update=_update_user, deletable=False,
))
