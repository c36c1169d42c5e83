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


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # Session cookie: HttpOnly and SameSite=Lax always; Secure unless serving plain
    # http on a laptop (set SESSION_COOKIE_SECURE=0 only for local development).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    # Uploads: anything larger is refused with 413 before it is read.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_BYTES", 50 * 1024 * 1024))
    IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", 500_000))
    # Exchange rates: a value date with no ECB rate (weekend, holiday, or after the
    # last published date) uses the latest earlier rate at most this many days old.
    RATE_MAX_AGE_DAYS = int(os.environ.get("RATE_MAX_AGE_DAYS", 7))
    REPORTING_CURRENCY = "USD"
    # Rate files loaded with `flask reference rates load` (they override registry/data/).
    RATES_DIR = os.environ.get("RATES_DIR", str(INSTANCE_DIR / "rates"))

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
