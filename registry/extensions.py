"""Every Flask extension object of the application, created unbound."""

from flask_limiter import Limiter
from flask_login import LoginManager
from flask_mailman import Mail
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

import registry.sqlite  # noqa: F401  (WAL, foreign keys and BEGIN IMMEDIATE on SQLite connections)
from registry.rate_limits import API_TOKEN_LIMITS, client_address

# Stable constraint names, so that Alembic migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
api = Api()
csrf = CSRFProtect()
# Sessions: registry.auth gives it the user loader and checks versions and timeouts.
login_manager = LoginManager()
# E-mail (registry/mail.py chooses the backend: SMTP, or the log when no server is set).
mail = Mail()
# Rate limits: what is limited and by which key is in registry.rate_limits; the counters live in
# RATELIMIT_STORAGE_URI. Its checks run before the app's own before-request hooks.
limiter = Limiter(key_func=client_address, application_limits=API_TOKEN_LIMITS, headers_enabled=True)
