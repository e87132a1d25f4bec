"""Settings, read once from ONSITE_* environment variables with safe defaults."""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from backend.dispatch.sla import FaultCategory

DEFAULT_SECRET_KEY = "onsite-development-secret-do-not-use-in-production"
ENVIRONMENTS = ("development", "testing", "production")
LOG_FORMATS = ("json", "text")
# A token secret an outsider cannot guess: about as hard as a random 128-bit key (see estimated_secret_bits).
MIN_SECRET_BITS = 128
SECRET_KEY_ADVICE = "make one with: python3 -c 'import secrets;print(secrets.token_urlsafe(48))'"


class ConfigurationError(RuntimeError):
    pass


def estimated_secret_bits(secret: str) -> float:
    """A conservative estimate of a secret's entropy in bits: the length of its shortest repeating unit times the
    Shannon entropy per character of that unit, taken over its characters or over the steps between neighbouring
    characters, whichever is lower. So repeats ('a' x 32, 'Xy7!' x 10), short alphabets ('aaaabbbb...') and runs
    ('abcdef...', '123456...') score low, while secrets.token_urlsafe(48) scores about 360 bits."""
    if not secret:
        return 0.0
    unit = secret[:next(p for p in range(1, len(secret) + 1) if secret[p:] == secret[:len(secret) - p])]
    steps = [ord(b) - ord(a) for a, b in zip(unit, unit[1:])]
    return len(unit) * min(_shannon_bits_per_symbol(unit), _shannon_bits_per_symbol(steps))


def _shannon_bits_per_symbol(symbols: Sequence[object]) -> float:
    """Plug-in Shannon entropy with the Miller-Madow correction: a short random sample looks less varied than the
    source it came from, so the uncorrected estimate would refuse some genuinely random 32-character secrets."""
    total = len(symbols)
    counts = Counter(symbols)
    if total == 0:
        return 0.0
    plug_in = -sum(n / total * math.log2(n / total) for n in counts.values())
    return plug_in + (len(counts) - 1) / (2 * total * math.log(2))


def secret_key_problem(secret: str) -> str | None:
    """What makes this token-signing secret unsafe on a network (anyone who guesses it can mint an admin token),
    or None when it is strong enough."""
    if secret == DEFAULT_SECRET_KEY:
        return "the default ONSITE_SECRET_KEY, which is published in the source"
    bits = estimated_secret_bits(secret)
    if bits < MIN_SECRET_BITS:
        return (f"an ONSITE_SECRET_KEY that is too easy to guess (about {bits:.0f} bits of entropy, "
                f"at least {MIN_SECRET_BITS} needed)")
    return None


