"""The application factory."""

from __future__ import annotations

import logging

import swagger_ui_bundle
from flask import Flask, Response, send_from_directory
from sqlalchemy import text

from backend.clock import Clock, SystemClock
from backend.config import Settings
from backend.db import make_engine, make_session_factory
from backend.http.api import Api, Blueprint
from backend.http.context import REQUEST_ID_HEADER, Onsite, close_session, db, request_id
from backend.http.fields import IdConverter
from backend.http.problems import register_problem_handlers

API_VERSION = "1.0.0"
SWAGGER_UI_STATIC = "/docs/static/"

health_blp = Blueprint("health", __name__, url_prefix="/api/v1/health", description="Liveness for load balancers")


@health_blp.route("", methods=["GET"])
@health_blp.public
@health_blp.response(200)
@health_blp.doc(summary="Service and database are up")
def health() -> dict[str, str]:
    db().execute(text("SELECT 1"))
    return {"status": "ok"}


def _blueprints() -> list[Blueprint]:
    from backend.accounts.views import auth_blp, me_blp, users_blp
    from backend.audit.views import blp as audit_blp
    from backend.callbacks.views import blp as callbacks_blp
    from backend.customers.views import customers_blp, units_blp
    from backend.dispatch.views import jobs_blp, requests_blp
    from backend.fieldwork.views import blp as fieldwork_blp
    from backend.kpis.views import blp as kpis_blp
    from backend.notifications.views import blp as notifications_blp
    from backend.parts.flow_views import claims_blp, freight_blp, old_parts_blp, requisitions_blp, write_offs_blp
    from backend.parts.stock_views import locations_blp, serials_blp, stock_blp
    from backend.parts.views import blp as parts_blp
    from backend.reports.views import blp as reports_blp
    from backend.stations.views import blp as stations_blp
    from backend.technicians.views import blp as technicians_blp
    from backend.webhooks.views import blp as webhooks_blp

    return [health_blp, auth_blp, me_blp, users_blp, stations_blp, technicians_blp, customers_blp, units_blp,
            parts_blp, audit_blp, requests_blp, jobs_blp, notifications_blp, webhooks_blp, locations_blp, stock_blp,
            serials_blp, fieldwork_blp, reports_blp, callbacks_blp, kpis_blp, requisitions_blp, old_parts_blp,
            write_offs_blp, claims_blp, freight_blp]


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    settings = settings or Settings.from_env()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    app = Flask("backend", instance_path=str(settings.instance_path.resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="Onsite",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_STATIC,
        API_SPEC_OPTIONS={
            "info": {"description": "Field-service dispatch and mobile-technician API. Errors are RFC 9457 "
                                    "problem details; writes accept Idempotency-Key; updates need If-Match."},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                              "bearerFormat": "JWT"}}},
        },
    )
    if settings.env != "production":
        logging.basicConfig(level=logging.INFO)

    engine = make_engine(settings.database_url)
    app.extensions["onsite"] = Onsite(settings=settings, clock=clock or SystemClock(), engine=engine,
                                      session_factory=make_session_factory(engine))
    app.url_map.converters["id"] = IdConverter
    api = Api(app)
    api.register_converter(IdConverter, lambda c: {"type": "integer", "minimum": c.min, "maximum": c.max})
    for blueprint in _blueprints():
        api.register_blueprint(blueprint)

    register_problem_handlers(app)
    app.teardown_appcontext(close_session)

    @app.after_request
    def _tag_request(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = request_id()
        return response

    @app.route(f"{SWAGGER_UI_STATIC}<path:filename>")
    def swagger_ui_static(filename: str) -> Response:
        # Served from the installed package so /docs works with no internet access.
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    return app
