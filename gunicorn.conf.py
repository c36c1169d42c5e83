"""gunicorn settings for the registry: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be set from the environment (names below); docs/deploy.md explains them.
The app itself reads its own settings (DATABASE_URL, SECRET_KEY, LOG_FORMAT, ...) from the
same environment.
"""

import gc
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


# Where to listen: loopback by default, for a reverse proxy on the same host; a container sets
# GUNICORN_BIND=0.0.0.0:8000 (or a unix socket, unix:/run/registry/gunicorn.sock).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Processes x threads. WEB_CONCURRENCY is the usual name for the process count (a platform
# sets it from the machine's size); a report or an upload keeps a CPU busy, so count about one
# worker per core and a few threads each for the requests that wait on the database.
workers = _int("WEB_CONCURRENCY", 2)
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"

# A request that runs longer than this is killed with its worker (an import of the largest
# allowed file takes tens of seconds; reports a few). graceful_timeout: how long a worker has
# to finish its requests on a restart or shutdown. keepalive: seconds an idle connection from
# the proxy is kept open.
timeout = _int("GUNICORN_TIMEOUT", 120)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Restart a worker after this many requests (plus up to the jitter), so memory that pandas or
# a large workbook left behind is given back; 0 turns it off.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100)

# Load the app once in the master, then fork: a broken setting (an unsafe production config,
# an unreachable module) stops the start at once, and the workers share the loaded code.
# Each worker opens its own database connections (post_fork below). Code changes need a
# restart, not a HUP.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") not in {"0", "false", "no"}

# The reverse proxy: gunicorn trusts X-Forwarded-Proto (https) only from these addresses (the
# proxy on the same host by default). The app trusts X-Forwarded-For/-Proto/-Host when
# TRUSTED_PROXIES says how many proxies set them (config.py).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs. The app writes one line per request itself (logger registry.request, with the user);
# gunicorn's own access line is off unless GUNICORN_ACCESS_LOG names a file or "-" (stdout).
# With JSON logs (LOG_FORMAT=json, the default in production) both gunicorn logs are JSON too,
# each access line with the request id the app returned in X-Request-ID.
errorlog = "-"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
logger_class = "registry.logging_gunicorn.GunicornLogger"

# gunicorn 24+ opens a control socket in the user's home; several servers on one host would
# share its path, so it is off unless GUNICORN_CONTROL_SOCKET names one (older versions
# ignore both settings).
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or None
control_socket_disable = control_socket is None
if control_socket is None:
    del control_socket

# Worker heartbeats in memory rather than on a disk that may be slow (containers).
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"


def post_fork(server, worker):
    """A forked worker must not reuse a database connection the master opened while loading
    the app: drop the inherited pool (without closing the master's sockets) so the worker
    opens its own."""
    if not preload_app:
        return
    import wsgi
    from registry.extensions import db

    with wsgi.app.app_context():
        db.engine.dispose(close=False)


# The objects a worker holds from its start (modules, mappers, templates, catalogues: some
# 200,000) live as long as it does. Frozen out of the garbage collector's generations, the
# full collections that a busy worker runs every few requests no longer walk them: on the
# 20,000-project registry these pauses put 100-200 ms into one request in ten
# (bench/RESULTS.md). In the master before forking (with preload_app), so the workers share
# those pages rather than copying them as the collector touches them; in each worker once it
# has loaded the app (what it loaded itself).


def pre_fork(server, worker):
    gc.collect()
    gc.freeze()


def post_worker_init(worker):
    gc.collect()
    gc.freeze()