def is_loopback_host(host: str) -> bool:
    """Whether a server bound to this address is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_PARSERS = {"str": str, "int": int, "float": float, "Path": Path}


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    instance_path: Path = field(default_factory=lambda: Path.cwd() / "instance")
    database_url: str = ""
    secret_key: str = DEFAULT_SECRET_KEY
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    # A sign-in ends this long after the password was given, however often its refresh token is rotated.
    refresh_family_days: int = 30
    password_min_length: int = 8
    # Sign-in throttling: after this many failed attempts for one username (or from one client address), further
    # attempts are refused for a while without checking the password; the count decays after a quiet window.
    login_max_failures_per_user: int = 10
    login_max_failures_per_address: int = 100
    login_window_minutes: int = 15
    max_body_bytes: int = 2 * 1024 * 1024
    # Under `serve --production`, gunicorn restarts a worker stuck on one request (or a slow upload) this long.
    request_timeout_seconds: int = 30
    # PostgreSQL: a connection attempt gives up after the connect timeout; a statement is cancelled by the server
    # after the statement timeout (and given up by the client the connect timeout later, should the server not
    # answer at all). Keep their sum below the request timeout, so a frozen database answers 503, not a killed
    # worker. A request the database cannot serve gets 503 with Retry-After of the retry seconds.
    db_connect_timeout_seconds: int = 5
    db_statement_timeout_seconds: int = 20
    db_retry_after_seconds: int = 5
    # How many reverse proxies in front of the app append to X-Forwarded-For; 0 trusts no such header, so a
    # client cannot pick the address the login throttle sees.
    trusted_proxies: int = 0
    # The log: "json" (one object per line) or "text"; empty means json in production, text otherwise.
    log_format: str = ""
    log_level: str = "INFO"
    max_page_size: int = 200
    # GET /metrics accepts this bearer token (for Prometheus) besides an admin's access token; empty: admins only.
    metrics_token: str = ""
    idempotency_retention_days: int = 7
    # SLA policy defaults (RULES.md §2); a request freezes the numbers it was computed with (DSP-4).
    sla_radius_km: float = 100.0
    sla_on_site_hours: float = 24.0
    sla_reply_hours: float = 12.0
    sla_written_contact_hours: float = 12.0
    travel_speed_kmh: float = 60.0
    # PLN-1: a dispatch plan gives no technician more open jobs than this, counting those they already have.
    max_jobs_per_technician: int = 3
    # A technician's day (PLN-2): how long a visit takes on site, and per fault category where it differs, as
    # comma-separated category=hours (e.g. "chassis_engine=4,body=1.5").
    visit_hours: float = 2.0
    visit_hours_by_fault: str = ""
    # Scheduled duties (issue 6): dispatchers hear of an open deadline this long before it is due.
    sla_escalation_lead_hours: float = 2.0
    # The SQLite scheduler lease lasts this long and is renewed every third of it; a stand-by scheduler takes over
    # at most this long after the holder dies. Machines' clocks must agree to well within it.
    scheduler_lease_seconds: int = 60
    webhook_timeout_seconds: float = 10.0
    # A failed delivery is retried after base x 2^(attempt - 1) seconds, until max attempts have been made.
    webhook_max_attempts: int = 8
    webhook_retry_base_seconds: float = 60.0
    # Webhooks reach public addresses only (no SSRF into the server's own network). An on-premise receiver on a
    # private network is allowed by naming its networks here, comma-separated CIDRs such as "10.20.0.0/16".
    webhook_allowed_networks: str = ""
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
    # The console colours a request amber when its next deadline is due within this many hours (red once missed).
    console_urgent_hours: float = 2.0
    # The console map: a technician's last position older than this is greyed as stale. A tile server URL
    # (Leaflet template, e.g. https://tiles.example.com/{z}/{x}/{y}.png) adds tiles over the shipped offline outlines.
    map_stale_position_hours: float = 2.0
    map_tile_url: str = ""
    map_tile_attribution: str = ""
    # INV-2: the root-cause codes an investigation chooses from, comma-separated (a code stays valid on the
    # investigations already made with it when it is later removed from this list).
    root_cause_codes: str = ("design,material,manufacturing,assembly,supplier_part,transport,installation,misuse,"
                             "maintenance,wear,other")

    def __post_init__(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise ConfigurationError(f"ONSITE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.instance_path / 'onsite.db'}")
        for scheme in ("postgres://", "postgresql://"):
            # The installed driver is psycopg 3; plain URLs would ask SQLAlchemy for psycopg2.
            if self.database_url.startswith(scheme):
                object.__setattr__(self, "database_url", "postgresql+psycopg://" + self.database_url[len(scheme):])
        if self.env == "production" and (problem := secret_key_problem(self.secret_key)):
            raise ConfigurationError(f"refusing to start in production with {problem}; {SECRET_KEY_ADVICE}")
        if len(self.secret_key) < 32:
            raise ConfigurationError("ONSITE_SECRET_KEY must be at least 32 characters")
        for name in ("sla_radius_km", "sla_on_site_hours", "sla_reply_hours", "sla_written_contact_hours",
                     "travel_speed_kmh", "access_token_minutes", "refresh_token_days", "max_body_bytes",
                     "refresh_family_days", "password_min_length", "login_max_failures_per_user",
                     "login_max_failures_per_address", "login_window_minutes",
                     "request_timeout_seconds", "db_connect_timeout_seconds", "db_statement_timeout_seconds",
                     "db_retry_after_seconds",
                     "sla_escalation_lead_hours", "scheduler_lease_seconds", "webhook_timeout_seconds",
                     "webhook_max_attempts", "webhook_retry_base_seconds", "arrival_clock_skew_seconds",
                     "sync_overlap_seconds", "max_image_bytes", "callback_due_days", "follow_up_interval_hours",
                     "callback_max_attempts", "callback_retry_hours", "first_time_fix_days", "old_part_due_days",
                     "console_urgent_hours", "map_stale_position_hours", "max_jobs_per_technician", "visit_hours"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"ONSITE_{name.upper()} must be positive")
        if not self.log_format:
            object.__setattr__(self, "log_format", "json" if self.env == "production" else "text")
        if self.log_format not in LOG_FORMATS:
            raise ConfigurationError(f"ONSITE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, "
                                     f"not {self.log_format!r}")
        if not isinstance(logging.getLevelName(self.log_level.upper()), int):
            raise ConfigurationError(f"ONSITE_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
                                     f"not {self.log_level!r}")
        if not self.root_causes or any(not re.fullmatch(r"[a-z0-9_]{1,40}", code) for code in self.root_causes):
            raise ConfigurationError("ONSITE_ROOT_CAUSE_CODES must be comma-separated codes of lower-case letters, "
                                     "digits and _, at most 40 characters each")
        if self.trusted_proxies < 0:
            raise ConfigurationError("ONSITE_TRUSTED_PROXIES must be 0 or more")
        try:
            self.webhook_networks  # noqa: B018  (parsing it is the check)
        except ValueError as exc:
            raise ConfigurationError(f"ONSITE_WEBHOOK_ALLOWED_NETWORKS: {exc}") from exc
        try:
            self.visit_hours_per_fault  # noqa: B018  (parsing it is the check)
        except ValueError as exc:
            raise ConfigurationError(f"ONSITE_VISIT_HOURS_BY_FAULT: {exc}") from exc

    @property
    def root_causes(self) -> tuple[str, ...]:
        return tuple(code.strip() for code in self.root_cause_codes.split(",") if code.strip())

    @property
    def webhook_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(item.strip()) for item in self.webhook_allowed_networks.split(",")
                     if item.strip())

    @property
    def visit_hours_per_fault(self) -> dict[str, float]:
        """Hours on site per fault category, for those that differ from visit_hours."""
        hours: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in self.visit_hours_by_fault.split(","))):
            category, _, value = (text.strip() for text in item.partition("="))
            if category not in FaultCategory.__members__.values():
                raise ValueError(f"{category!r} is not a fault category ({', '.join(FaultCategory)})")
            hours[category] = float(value)
            if not 0 < hours[category] < math.inf:
                raise ValueError(f"the hours for {category} must be a positive number")
        return hours

    @property
    def signing_key_path(self) -> Path:
        """The report sealing key's file, used when ONSITE_SIGNING_KEY is not set."""
        return self.instance_path / "signing-key.pem"

    @property
    def media_path(self) -> Path:
        """The content-addressed store of photos and signature images."""
        return self.instance_path / "media"

    def create_instance_path(self) -> None:
        """The instance folder (SQLite database, signing key, media) is created readable by its owner only."""
        self.instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)

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
