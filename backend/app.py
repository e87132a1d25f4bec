"""The application factory."""

from __future__ import annotations

import re
from base64 import b64encode
from hashlib import sha256

import swagger_ui_bundle
from flask import Flask, Response, request, send_from_directory
from werkzeug.middleware.proxy_fix import ProxyFix

from backend.clock import Clock, SystemClock
from backend.config import Settings
from backend.console import init_console
from backend.db import make_engine, make_session_factory
from backend.http.api import Api, Blueprint
from backend.http.context import REQUEST_ID_HEADER, Onsite, close_session, request_id
from backend.http.fields import IdConverter, TextConverter
from backend.http.problems import register_problem_handlers
from backend.observability.metrics import init_metrics
from backend.logs import configure_logging, init_request_logging

API_VERSION = "1.0.0"
DOCS_PATH = "/docs"
SWAGGER_UI_STATIC = f"{DOCS_PATH}/static/"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

def _blueprints() -> list[Blueprint]:
    from backend.accounts.views import auth_blp, me_blp, users_blp
    from backend.analysis.views import blp as failure_analysis_blp
    from backend.audit.views import blp as audit_blp
    from backend.callbacks.views import blp as callbacks_blp
    from backend.costs.expenses.views import blp as expenses_blp
    from backend.costs.ledger.views import ledger_blp as cost_ledgers_blp, report_blp as costs_blp
    from backend.customers.views import customers_blp, units_blp
    from backend.dispatch.views import jobs_blp, register_blp, requests_blp
    from backend.fieldwork.views import blp as fieldwork_blp
    from backend.http.health import blp as health_blp
    from backend.kpis.views import blp as kpis_blp
    from backend.notifications.views import blp as notifications_blp
    from backend.parts.catalogue.views import blp as parts_blp
    from backend.parts.claims.views import claims_blp, freight_blp
    from backend.parts.old_parts.views import old_parts_blp
    from backend.parts.requisitions.views import requisitions_blp
    from backend.parts.stock.views import locations_blp, serials_blp, stock_blp
    from backend.parts.write_offs.views import write_offs_blp
    from backend.planning.plans.views import blp as dispatch_plans_blp
    from backend.planning.routes.views import blp as routes_blp
    from backend.quality.views import blp as investigations_blp
    from backend.reports.views import blp as reports_blp
    from backend.stations.views import blp as stations_blp
    from backend.technicians.views import blp as technicians_blp
    from backend.webhooks.views import blp as webhooks_blp

    return [health_blp, auth_blp, me_blp, users_blp, stations_blp, technicians_blp, customers_blp, units_blp,
            parts_blp, audit_blp, requests_blp, jobs_blp, notifications_blp, webhooks_blp, locations_blp, stock_blp,
            serials_blp, fieldwork_blp, reports_blp, callbacks_blp, kpis_blp, requisitions_blp, old_parts_blp,
            write_offs_blp, claims_blp, freight_blp,
            # service costs and failure analysis (issue 15)
            expenses_blp, cost_ledgers_blp, costs_blp, failure_analysis_blp,
            # the register to its end, investigation and responsibility (issue 15)
            register_blp, investigations_blp,
            # a technician's day (issue 14)
            routes_blp,
            # dispatch plans (issue 14)
            dispatch_plans_blp]


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    settings = settings or Settings.from_env()
    settings.create_instance_path()
    app = Flask("backend", instance_path=str(settings.instance_path.resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="Onsite",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH=DOCS_PATH,
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_STATIC,
        API_SPEC_OPTIONS={
            "info": {"description": "Field-service dispatch and mobile-technician API. Errors are RFC 9457 "
                                    "problem details; writes accept Idempotency-Key; updates need If-Match."},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                              "bearerFormat": "JWT"}}},
        },
    )
    configure_logging(settings)

    engine = make_engine(settings.database_url, connect_timeout=settings.db_connect_timeout_seconds,
                         statement_timeout=settings.db_statement_timeout_seconds)
    app.extensions["onsite"] = Onsite(settings=settings, clock=clock or SystemClock(), engine=engine,
                                      session_factory=make_session_factory(engine))
    app.url_map.converters.update(id=IdConverter, default=TextConverter, string=TextConverter)
    api = Api(app)
    api.register_converter(IdConverter, lambda c: {"type": "integer", "minimum": c.min, "maximum": c.max})
    for blueprint in _blueprints():
        api.register_blueprint(blueprint)

    register_problem_handlers(app)
    init_metrics(app)  # /metrics, and the request timing it reports
    init_request_logging(app)  # one access line per request
    app.teardown_appcontext(close_session)
    init_console(app)  # the office's web pages under /, beside the API

    @app.after_request
    def _tag_request(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = request_id()
        return response

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # setdefault: a page that sets its own policy (the console) keeps it.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith(DOCS_PATH):
            response.headers.setdefault("Content-Security-Policy", _docs_content_security_policy(response))
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    if settings.trusted_proxies:
        # Only the proxies' own entries in X-Forwarded-For are believed; request.remote_addr is the client.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,  # type: ignore[method-assign]
                                x_proto=settings.trusted_proxies)

    @app.route(f"{SWAGGER_UI_STATIC}<path:filename>")
    def swagger_ui_static(filename: str) -> Response:
        # Served from the installed package so /docs works with no internet access.
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    return app


def _docs_content_security_policy(response: Response) -> str:
    """Swagger UI loads its scripts and styles from /docs/static and fetches the spec from this origin; the page
    flask-smorest renders has one inline script, allowed by its hash (nothing else inline runs)."""
    page = response.get_data(as_text=True) if response.is_sequence and response.mimetype == "text/html" else ""
    scripts = ["'self'", *(f"'sha256-{b64encode(sha256(script.encode()).digest()).decode()}'"
                           for script in INLINE_SCRIPT.findall(page))]
    return (f"default-src 'none'; script-src {' '.join(scripts)}; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
