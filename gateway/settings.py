"""Settings for the "Provide it once" gateway, read from the environment.

With no DATABASE_URL and no REDIS_URL the project runs on its embedded default: a SQLite file
under var/, Celery in eager mode and a local-memory cache. Production sets both, plus SECRET_KEY,
AUDIT_HMAC_KEY and the signing keys; a missing production secret stops the process at start-up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

# Django's generic classes (ModelAdmin[Model], ModelForm[Model]...) subscriptable at run time, as
# the type checker wants them written.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}.")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_days(name: str) -> dict[str, int]:
    """`key=days` pairs, comma-separated (`consent=2192,auditor=365`)."""
    pairs: dict[str, int] = {}
    for item in env_list(name):
        key, _, days = item.partition("=")
        if not key.strip() or not days.strip().isdigit():
            raise ImproperlyConfigured(f"{name} is a list of key=days pairs, got {item!r}.")
        pairs[key.strip()] = int(days)
    return pairs


def env_secret(name: str, *, dev_default: str) -> str:
    """A secret that production must provide; development gets a fixed, clearly unsafe value."""
    value = env_str(name)
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} is not set. It is required when DEBUG is off; see README.md, 'Configuration'.")


DEBUG = env_bool("DEBUG", False)
# Demo mode: the demo citizen login, loopback redirect URIs, the demo data in seed_demo.
DEMO_MODE = env_bool("GATEWAY_DEMO", DEBUG)

SECRET_KEY = env_secret("SECRET_KEY", dev_default="dev-only-insecure-secret-key-" + "x" * 40)
AUDIT_HMAC_KEY = env_secret("AUDIT_HMAC_KEY", dev_default="dev-only-insecure-audit-hmac-key")
# Key of the personal data encrypted at rest (core.fields: the citizens' pivot identity). Its own
# secret lets SECRET_KEY rotate without losing the identities behind active consents.
FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY") or SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
GATEWAY_BASE_URL = env_str("GATEWAY_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Who runs this instance, for the legal notice, the personal data page and the accessibility
# statement (gateway/templates/gateway/pages/).
GATEWAY_OPERATOR_NAME = env_str("GATEWAY_OPERATOR_NAME", "")
GATEWAY_OPERATOR_ADDRESS = env_str("GATEWAY_OPERATOR_ADDRESS", "")
GATEWAY_HOSTING = env_str("GATEWAY_HOSTING", "")
GATEWAY_CONTACT_EMAIL = env_str("GATEWAY_CONTACT_EMAIL", "")
GATEWAY_DPO_EMAIL = env_str("GATEWAY_DPO_EMAIL", "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", GATEWAY_BASE_URL)
# A plain page in the gateway's layout, not Django's technical one.
CSRF_FAILURE_VIEW = "gateway.views.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "oauth2_provider",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "widget_tweaks",
    "dsfr",
    "core",
    "audit",
    "providers",
    "consent",
    "gateway",
]

MIDDLEWARE = [
    "core.correlation.CorrelationIdMiddleware",
    "core.errors.DebugNotFoundMiddleware",
    "core.limits.RequestLimitsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.replicas.ReplicaFreshnessMiddleware",
    "core.languages.GatewayLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gateway.urls"
WSGI_APPLICATION = "gateway.wsgi.application"
ASGI_APPLICATION = "gateway.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.service",
                "core.context_processors.site_config",
                "consent.context_processors.citizen",
            ],
        },
    },
]

# Database: PostgreSQL in tests and production, a SQLite file as the embedded default.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend, with health checks skipped for a connection that worked less than
        # DATABASE_HEALTH_CHECK_DELAY seconds ago (core/db/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "core.db.postgresql"
    DATABASES["default"]["OPTIONS"] = {
        # Parameters sent apart from the SQL (psycopg's server-side binding), so that a statement
        # run often (the exchange's reads and writes) is prepared once per connection and PostgreSQL
        # stops parsing and planning it on every request: planning the exchange's join costs more
        # than running it. Off for a transaction-mode pooler that cannot keep prepared statements
        # (PgBouncer before 1.21): DATABASE_PREPARED_STATEMENTS=0.
        "server_side_binding": True,
        "prepare_threshold": env_int("DATABASE_PREPARE_THRESHOLD", 2)
        if env_bool("DATABASE_PREPARED_STATEMENTS", True)
        else None,
    }
    # Streaming exports read through a cursor held across transactions (WITH HOLD); behind a
    # transaction-mode pooler the next fetch may reach another server connection, where the cursor
    # does not exist: DATABASE_SERVER_SIDE_CURSORS=0 makes Django fetch in chunks client-side.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = not env_bool("DATABASE_SERVER_SIDE_CURSORS", True)
else:
    SQLITE_FILE = Path(env_str("GATEWAY_SQLITE_FILE", str(BASE_DIR / "var" / "gateway.sqlite3")))
    SQLITE_FILE.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_FILE),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
# Streaming replicas (hot standbys) of the primary, read by the views core.replicas names; a client
# that has just acted reads the primary for DATABASE_REPLICA_STICKY_SECONDS (docs/scale.md).
DATABASE_REPLICA_ALIASES: list[str] = []
if DATABASE_URL:
    for number, replica_url in enumerate(env_list("DATABASE_REPLICA_URLS")):
        alias = f"replica_{number}"
        DATABASES[alias] = {
            **dj_database_url.parse(replica_url, conn_max_age=60),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": dict(DATABASES["default"]["OPTIONS"]),
            "DISABLE_SERVER_SIDE_CURSORS": DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"],
            # Tests read the replica as the primary's own data.
            "TEST": {"MIRROR": "default"},
        }
        DATABASE_REPLICA_ALIASES.append(alias)
DATABASE_ROUTERS = ["core.replicas.ReplicaRouter"]
DATABASE_REPLICA_STICKY_SECONDS = env_int("DATABASE_REPLICA_STICKY_SECONDS", 5)
# A replica further behind than this (seconds of replay lag), or unreachable, leaves the read
# rotation until it catches up; each process measures the lag at most every LAG_CHECK seconds.
DATABASE_REPLICA_MAX_LAG_SECONDS = env_int("DATABASE_REPLICA_MAX_LAG_SECONDS", 30)
DATABASE_REPLICA_LAG_CHECK_SECONDS = env_int("DATABASE_REPLICA_LAG_CHECK_SECONDS", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Seconds during which a PostgreSQL connection that just worked is not health-checked again.
DATABASE_HEALTH_CHECK_DELAY = env_int("DATABASE_HEALTH_CHECK_DELAY", 1)

# Redis: broker, rate-limit counters and cache. Absent, Celery runs tasks eagerly in-process.
REDIS_URL = env_str("REDIS_URL")

# E-mail to citizens (told of each access to their data), through Django's e-mail framework.
# Without EMAIL_HOST (the embedded default), messages are printed on the console instead.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "Dites-le-nous une fois <ne-pas-repondre@localhost>"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Lets several deployments (or parallel test processes) share one Redis database.
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
# The queue tasks are sent to and workers consume; one per deployment (or test process) sharing a broker.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE") or "celery"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# A provider call never legitimately takes minutes; the soft limit lets the task record failure,
# the hard limit kills it (and an asynchronous exchange's claim outlives it: async_exchanges.py).
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Asynchronous results nobody collected are wiped after EXCHANGE_RESULT_TTL_SECONDS.
    "exchange-results-purge": {"task": "gateway.tasks.exchange_results_purge", "schedule": 60.0},
    # Asynchronous exchanges whose message was lost (broker down) or whose worker died.
    "exchanges-resume": {"task": "gateway.tasks.exchanges_resume", "schedule": 15.0, "options": {"expires": 14}},
    # The audit sealer: idempotent, one runs at a time (advisory lock); expires so a backlog of
    # beats never piles up behind a slow seal.
    "audit-seal": {"task": "audit.tasks.seal", "schedule": 1.0, "options": {"expires": 5}},
    # Sweeps events older than the sealer's look-back window (belt and braces) and refreshes the
    # cached verification of the whole log shown in the auditor console.
    "audit-sweep": {"task": "audit.tasks.sweep", "schedule": 3600.0},
    # Marks consents and requests whose time is up (reads enforce expiry too; this keeps the
    # stored status honest for lists and the trail). Idempotent.
    "consents-expire": {"task": "consent.tasks.consents_expire", "schedule": 60.0, "options": {"expires": 55}},
    # Webhook retries (consent/services/webhooks.py), and first sends whose message was lost.
    "webhooks-retry-due": {"task": "consent.tasks.webhooks_retry_due", "schedule": 30.0, "options": {"expires": 25}},
    "audit-verify": {"task": "audit.tasks.verify", "schedule": 300.0},
    # The trail's partitions for the next months and the next leaves (idempotent).
    "audit-partitions": {"task": "audit.tasks.partitions_ensure", "schedule": 3600.0, "options": {"expires": 3500}},
    # Leaf partitions whose records have all served their retention: archived, then detached.
    "audit-retention": {"task": "audit.tasks.retention_apply", "schedule": 86400.0, "options": {"expires": 3600}},
    # Citizens told of each access to their data (consent/services/notices.py): new accesses read
    # from the trail, retries of the e-mails not sent yet, and the daily digests.
    "access-notices-collect": {
        "task": "consent.tasks.access_notices_collect",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    "access-notices-retry-due": {
        "task": "consent.tasks.access_notices_retry_due",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "access-digests-send": {"task": "consent.tasks.access_digests_send", "schedule": 86400.0},
    # The consumers' DPOs not yet told of a citizen's objection (consent/services/objections.py).
    "objections-dpo-tell-due": {
        "task": "consent.tasks.objections_dpo_tell_due",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Pivot identities of citizens with neither a session nor a live consent (consent.services.citizens).
    # Emails to agents that the broker or the mail server missed (providers/services/emails.py).
    "emails-retry-due": {"task": "providers.tasks.emails_retry_due", "schedule": 60.0, "options": {"expires": 55}},
    # Habilitations ending within 30, then 7 days: their consumers are told once each.
    "habilitation-expiry-notices": {
        "task": "providers.tasks.habilitation_expiry_notices",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    "citizens-identity-erase": {
        "task": "consent.tasks.citizens_identity_erase",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
}

# Emails to agents (providers/services/emails.py) through an SMTP server; in demo mode without
# one they are written to the console (fictitious people only).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEMO_MODE and "EMAIL_HOST" not in os.environ
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Passerelle d'échange <ne-pas-repondre@passerelle.invalid>")

# Django's hashers for people's passwords, then the keyed hash of OAuth client secrets
# (gateway/oauth/hashers.py), which only ever stores secrets the gateway generated.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "gateway.oauth.hashers.ClientSecretHasher",
]
# Key of that hash; derived from SECRET_KEY when unset. Give it a value of its own so that
# SECRET_KEY can change without invalidating every client secret.
OAUTH_CLIENT_SECRET_KEY = env_str("OAUTH_CLIENT_SECRET_KEY")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
# Dates in words, the same way on every page and e-mail (core/formats).
FORMAT_MODULE_PATH = ["core.formats"]
USE_I18N = True
USE_TZ = True
# django-dsfr marks the text given to its tags (alerts, tables…) as safe unless told otherwise.
DSFR_CONTENT_IS_SAFE = False

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Production serves hashed, compressed files from collectstatic; tests render pages with DEBUG
# off but without collectstatic, so they turn the manifest off.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security. Production runs behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 30 * 60
X_FRAME_OPTIONS = "DENY"
# Every page and API answer (django-csp): scripts, styles and fonts from our own static files only,
# no inline script or style; images may be data: URIs, which DSFR's stylesheet uses for its icons.
# No form-action: a citizen's decision ends in a redirect to the consumer's registered return_url.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    }
}
# The largest request body (bytes): API bodies are small JSON documents, pages' forms smaller still.
# Past it, core.limits answers 413 before reading the body.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REQUEST_MAX_BODY_BYTES", 1024 * 1024)
# The address (path and query), the number of headers and the length of one header: each below
# gunicorn's limit (gunicorn.conf.py), so that Django answers 414 and 431 in problem+json first.
REQUEST_MAX_URL_LENGTH = env_int("REQUEST_MAX_URL_LENGTH", 4096)
REQUEST_MAX_HEADERS = env_int("REQUEST_MAX_HEADERS", 100)
REQUEST_MAX_HEADER_BYTES = env_int("REQUEST_MAX_HEADER_BYTES", 8190)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["providers.authentication.OrganisationClientAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["core.ratelimit.ClientRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    # No `?format=` override of content negotiation: an unknown value answered 404. The views that
    # offer CSV or JSONL take `format` as a validated parameter of their own.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Dites-le-nous une fois — API de la passerelle / Provide-it-once gateway API",
    "DESCRIPTION": (
        "Consent-driven exchange of certified attestations between public administrations. "
        "Errors are application/problem+json (RFC 9457) with a stable `code`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Components are named after the domain, the enums too.
    "ENUM_NAME_OVERRIDES": {
        "ConsentStatusEnum": "consent.models.Consent.Status",
        "ExchangeStatusEnum": ["pending", "succeeded", "denied", "failed"],
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.openapi.problems_declare"],
    # Swagger UI's assets from our own static files: the docs work without the internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

OAUTH2_PROVIDER = {
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 600,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 3600,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"] if DEMO_MODE else ["https"],
    "SCOPES": {
        "consents:read": "Read the consents your organisation asked for",
        "consents:write": "Ask citizens for consent, end consents",
        "audit:read": "Search the audit trail (auditors)",
    },
    "DEFAULT_SCOPES": [],
    "ALLOWED_GRANT_TYPES": ["authorization_code", "client_credentials"],
    "ALLOW_URI_WILDCARDS": False,
    # RFC 9700 (OAuth 2.0 Security BCP): django-oauth-toolkit's compliant behaviours, all on.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": not DEMO_MODE,
    # The gateway's hardening (gateway/oauth/): the scope ceiling, exact redirect URIs, code
    # replay detection, the audit of token issue and revocation, and a server that knows only
    # the authorization_code (PKCE S256, no refresh token) and client_credentials grants.
    "OAUTH2_VALIDATOR_CLASS": "gateway.oauth.validators.GatewayOAuth2Validator",
    "SCOPES_BACKEND_CLASS": "gateway.oauth.scopes.GatewayScopes",
    "OAUTH2_SERVER_CLASS": "gateway.oauth.server.HardenedServer",
    "OAUTH2_BACKEND_CLASS": "gateway.oauth.backends.GatewayOAuthLibCore",
    "REQUEST_APPROVAL_PROMPT": "force",
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "client_credentials"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    # Each client uses the one it is registered for (providers.ApiClient.token_endpoint_auth_method);
    # client_secret_post only for clients registered before keys.
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["private_key_jwt", "client_secret_basic", "client_secret_post"],
    # Client secrets are generated by the gateway: a keyed hash, not key stretching, stores them.
    "CLIENT_SECRET_HASHER": "hmac_sha256",
    # Empty: the issuer is derived from the request (hosts are pinned by ALLOWED_HOSTS).
    "OIDC_ISS_ENDPOINT": env_str("OAUTH_ISSUER"),
}


# OpenID providers (README, "Logging in"): each is on when its issuer is set. FranceConnect vouches
# for eidas1, FranceConnect+ for eidas2 and eidas3 (one of them may serve every level); ProConnect
# logs in the agents of administrations.
def env_acr_values(name: str, default: str) -> dict[str, str]:
    """`eidas1,eidas2` (the acr value is the level's name, as FranceConnect's) or `eidas2=acr-x,…`."""
    values: dict[str, str] = {}
    for item in env_list(name, default):
        level, _, acr = item.partition("=")
        if level.strip() not in {"eidas1", "eidas2", "eidas3"}:
            raise ImproperlyConfigured(f"{name}: {level!r} is not an eIDAS level (eidas1, eidas2, eidas3).")
        values[level.strip()] = acr.strip() or level.strip()
    return values


def env_oidc_provider(prefix: str, *, scopes: str, acr_values: str = "") -> dict[str, Any] | None:
    issuer = env_str(f"{prefix}_ISSUER")
    if not issuer:
        return None
    client_id = env_str(f"{prefix}_CLIENT_ID")
    secret = env_str(f"{prefix}_CLIENT_SECRET")
    key_file = env_str(f"{prefix}_PRIVATE_KEY_FILE")
    if not client_id or not (secret or key_file):
        raise ImproperlyConfigured(
            f"{prefix}_ISSUER is set: {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET (or {prefix}_PRIVATE_KEY_FILE) "
            "are required too."
        )
    return {
        "issuer": issuer,
        "client_id": client_id,
        "client_secret": secret,
        "private_key_file": key_file,
        "scopes": env_str(f"{prefix}_SCOPES", scopes),
        "acr_values": env_acr_values(f"{prefix}_ACR_VALUES", acr_values),
    }


OIDC_PROVIDERS: dict[str, dict[str, Any]] = {
    name: config
    for name, config in {
        "franceconnect": env_oidc_provider("FRANCECONNECT", scopes="openid identite_pivot email", acr_values="eidas1"),
        "franceconnect_plus": env_oidc_provider(
            "FRANCECONNECT_PLUS", scopes="openid identite_pivot email", acr_values="eidas2,eidas3"
        ),
        "proconnect": env_oidc_provider("PROCONNECT", scopes="openid email given_name usual_name siret uid"),
    }.items()
    if config
}
# Agents log in through ProConnect (providers.views.agents); Django's admin keeps its own login,
# for operators.
LOGIN_URL = "agent-login"
# Who holds which role (core.roles): the agents' roles of the providers app.
ROLE_PREDICATE = "providers.selectors.user_has_role"
# The SIRET of a logged-in agent's organisation (core.roles.user_organisation_siret).
USER_ORGANISATION = "providers.selectors.user_organisation_siret"
# Each request to an OpenID provider (discovery, keys, token, userinfo) through core.outbound.
OIDC_TIMEOUT_SECONDS = env_int("OIDC_TIMEOUT_MS", 5000) / 1000
# A citizen's session ends after this long without a page (FranceConnect+ asks for 10 minutes).
CITIZEN_SESSION_IDLE_SECONDS = env_int("CITIZEN_SESSION_IDLE_SECONDS", 600)

# A consent request the citizen has not decided on expires after this many days.
CONSENT_REQUEST_TTL_DAYS = env_int("CONSENT_REQUEST_TTL_DAYS", 7)
# How long before a consent ends its administration may send a renewal request (the citizen sees
# the renewal waiting for their decision on their dashboard).
CONSENT_RENEWAL_WINDOW_DAYS = env_int("CONSENT_RENEWAL_WINDOW_DAYS", 30)
# One-time codes a citizen may enter per minute, counted per citizen and per request (a code has
# 60 bits: the limit keeps guessing hopeless, and a slip of the keyboard harmless).
CONSENT_CODE_ATTEMPTS_PER_MINUTE = env_int("CONSENT_CODE_ATTEMPTS_PER_MINUTE", 5)

# Requests per minute per OAuth client; Organisation.rate_limit_per_minute overrides it.
RATE_LIMIT_PER_MINUTE = env_int("RATE_LIMIT_PER_MINUTE", 600)
# Requests per minute to the token, introspection and revocation endpoints, counted apart per
# client id named (authenticated or not) and per source address (gateway/oauth/endpoints.py).
OAUTH_RATE_LIMIT_PER_CLIENT = env_int("OAUTH_RATE_LIMIT_PER_CLIENT", 120)
OAUTH_RATE_LIMIT_PER_ADDRESS = env_int("OAUTH_RATE_LIMIT_PER_ADDRESS", 600)
# FAPI 2.0 (gateway/oauth/, core/dpop.py). How new clients authenticate unless told otherwise:
# outside demo mode, with a key (private_key_jwt); client_secret_basic stays for clients set so.
OAUTH_NEW_CLIENT_AUTH_METHOD = env_str(
    "OAUTH_NEW_CLIENT_AUTH_METHOD", "client_secret_basic" if DEMO_MODE else "private_key_jwt"
)
# A client assertion's `exp` may lie at most this far ahead (RFC 7523 assertions are short-lived).
OAUTH_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS = env_int("OAUTH_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS", 60)
# A client's jwks_uri: kept this long, fetched again sooner only for an unknown kid, and then at
# most once per JWKS_REFRESH_MIN_SECONDS (a stream of made-up kids must not hammer the client).
OAUTH_CLIENT_JWKS_CACHE_SECONDS = env_int("OAUTH_CLIENT_JWKS_CACHE_SECONDS", 300)
OAUTH_CLIENT_JWKS_REFRESH_MIN_SECONDS = env_int("OAUTH_CLIENT_JWKS_REFRESH_MIN_SECONDS", 30)
OAUTH_CLIENT_JWKS_TIMEOUT_SECONDS = env_int("OAUTH_CLIENT_JWKS_TIMEOUT_SECONDS", 5)
# DPoP proofs (RFC 9449 §11.1): how old (seconds) a proof's iat may be, how far ahead, whether a
# server nonce is required and how long each nonce lasts (the previous one stays valid too).
DPOP_MAX_AGE_SECONDS = env_int("DPOP_MAX_AGE_SECONDS", 60)
DPOP_CLOCK_SKEW_SECONDS = env_int("DPOP_CLOCK_SKEW_SECONDS", 10)
DPOP_NONCE_REQUIRED = env_bool("DPOP_NONCE_REQUIRED", True)
DPOP_NONCE_LIFETIME_SECONDS = env_int("DPOP_NONCE_LIFETIME_SECONDS", 300)
# Pushed authorization requests (RFC 9126 §2.2): the request_uri's lifetime.
OAUTH_PAR_LIFETIME_SECONDS = env_int("OAUTH_PAR_LIFETIME_SECONDS", 60)
# Reverse proxies in front of the gateway that append to X-Forwarded-For: the source address of a
# request is the one the outermost of them saw. 0: REMOTE_ADDR (any X-Forwarded-For is the client's).
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0)
# How long an asynchronous exchange's encrypted result waits to be collected.
EXCHANGE_RESULT_TTL_SECONDS = env_int("EXCHANGE_RESULT_TTL_SECONDS", 15 * 60)

# Declared explicitly because our models reference them (swappable-model lookups need them).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"

# Signing keys. Each is a PEM file (Ed25519 private key). The first JWS key signs; the others
# stay published in the JWKS so that earlier attestations and artefacts keep verifying.
KEYS_DIR = Path(env_str("GATEWAY_KEYS_DIR", str(BASE_DIR / "var" / "keys")))
JWS_KEY_FILES = [Path(p) for p in env_list("GATEWAY_JWS_KEY_FILES")]
LOG_KEY_FILE = Path(env_str("GATEWAY_LOG_KEY_FILE")) if env_str("GATEWAY_LOG_KEY_FILE") else None
# Webhook keys: every listed key signs every webhook (one `v1a` signature each), so that during a
# rotation receivers can move from the old public key to the new one without missing a webhook.
WEBHOOK_KEY_FILES = [Path(p) for p in env_list("GATEWAY_WEBHOOK_KEY_FILES")]
# Outside DEBUG/demo, keys must be provided; generating them silently in production would give
# every restart a new identity that no verifier trusts.
KEYS_GENERATE = env_bool("GATEWAY_KEYS_GENERATE", DEBUG or DEMO_MODE)
AUDIT_LOG_ORIGIN = env_str("AUDIT_LOG_ORIGIN", GATEWAY_BASE_URL.split("://", 1)[-1] + "/audit")
# Embedded default (eager Celery, no beat): seal right after each commit that recorded events.
AUDIT_SEAL_ON_COMMIT = env_bool("AUDIT_SEAL_ON_COMMIT", CELERY_TASK_ALWAYS_EAGER)
# Late-committing transactions: the sealer rescans unsealed events this recent (seconds).
AUDIT_SEAL_LOOKBACK_SECONDS = env_int("AUDIT_SEAL_LOOKBACK_SECONDS", 900)
# The trail's partitions (audit/partitions.py, docs/scale.md): leaves and nodes in ranges of this
# many leaves (a power of two, fixed once the database exists), events by month, so many ahead.
AUDIT_LEAF_PARTITION_SIZE = env_int("AUDIT_LEAF_PARTITION_SIZE", 2**24)
if AUDIT_LEAF_PARTITION_SIZE < 2 or AUDIT_LEAF_PARTITION_SIZE & (AUDIT_LEAF_PARTITION_SIZE - 1):
    raise ImproperlyConfigured("AUDIT_LEAF_PARTITION_SIZE must be a power of two.")
AUDIT_PARTITION_MONTHS_AHEAD = env_int("AUDIT_PARTITION_MONTHS_AHEAD", 3)
# Where the archives of full leaf partitions go (audit/archive_stores.py): AUDIT_ARCHIVE_URL, a
# directory or s3://bucket/prefix?endpoint=…&region=…; without it, the directory AUDIT_ARCHIVE_DIR.
AUDIT_ARCHIVE_DIR = env_str("AUDIT_ARCHIVE_DIR", str(BASE_DIR / "var" / "audit-archives"))
AUDIT_ARCHIVE_URL = env_str("AUDIT_ARCHIVE_URL")
# Where an archive for a bucket is written while it is verified (the system's temporary directory
# if empty): room for one partition's export.
AUDIT_ARCHIVE_STAGING_DIR = env_str("AUDIT_ARCHIVE_STAGING_DIR")
# How long records stay in the live trail, in days, by event type or family (audit/retention.py;
# the grounds of each duration: docs/operations.md, "Retention"). AUDIT_RETENTION_DAYS overrides
# or adds pairs (`consent=2192,citizen.login_failed=180`).
AUDIT_RETENTION_DEFAULT_DAYS = env_int("AUDIT_RETENTION_DEFAULT_DAYS", 1827)
AUDIT_RETENTION_DAYS: dict[str, int] = {
    "consent": 2192,
    "exchange": 1827,
    "objection": 1827,
    "habilitation": 3653,
    "audit": 3653,
    "auditor": 365,
    "token": 365,
    "oauth": 365,
    "citizen.login_failed": 365,
    "agent.login_failed": 365,
    **env_days("AUDIT_RETENTION_DAYS"),
}
# An archive of a full partition (millions of leaves) runs far longer than an ordinary task.
AUDIT_ARCHIVE_TIME_LIMIT = env_int("AUDIT_ARCHIVE_TIME_LIMIT", 6 * 3600)
# Test-only escape from the audit tables' TRUNCATE trigger, for Django's test flush (audit/apps.py).
# Needs the variable that only pyproject's [tool.pytest_env] sets AND a running pytest.
AUDIT_ALLOW_TEST_TRUNCATE = env_bool("GATEWAY_AUDIT_TEST_TRUNCATE", False) and "pytest" in sys.modules

# Outbound HTTP to providers: addresses in private ranges are refused unless listed here.
OUTBOUND_ALLOWED_HOSTS = env_list("OUTBOUND_ALLOWED_HOSTS")
OUTBOUND_MAX_RESPONSE_BYTES = env_int("OUTBOUND_MAX_RESPONSE_BYTES", 1_000_000)
# Size of the synthetic population behind the in-process demo adapter (seed 2026, as the sandbox).
SANDBOX_POPULATION_SIZE = env_int("SANDBOX_POPULATION_SIZE", 1000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "core.logfilters.UtcFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s",
        }
    },
    "filters": {
        "redact_exceptions": {"()": "core.logfilters.RedactExceptions"},
        "correlation_id": {"()": "core.logfilters.CorrelationId"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["correlation_id", "redact_exceptions"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
