"""List / create / read / update / delete endpoints for master data, declared once per resource.

Every resource gets the same behaviour: paginated, filterable lists; ETag on every representation;
PATCH and DELETE only with a matching If-Match; references checked so a bad id is a 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import marshmallow as ma
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from backend.db import Base, locked
from backend.errors import DomainError, NotFound
from backend.http.api import Blueprint, created, etag_of, require_if_match
from backend.http.context import db

Hook = Callable[[Session, dict[str, Any]], Any]
UpdateHook = Callable[[Session, Any, dict[str, Any]], None]


@dataclass(frozen=True)
class Resource:
    model: type[Base]
    singular: str
    plural: str
    schema: type[ma.Schema]
    create_schema: type[ma.Schema]
    update_schema: type[ma.Schema]
    filters: type[ma.Schema]
    read_roles: tuple[str, ...]
    write_roles: tuple[str, ...]
    search_columns: tuple[str, ...] = ()
    references: Mapping[str, type[Base]] = field(default_factory=dict)
    # Filters that are not a plain column equality: name -> (statement, value) -> statement.
    custom_filters: Mapping[str, Callable[[Select[Any], Any], Select[Any]]] = field(default_factory=dict)
    create: Hook | None = None
    update: UpdateHook | None = None
    deletable: bool = True


def get_or_404(session: Session, model: type[Base], ident: int, what: str, *, for_update: bool = False) -> Any:
    """`for_update`: read under a row lock, for a write without If-Match that will change it (backend.db.locked)."""
    obj = locked(session, model, ident) if for_update else session.get(model, ident)
    if obj is None:
        raise NotFound(what, ident)
    return obj


def check_references(session: Session, data: Mapping[str, Any], references: Mapping[str, type[Base]]) -> None:
    for name, model in references.items():
        ident = data.get(name)
        if ident is not None and session.get(model, ident) is None:
            raise DomainError(name, f"no {model.__tablename__.rstrip('s').replace('_', ' ')} with id {ident}")


def paginate(session: Session, stmt: Select[Any], pagination_parameters: Any) -> list[Any]:
    """One COUNT and one page; a page past the end is empty (no huge OFFSET reaches the database)."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pagination_parameters.item_count = total
    if pagination_parameters.first_item >= total:
        return []
    return list(session.scalars(stmt.offset(pagination_parameters.first_item).limit(pagination_parameters.page_size)))


def apply_filters(model: type[Base], stmt: Select[Any], filters: Mapping[str, Any],
                  search_columns: tuple[str, ...] = (),
                  custom: Mapping[str, Callable[[Select[Any], Any], Select[Any]]] | None = None) -> Select[Any]:
    for name, value in filters.items():
        if custom and name in custom:
            stmt = custom[name](stmt, value)
        elif name == "q":
            pattern = f"%{value.lower()}%"
            stmt = stmt.where(or_(*(func.lower(getattr(model, c)).like(pattern) for c in search_columns)))
        else:
            stmt = stmt.where(getattr(model, name) == value)
    return stmt


def register(blp: Blueprint, res: Resource) -> None:
    ident = f"{res.singular}_id"
    item_url = f"/<id:{ident}>"

    @blp.endpoint("GET", roles=res.read_roles, takes=res.filters, as_kwargs=True, answers=res.schema(many=True),
                  paginated=True, name=f"list_{res.plural}", summary=f"List {res.plural.replace('_', ' ')}")
    def list_items(pagination_parameters: Any, **filters: Any) -> Any:
        stmt = apply_filters(res.model, select(res.model), filters, res.search_columns, res.custom_filters)
        stmt = stmt.order_by(res.model.id)
        return paginate(db(), stmt, pagination_parameters)

    @blp.endpoint("POST", roles=res.write_roles, writes=True, takes=res.create_schema, answers=res.schema, status=201,
                  etag=True, location=True, refuses=(409,), name=f"create_{res.singular}",
                  summary=f"Create a {res.singular.replace('_', ' ')}")
    def create_item(data: dict[str, Any]) -> Any:
        session = db()
        check_references(session, data, res.references)
        obj = res.create(session, data) if res.create else res.model(**data)
        session.add(obj)
        session.flush()  # for its id
        return created(obj, f"{blp.name}.get_{res.singular}", **{ident: obj.id})

    @blp.endpoint("GET", item_url, roles=res.read_roles, answers=res.schema, etag=True, refuses=(404,),
                  name=f"get_{res.singular}", summary=f"Get a {res.singular.replace('_', ' ')}")
    def get_item(**path: int) -> Any:
        obj = get_or_404(db(), res.model, path[ident], res.singular)
        return obj, {"ETag": etag_of(obj.version)}

    @blp.endpoint("PATCH", item_url, roles=res.write_roles, writes=True, if_match=True,
                  takes=res.update_schema(partial=True), answers=res.schema, etag=True, refuses=(404,),
                  name=f"update_{res.singular}",
                  summary=f"Update a {res.singular.replace('_', ' ')} (If-Match required)")
    def update_item(data: dict[str, Any], **path: int) -> Any:
        session = db()
        obj = get_or_404(session, res.model, path[ident], res.singular)
        require_if_match(obj.version)
        check_references(session, data, res.references)
        if res.update:
            res.update(session, obj, data)
        else:
            for name, value in data.items():
                setattr(obj, name, value)
        session.flush()
        return obj, {"ETag": etag_of(obj.version)}


    if not res.deletable:
        return

    @blp.endpoint("DELETE", item_url, roles=res.write_roles, writes=True, if_match=True, status=204, refuses=(404, 409),
                  name=f"delete_{res.singular}",
                  summary=f"Delete a {res.singular.replace('_', ' ')} that nothing refers to (If-Match required)")
    def delete_item(**path: int) -> Any:
        session = db()
        obj = get_or_404(session, res.model, path[ident], res.singular)
        require_if_match(obj.version)
        session.delete(obj)
        session.flush()
        return None

