"""Health for load balancers and orchestrators: liveness (the process answers) and readiness (it can serve).

Liveness never asks the database, so a database outage does not get every process restarted; readiness does, so
a load balancer sends no traffic to a process whose database is down or whose schema is not the one it was
written for (during a deploy, before `onsite db upgrade` has run, or after a newer release migrated it).
"""

from __future__ import annotations

from functools import cache

import marshmallow as ma
from flask import Response
from sqlalchemy import Column, MetaData, String, Table, inspect, select

from backend.http.api import PUBLIC, Blueprint
from backend.http.context import db, onsite
from backend.http.problems import DATABASE_UNAVAILABLE_TYPE, problem
from backend.migrate import current_head

blp = Blueprint("health", __name__, url_prefix="/api/v1/health",
                description="Liveness and readiness for load balancers; no sign-in needed")
SCHEMA_MISMATCH_TYPE = "urn:onsite:problem:database-schema-mismatch"
# Alembic's record of the applied revision (read directly: alembic's MigrationContext logs two lines per probe).
ALEMBIC_VERSION = Table("alembic_version", MetaData(), Column("version_num", String(32)))


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ok"})


class ReadinessSchema(HealthSchema):
    schema_revision = ma.fields.String(required=True, metadata={
        "description": "The database's Alembic revision, which is this release's head"})


@blp.endpoint("GET", roles=PUBLIC, answers=HealthSchema,
              summary="Liveness: the process answers (the database is not asked)")
def health() -> dict[str, str]:
    return {"status": "ok"}


@blp.endpoint("GET", "/ready", roles=PUBLIC, answers=ReadinessSchema, refuses=(503,),
              doc={"description":
                   f"503 when not ready: the database does not answer (`type` `{DATABASE_UNAVAILABLE_TYPE}`) "
                   f"or its schema is not this release's (`{SCHEMA_MISMATCH_TYPE}`); `detail` says which."},
              summary="Readiness: the database answers within its timeouts and its schema is at this release's "
                      "migration head")
def ready() -> dict[str, str] | Response:
    # An unreachable or frozen database raises here, within the connect timeout: the usual 503 (problems.py).
    session = db()
    revisions = (session.scalars(select(ALEMBIC_VERSION.c.version_num)).all()
                 if inspect(session.connection()).has_table(ALEMBIC_VERSION.name) else [])
    head = _release_head()
    if revisions != [head]:
        found = ", ".join(revisions) or "none (no migrations applied)"
        return problem(503, f"the database schema is at revision {found}, this release needs {head}; "
                            "run `onsite db upgrade` (or deploy the release that matches the database)",
                       title="Database schema mismatch", type=SCHEMA_MISMATCH_TYPE,
                       headers={"Retry-After": str(onsite().settings.db_retry_after_seconds)})
    return {"status": "ok", "schema_revision": head}


@cache
def _release_head() -> str | None:
    """The migrations' head: fixed for the life of the process (reading the scripts costs a probe's time)."""
    return current_head(onsite().settings.database_url)
