"""Settings, read once from ONSITE_* environment variables with safe defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_SECRET_KEY = "onsite-development-secret-do-not-use-in-production"
ENVIRONMENTS = ("development", "testing", "production")


class ConfigurationError(RuntimeError):
    pass


_PARSERS = {"str": str, "int": int, "float": float, "Path": Path}


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    instance_path: Path = field(default_factory=lambda: Path.cwd() / "instance")
    database_url: str = ""
    secret_key: str = DEFAULT_SECRET_KEY
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    max_body_bytes: int = 2 * 1024 * 1024
    max_page_size: int = 200
    idempotency_retention_days: int = 7
    # SLA policy defaults (RULES.md §2); a request freezes the numbers it was computed with (DSP-4).
    sla_radius_km: float = 100.0
    sla_on_site_hours: float = 24.0
    sla_reply_hours: float = 12.0
    sla_written_contact_hours: float = 12.0
    travel_speed_kmh: float = 60.0
    # Scheduled duties (issue 6): dispatchers hear of an open deadline this long before it is due.
    sla_escalation_lead_hours: float = 2.0
    # The SQLite scheduler lease lasts this long and is renewed every third of it; a stand-by scheduler takes over
    # at most this long after the holder dies. Machines' clocks must agree to well within it.
    scheduler_lease_seconds: int = 60
    webhook_timeout_seconds: float = 10.0
    # A failed delivery is retried after base x 2^(attempt - 1) seconds, until max attempts have been made.
    webhook_max_attempts: int = 8
    webhook_retry_base_seconds: float = 60.0
    # PRT-5: an old part is due back this many days after the job's work was done.
    old_part_due_days: int = 7
    # JOB-2: an arrival counts at the device's time when its clock agrees with the server's to within this.
    arrival_clock_skew_seconds: int = 300
    # The technician's app re-reads this far behind its sync cursor, so a change stamped just before the cursor
    # but committed after it is still delivered (at least once: the app dedupes by id and version).
    sync_overlap_seconds: int = 60
    # REP-3: the report sealing key, as PEM (ONSITE_SIGNING_KEY); else the file below, created on first start.
    signing_key: str = ""
    max_image_bytes: int = 1_500_000
    # Callbacks (RULES.md §8): CB-1's callback is due this long after the work was done; CB-2's follow-ups come
    # this often; an unreached customer is tried again after the retry hours, up to the maximum attempts.
    callback_due_days: float = 3.0
    follow_up_interval_hours: float = 48.0
    callback_max_attempts: int = 3
    callback_retry_hours: float = 24.0
    # KPIs (RULES.md §9): a new request for the same unit within this many days of the work: no first-time fix.
    first_time_fix_days: float = 30.0

    def __post_init__(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise ConfigurationError(f"ONSITE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.instance_path / 'onsite.db'}")
        for scheme in ("postgres://", "postgresql://"):
            # The installed driver is psycopg 3; plain URLs would ask SQLAlchemy for psycopg2.
            if self.database_url.startswith(scheme):
                object.__setattr__(self, "database_url", "postgresql+psycopg://" + self.database_url[len(scheme):])
        if self.env == "production" and self.secret_key == DEFAULT_SECRET_KEY:
            raise ConfigurationError("refusing to start in production with the default ONSITE_SECRET_KEY")
        if len(self.secret_key) < 32:
            raise ConfigurationError("ONSITE_SECRET_KEY must be at least 32 characters")
        for name in ("sla_radius_km", "sla_on_site_hours", "sla_reply_hours", "sla_written_contact_hours",
                     "travel_speed_kmh", "access_token_minutes", "refresh_token_days", "max_body_bytes",
                     "sla_escalation_lead_hours", "scheduler_lease_seconds", "webhook_timeout_seconds",
                     "webhook_max_attempts", "webhook_retry_base_seconds", "arrival_clock_skew_seconds",
                     "sync_overlap_seconds", "max_image_bytes", "callback_due_days", "follow_up_interval_hours",
                     "callback_max_attempts", "callback_retry_hours", "first_time_fix_days", "old_part_due_days"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"ONSITE_{name.upper()} must be positive")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Every field can be set as ONSITE_<FIELD NAME IN CAPITALS>."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(f"ONSITE_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = _PARSERS[str(f.type)](raw)
            except ValueError as exc:
                raise ConfigurationError(f"ONSITE_{f.name.upper()}={raw!r}: {exc}") from exc
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
