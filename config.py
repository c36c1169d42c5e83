"""Configuration read from the environment, with safe defaults for a laptop."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{INSTANCE_DIR / 'registry.sqlite3'}"
    # Hosting platforms still hand out postgres:// URLs; SQLAlchemy wants a driver name.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Where the app runs: REGISTRY_ENV (or FLASK_ENV, which Flask once documented for this) names it.
# Unset means development, so `make run`, the tests and the command line on a laptop need no step;
# a server is declared with REGISTRY_ENV=production, and then `unsafe_settings` must find nothing.
ENVIRONMENTS = ("development", "test", "production")
DEFAULT_SECRET_KEY = "dev-only-change-me"
# Keys anyone can read in this repository (its defaults, tests, benchmarks) or guess first.
KNOWN_SECRET_KEYS = frozenset(
    {DEFAULT_SECRET_KEY, "test", "bench", "browser-tests", "dev", "development", "secret", "change-me", "changeme"}
)
MIN_SECRET_KEY_LENGTH = 32
MAKE_A_KEY = "python -c 'import secrets; print(secrets.token_hex(32))'"


def _environment() -> str:
    return (os.environ.get("REGISTRY_ENV") or os.environ.get("FLASK_ENV") or "development").strip().lower()


class Config:
    REGISTRY_ENV = _environment()
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # Session cookie: HttpOnly and SameSite=Lax always; Secure unless serving plain
    # http on a laptop (set SESSION_COOKIE_SECURE=0 only for local development).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    # A session ends after this long without a request, and this long after its login however
    # active (registry/auth.py); logging out or a new password ends every session of the user.
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", 30))
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", 12))
    # How many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host (0: none; the
    # client address the rate limits count by is then the proxy's, shared by every client).
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", 0))
    # Rate limits (Flask-Limiter, registry/rate_limits.py), in its notation ("5 per minute;20 per
    # hour"). The counters must be shared by every process of a server: Redis in production
    # (redis://host:6379/0); memory:// counts in one process only, for a laptop and the tests.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_LOGIN_IP = os.environ.get("RATELIMIT_LOGIN_IP", "20 per minute;100 per hour")
    RATELIMIT_LOGIN_ACCOUNT = os.environ.get("RATELIMIT_LOGIN_ACCOUNT", "5 per minute;20 per hour")
    RATELIMIT_API_TOKEN = os.environ.get("RATELIMIT_API_TOKEN", "300 per minute")
    RATELIMIT_API_TOKEN_FAILURES = os.environ.get("RATELIMIT_API_TOKEN_FAILURES", "20 per minute")
    RATELIMIT_UPLOADS = os.environ.get("RATELIMIT_UPLOADS", "10 per minute;100 per hour")
    RATELIMIT_EXPORTS = os.environ.get("RATELIMIT_EXPORTS", "30 per minute;300 per hour")
    # Uploads: anything larger is refused with 413 before it is read.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_BYTES", 50 * 1024 * 1024))
    IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", 500_000))
    # Exchange rates: a value date with no ECB rate (weekend, holiday, or after the
    # last published date) uses the latest earlier rate at most this many days old.
    RATE_MAX_AGE_DAYS = int(os.environ.get("RATE_MAX_AGE_DAYS", 7))
    # SQLite: seconds a write waits for another writer's lock before the request answers 503.
    SQLITE_BUSY_TIMEOUT = float(os.environ.get("SQLITE_BUSY_TIMEOUT", 10))
    REPORTING_CURRENCY = "USD"
    # Report currencies besides USD whose converted report facts are kept up to date on write
    # (reports in them read the facts; a report in any other currency converts every flow).
    REPORT_CURRENCIES = tuple(c for c in os.environ.get("REPORT_CURRENCIES", "EUR").replace(" ", "").split(",") if c)
    # Rate files loaded with `flask reference rates load` (they override registry/data/).
    RATES_DIR = os.environ.get("RATES_DIR", str(INSTANCE_DIR / "rates"))
    # API tokens: the lifetime of a new token when none is chosen, and the longest allowed (days).
    API_TOKEN_DAYS = int(os.environ.get("API_TOKEN_DAYS", 90))
    API_TOKEN_MAX_DAYS = int(os.environ.get("API_TOKEN_MAX_DAYS", 365))
    # Logs: json (one object per line) or text; unset, json in production and text elsewhere.
    LOG_FORMAT = os.environ.get("LOG_FORMAT") or None
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    # E-mail (alerts, docs/alerts.md), sent by the queue worker through Flask-Mailman. With no
    # MAIL_SERVER the e-mails are written to the log (logger registry.mail), never lost
    # silently; MAIL_BACKEND may name another Flask-Mailman backend ("smtp", "console", "locmem").
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", 587))
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", True)  # STARTTLS on MAIL_PORT (587)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)  # TLS from the start (465); not with MAIL_USE_TLS
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_TIMEOUT = int(os.environ.get("MAIL_TIMEOUT", 30))  # seconds; a hung server fails the send, which is retried
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "ICT4D Funding Registry <no-reply@localhost>")
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "")
    # The registry's public address: the links in e-mails (no request tells it to a worker).
    BASE_URL = os.environ.get("BASE_URL", "http://localhost:5000")
    # When the worker sends the digests (UTC): daily at ALERTS_DAILY_HOUR, weekly on
    # ALERTS_WEEKLY_DAY (0 Sunday .. 6 Saturday) at that hour; what is new is collected, and
    # "immediate" alerts sent, every ALERTS_IMMEDIATE_MINUTES.
    ALERTS_DAILY_HOUR = int(os.environ.get("ALERTS_DAILY_HOUR", 6))
    ALERTS_WEEKLY_DAY = int(os.environ.get("ALERTS_WEEKLY_DAY", 1))
    ALERTS_IMMEDIATE_MINUTES = int(os.environ.get("ALERTS_IMMEDIATE_MINUTES", 5))

    API_TITLE = "ICT4D Funding Registry API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_REDOC_PATH = None
    OPENAPI_SWAGGER_UI_PATH = None
    API_SPEC_OPTIONS = {
        "info": {
            "description": (
                "Projects, funding sources and money flows for ICT-for-development. "
                "Amounts are decimal strings in their original currency."
            )
        }
    }
    WTF_CSRF_TIME_LIMIT = None
    JSON_SORT_KEYS = False


class UnsafeConfiguration(RuntimeError):
    """The app was asked to run in production with settings that would make it unsafe."""


def unsafe_settings(config: dict) -> list[str]:
    """What is unsafe in ``config`` for its environment: one sentence a setting, naming it and
    how to set it right (nothing outside production, beyond a misspelt environment name)."""
    env = config.get("REGISTRY_ENV") or "development"
    if env not in ENVIRONMENTS:
        return [f"REGISTRY_ENV (or FLASK_ENV) is {env!r}; set it to one of {', '.join(ENVIRONMENTS)}"]
    if env != "production":
        return []
    problems = []
    key = config.get("SECRET_KEY") or ""
    how = f"set SECRET_KEY to a long random value, e.g. the output of {MAKE_A_KEY}"
    if not key or key == DEFAULT_SECRET_KEY:
        problems.append(f"SECRET_KEY is not set (the development default signs anyone's session cookie); {how}")
    elif key in KNOWN_SECRET_KEYS:
        problems.append(f"SECRET_KEY is {key!r}, a value published in the repository; {how}")
    elif len(key) < MIN_SECRET_KEY_LENGTH:
        problems.append(f"SECRET_KEY has {len(key)} characters, fewer than {MIN_SECRET_KEY_LENGTH}; {how}")
    if not config.get("SESSION_COOKIE_SECURE"):
        problems.append(
            "SESSION_COOKIE_SECURE is off, so the session cookie travels over plain http; "
            "remove SESSION_COOKIE_SECURE=0 from the environment (it is on by default) and serve over HTTPS"
        )
    if not config.get("SESSION_COOKIE_HTTPONLY"):
        problems.append("SESSION_COOKIE_HTTPONLY is off, so scripts can read the session cookie; leave it on")
    if config.get("DEBUG"):
        problems.append(
            "DEBUG is on (FLASK_DEBUG=1 or --debug): the debugger runs code for anyone who reaches it; "
            "unset FLASK_DEBUG and drop --debug"
        )
    if config.get("TESTING"):
        problems.append("TESTING is on, which hides errors and is meant for the test suite only; do not set it")
    if config.get("WTF_CSRF_ENABLED") is False:
        problems.append("WTF_CSRF_ENABLED is off, so any site can post the forms as a logged-in user; leave it on")
    storage = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if storage.startswith("memory://"):
        problems.append(
            "RATELIMIT_STORAGE_URI is memory://, so each server process counts logins, token use and "
            "uploads on its own and the limits multiply with the processes; set it to a store they "
            "share, e.g. RATELIMIT_STORAGE_URI=redis://localhost:6379/0"
        )
    if config.get("RATELIMIT_ENABLED") is False:
        problems.append(
            "RATELIMIT_ENABLED is off, so passwords and tokens can be guessed at full speed; "
            "remove RATELIMIT_ENABLED=0 from the environment"
        )
    return problems


def check_settings(config: dict) -> None:
    """Refuse to start with unsafe settings: raise UnsafeConfiguration listing each of them."""
    problems = unsafe_settings(config)
    if problems:
        env = config.get("REGISTRY_ENV")
        raise UnsafeConfiguration(
            f"Refusing to start with REGISTRY_ENV={env}:\n" + "\n".join(f"  - {p}" for p in problems)
        )
