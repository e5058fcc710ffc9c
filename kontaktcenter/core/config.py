"""Configuration from the environment, the way Procfile platforms set it.

``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY`` and ``SMTP_URL`` are read by name; every other
setting can be overridden with a ``KONTAKTCENTER_`` prefixed variable
(``KONTAKTCENTER_QUEUE_PAGE_SIZE=100``).
With none of them set the app runs embedded: SQLite in the instance folder, jobs in-process.
"""

from __future__ import annotations

import os
from datetime import timedelta


def normalise_database_url(url: str) -> str:
    """Platforms write ``postgres://``; SQLAlchemy wants a dialect+driver name."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    SQLALCHEMY_DATABASE_URI: str | None = (
        normalise_database_url(os.environ["DATABASE_URL"])
        if os.environ.get("DATABASE_URL")
        else None
    )
    # hide_parameters: a failing statement's error (and so the error log) shows the SQL, never
    # its values, which are search terms, names, addresses and personnummer.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    REDIS_URL: str | None = os.environ.get("REDIS_URL") or None
    SECRET_KEY: str | None = os.environ.get("SECRET_KEY") or None
    SMTP_URL: str | None = os.environ.get("SMTP_URL") or None
    # Refuse a plain smtp:// relay that does not offer STARTTLS even without a password.
    SMTP_REQUIRE_TLS = False

    # Agents keep the queue open all day: a CSRF token lives as long as the session.
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # A sign-in lasts at most this long, remembered or not: the server refuses an older one
    # whatever the cookie says (KONTAKTCENTER_REMEMBER_COOKIE_DURATION in seconds).
    REMEMBER_COOKIE_DURATION: timedelta | int = timedelta(days=14)
    # Production (a configured database) runs behind TLS: cookies only over HTTPS. Any
    # request that arrives over HTTPS marks its cookies Secure as well (core/security.py).
    SESSION_COOKIE_SECURE = REMEMBER_COOKIE_SECURE = bool(os.environ.get("DATABASE_URL"))
    # Reverse proxies in front of the app (nginx, the platform's router) whose X-Forwarded-For,
    # -Proto, -Host and -Port are believed: the client address, HTTPS and external URLs come
    # from them. 0: none (the app is reached directly); never more than there really are.
    TRUSTED_PROXIES = 0
    HSTS_SECONDS = 365 * 24 * 3600  # Strict-Transport-Security on HTTPS responses; 0: none
    # Sign-in throttling (organisation/login_throttle.py), "N per <period>" as the limits
    # library reads it. Per account and client address; per account from addresses that never
    # signed in to it; per client address for accounts it never signed in to.
    LOGIN_LIMIT_ACCOUNT_ADDRESS = "10 per 15 minutes"
    LOGIN_LIMIT_ACCOUNT = "30 per hour"
    LOGIN_LIMIT_ADDRESS = "100 per hour"
    # An address new to an account whose LOGIN_LIMIT_ACCOUNT is used up: fewer tries, not none.
    LOGIN_LIMIT_ACCOUNT_ADDRESS_STRICT = "3 per 15 minutes"
    # Where sign-in throttling keeps its counts: default REDIS_URL (shared by all processes), else
    # memory:// (per process: the embedded default).
    RATELIMIT_STORAGE_URI: str | None = None
    RATELIMIT_STRATEGY = "moving-window"
    RATELIMIT_KEY_PREFIX = "kontaktcenter"

    SQLITE_BEGIN_IMMEDIATE = True  # embedded default: writers queue instead of failing
    CALENDAR_CACHE_SECONDS = 60
    GOAL_DEFINITIONS_CACHE_SECONDS = 60  # service goals per process (they change rarely)
    ORGANISATION_CACHE_SECONDS = 60  # department and case-type names per process
    # Reports read finished days from daily counts kept by a job (decision 112); False: all live
    REPORT_PREAGGREGATES = True
    # The overview's numbers are shared by every viewer of a process for this long (a wallboard
    # refreshes once a minute; many viewers should not each count the open cases).
    OVERVIEW_CACHE_SECONDS = 5
    QUEUE_COUNTS_CACHE_SECONDS = 5  # the queue's counts by channel per process (#16)
    TIMEZONE = "Europe/Stockholm"
    MAX_CONTENT_LENGTH = 110 * 1024 * 1024  # above the inbound mail limit; more is a 413
    QUEUE_PAGE_SIZE = 50
    # The queue and the inbox ask for new cases this often, and reload themselves when there
    # are some and nobody has touched the page for QUEUE_IDLE_SECONDS (static/queue.js).
    QUEUE_POLL_SECONDS = 30
    QUEUE_IDLE_SECONDS = 60
    CALL_UNLOGGED_MINUTES = 10  # an answered call with no case after this is "ologgat" (#14)
    # An agent counts as signed in for distribution while seen this recently (#14).
    DISTRIBUTION_PRESENCE_MINUTES = 20
    # A callback taken with "ta nästa" goes back to the pool if not tried within this (#14).
    CALLBACK_TAKE_MINUTES = 15
    API_PAGE_SIZE = 50
    # Search ranks the hits best first while the words match at most this many cases;
    # beyond that it lists them newest first (search/queries.py).
    SEARCH_RANK_LIMIT = 1000
    JOB_QUEUE = "kontaktcenter"
    # Reports per named agent need a local agreement (MBL, GDPR): off unless switched on.
    REPORTS_PER_AGENT = False
    OUTBOX_MAX_ATTEMPTS = 5  # then the row is kept as failed (Administration → Driftstatus)
    OUTBOX_STUCK_SECONDS = 600  # a row running this long lost its worker: run it again
    OUTBOX_JOB_TIMEOUT = 300  # RQ stops a job running longer (keep below the stuck time)
    OUTBOX_GRACE_SECONDS = 30  # recover() leaves fresh rows to their own commit this long
    OUTBOX_RECOVER_BATCH = 500
    # "rq" with REDIS_URL, else "thread" (in-process); tests use "eager" (run at enqueue time).
    JOBS_MODE: str | None = None
    SCHEDULER_ENABLED = True  # in-process periodic jobs when there is no Redis
    MAIL_FROM = "kontaktcenter@localhost"
    # The address people reach the app at (https://kontaktcenter.kommun.se): links in mail are
    # built from it, never from a request's Host header. Unset: no self-service password reset.
    PUBLIC_URL: str | None = None
    OUTBOX_DIR: str | None = None  # default: instance/outbox
    ALERT_EMAIL: str | None = None  # goal alerts for first-line cases without an assignee
    MAIL_MAX_BYTES = 25 * 1024 * 1024  # larger messages are kept whole, flagged, not unpacked
    # Larger messages are stored first, before any parsing, and filed by a job (every door;
    # the HTTP door answers 202): a slow message never holds up a web worker or a poll.
    MAIL_ASYNC_BYTES = 5 * 1024 * 1024
    INBOUND_MAX_BYTES = 100 * 1024 * 1024  # the HTTP inbound door refuses more
    ACK_LIMIT_PER_HOUR = 3  # acknowledgements per sender address and hour (loop protection)
    # ... and to all addresses together per hour: a spray of forged senders gets no more.
    ACK_LIMIT_GLOBAL_PER_HOUR = 200
    # Mail that cites a case closed longer ago than this opens a new case linked to it.
    MAIL_REOPEN_DAYS = 30
    # Mail that comes from no mailbox (import-mail, POST /api/v1/inbound/email): whose
    # Authentication-Results to believe (authserv-ids, comma-separated in the environment)
    # and "verified" or "as_before" (see channels/email/models.SenderTrust).
    MAIL_TRUSTED_SERVERS: str | list[str] = ""
    MAIL_SENDER_TRUST = "verified"
    # A poll or an import files this many messages (or bytes) per transaction.
    MAIL_BATCH_MESSAGES = 100
    MAIL_BATCH_BYTES = 32 * 1024 * 1024
    # With more than one batch (a backlog, an import), parse the next batch in a forked helper
    # process while this one is filed (channels/email/parse_ahead.py).
    MAIL_PARSE_AHEAD = True
    # The audit log keeps its events this long, then purges them (core/audit_chain.py): five
    # years, the limitation period (BrB 35:1) of dataintrång, the longest of the offences
    # (dataintrång, brott mot tystnadsplikt) that a record of who read what is evidence of.
    AUDIT_RETENTION_MONTHS = 60


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key"
    WTF_CSRF_ENABLED = True
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SESSION_COOKIE_SECURE = REMEMBER_COOKIE_SECURE = False
    RATELIMIT_STORAGE_URI = "memory://"  # never the Redis other runs share
    # Tests sign in far more often than people do (and their rows roll back, so no address is
    # ever known): the throttle's own tests (test_login_throttle.py) set the real limits.
    LOGIN_LIMIT_ACCOUNT_ADDRESS = LOGIN_LIMIT_ACCOUNT = LOGIN_LIMIT_ADDRESS = "100000 per hour"
    LOGIN_LIMIT_ACCOUNT_ADDRESS_STRICT = "100000 per hour"
    JOBS_MODE = "eager"
    SCHEDULER_ENABLED = False
    SQLITE_BEGIN_IMMEDIATE = False
    CALENDAR_CACHE_SECONDS = 0  # tests roll back calendar changes: never share one
    # Every reuse of a search statement is checked against a fresh build (search/bound.py).
    SEARCH_CHECK_SHAPES = True
    GOAL_DEFINITIONS_CACHE_SECONDS = 0  # likewise for service goals
    ORGANISATION_CACHE_SECONDS = 0  # and for department and case-type names
    OVERVIEW_CACHE_SECONDS = 0
    QUEUE_COUNTS_CACHE_SECONDS = 0
