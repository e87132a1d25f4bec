from typing import Any

from sqlalchemy.orm import Session

from backend.accounts import service
from backend.accounts.models import Role, User, UserRole
from backend.accounts.schemas import (MeSchema, RefreshRequestSchema, TokenRequestSchema, TokenResponseSchema,
                                      UserCreateSchema, UserFilterSchema, UserSchema, UserUpdateSchema)
from backend.http import crud
from backend.http.api import ETAG_HEADER, Blueprint, etag_of
from backend.http.context import current_user, db, onsite
from backend.stations.models import Station

auth_blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in and refresh tokens")
me_blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in user")
users_blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="User accounts (admin)")


def _token_body(pair: service.TokenPair) -> dict[str, Any]:
    return {"access_token": pair.access_token, "token_type": "Bearer", "expires_in": pair.expires_in,
            "refresh_token": pair.refresh_token, "user_id": pair.user.id, "roles": pair.user.roles}


@auth_blp.route("/token", methods=["POST"])
@auth_blp.public
@auth_blp.write
@auth_blp.arguments(TokenRequestSchema)
@auth_blp.response(200, TokenResponseSchema)
@auth_blp.alt_response(401, response="UNAUTHORIZED")
@auth_blp.doc(summary="Sign in with username and password")
def issue_token(data: dict[str, Any]) -> Any:
    session, app = db(), onsite()
    user = service.authenticate(session, data["username"], data["password"])
    return _token_body(service.issue_tokens(session, user, app.token_policy, app.clock.now()))


@auth_blp.route("/refresh", methods=["POST"])
@auth_blp.public
@auth_blp.write
@auth_blp.arguments(RefreshRequestSchema)
@auth_blp.response(200, TokenResponseSchema)
@auth_blp.alt_response(401, response="UNAUTHORIZED")
@auth_blp.doc(summary="Exchange a refresh token for new tokens (the old refresh token stops working)")
def refresh_token(data: dict[str, Any]) -> Any:
    session, app = db(), onsite()
    return _token_body(service.rotate_refresh_token(session, data["refresh_token"], app.token_policy, app.clock.now()))


@me_blp.route("", methods=["GET"])
@me_blp.access()
@me_blp.response(200, MeSchema, headers=ETAG_HEADER)
@me_blp.doc(summary="Who am I: account, roles, and technician id if any")
def get_me() -> Any:
    user = current_user()
    return user, {"ETag": etag_of(user.version)}


def _create_user(session: Session, data: dict[str, Any]) -> User:
    return service.create_user(session, **data)


def _update_user(_session: Session, user: User, data: dict[str, Any]) -> None:
    for name, value in data.items():
        if name == "password":
            user.password_hash = service.hash_password(value)
        elif name == "roles":
            user.roles = service.validate_roles(value)
        else:
            setattr(user, name, value)


crud.register(users_blp, crud.Resource(
    model=User, singular="user", plural="users", schema=UserSchema, create_schema=UserCreateSchema,
    update_schema=UserUpdateSchema, filters=UserFilterSchema, read_roles=(Role.ADMIN,), write_roles=(Role.ADMIN,),
    search_columns=("username", "full_name"), references={"station_id": Station},
    custom_filters={"role": lambda stmt, role: stmt.where(User.role_rows.any(UserRole.role == role))},
    create=_create_user, update=_update_user, deletable=False,
))
