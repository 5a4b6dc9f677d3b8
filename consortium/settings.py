"""Guichet settings. Every deploy-specific value comes from the environment (see README)."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from .env import database_from_url, env_bool, env_int, env_list, env_str, local_secret_key, sqlite_database

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("GUICHET_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
# Without SECRET_KEY (a local run or the tests) a random key is kept under var/; the production
# profile refuses to start without a real one from the environment.
SECRET_KEY = env_str("SECRET_KEY", "") or local_secret_key(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "guardian",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "consortium",
    "partners",
    "bids",
    "pricing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "consortium.urls"
WSGI_APPLICATION = "consortium.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "consortium.context_processors.roles",
            ],
            "string_if_invalid": "",
        },
    }
]

_database_url = env_str("DATABASE_URL", "")
DATABASES = {
    "default": database_from_url(_database_url, base_dir=BASE_DIR)
    if _database_url
    else sqlite_database(VAR_DIR / "guichet.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "consortium.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_HTTPONLY = True
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

# Login throttling (consortium/throttle.py), failures counted over the last 15 minutes: 5 for one username
# from one address, 10 for one username from any address (distributed guessing), 20 from one address for
# any username (password spraying); then 429 and the lockout page. The address is REMOTE_ADDR, or behind
# TRUSTED_PROXIES (addresses or networks of the reverse proxies) the hop they appended to X-Forwarded-For:
# a forged forwarding header neither resets nor moves a count.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_USERNAME_FAILURE_LIMIT = env_int("AXES_USERNAME_FAILURE_LIMIT", 10)
AXES_ADDRESS_FAILURE_LIMIT = env_int("AXES_ADDRESS_FAILURE_LIMIT", 20)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username", "ip_address"]
AXES_HANDLER = "consortium.throttle.ThrottleHandler"
AXES_CLIENT_IP_CALLABLE = "consortium.throttle.client_address"
AXES_TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
AXES_RESET_ON_SUCCESS = True  # the pair's own count only
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "consortium" / "static"]
# Uploaded tender files are private: kept under var/, never served by URL.
MEDIA_ROOT = Path(env_str("GUICHET_MEDIA_ROOT", str(VAR_DIR / "uploads")))
MEDIA_URL = "/private-media-not-served/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Imports: refused above this size before anything is parsed.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 50 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Celery: an embedded file-system broker needing no server, unless CELERY_BROKER_URL is set.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        "data_folder_in": str(VAR_DIR / "broker" / "queue"),
        "data_folder_out": str(VAR_DIR / "broker" / "queue"),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        # A request that queues a job waits for the broker at most (1 + retries) x these timeouts, then keeps
        # the job queued with a clear stage for the sweeper (tests/faults/test_broker_down.py measures it).
        "socket_timeout": env_int("CELERY_BROKER_SOCKET_TIMEOUT", 2),
        "socket_connect_timeout": env_int("CELERY_BROKER_SOCKET_TIMEOUT", 2),
        # An unacknowledged message (its worker killed) is delivered again after this many seconds; the
        # sweeper below usually takes the job back sooner, and the claim makes the late copy harmless.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    }
)
# One quick retry: a connection dropped while idle is replaced at once; a dead broker costs one more timeout.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "processed", "control"):
        (VAR_DIR / "broker" / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# Periodic work, run by `celery worker --beat` (the embedded default included) or by cron calling
# `manage.py sweep_invitations`, `manage.py sweep_jobs` and `manage.py remind_commitments`.
CELERY_BEAT_SCHEDULE = {
    "sweep-invitations": {"task": "bids.tasks.sweep", "schedule": env_int("INVITATION_SWEEP_SECONDS", 300)},
    "sweep-jobs": {"task": "bids.tasks.sweep_jobs", "schedule": env_int("JOB_SWEEP_SECONDS", 60)},
    "remind-commitments": {
        "task": "pricing.tasks.remind_commitments",
        "schedule": env_int("COMMITMENT_REMINDER_SECONDS", 24 * 3600),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Background jobs (bids/services/jobs.py): a running job refreshes its heartbeat this often; one silent for
# JOB_STALL_SECONDS is taken as dead by the sweeper (`manage.py sweep_jobs`, or beat every JOB_SWEEP_SECONDS).
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 5)
JOB_STALL_SECONDS = env_int("JOB_STALL_SECONDS", 120)

# Invitations: days kept between the partners' answers and the tender deadline; a reminder this many
# hours before a deadline; the delay given to the next firm after a decline or expiry, and the least
# time worth inviting it.
INVITATION_SAFETY_MARGIN_DAYS = env_int("INVITATION_SAFETY_MARGIN_DAYS", 3)
INVITATION_REMINDER_HOURS = env_int("INVITATION_REMINDER_HOURS", 48)
INVITATION_FALLBACK_HOURS = env_int("INVITATION_FALLBACK_HOURS", 72)
INVITATION_MIN_RESPONSE_HOURS = env_int("INVITATION_MIN_RESPONSE_HOURS", 24)
GUICHET_BASE_URL = env_str("GUICHET_BASE_URL", "http://127.0.0.1:8000")

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "guichet@localhost")

# The API: same session login and CSRF as the pages, scoped by the same selectors.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Guichet API",
    "DESCRIPTION": "Firms, skills, work packages, match results and invitations, scoped to what the caller may see.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # "status" names three choice sets (match runs, assignments, invitations): name the one two components share.
    "ENUM_NAME_OVERRIDES": {
        "InvitationStatusEnum": "bids.models.InvitationStatus",
        "CommitmentStatusEnum": "pricing.commitment_rules.CommitmentStatus",
        "CommitmentKindEnum": "pricing.contribution_models.CommitmentKind",
        "ContributionSourceEnum": "pricing.contribution_models.PaymentSource",
        "SourceEnum": "bids.models.InvitationSource",  # its name before PaymentSource also named a "source"
    },
}

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # fontTools logs every font it subsets for WeasyPrint, and WeasyPrint each step of a layout, at INFO.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "weasyprint.progress": {"level": "WARNING"},
    },
}

# The group offer. The mandataire is the guichet itself; rates are percentages, applied per line.
GUICHET_LEGAL_NAME = env_str("GUICHET_LEGAL_NAME", "Guichet Open Source (démonstration)")
GUICHET_SIRET = env_str("GUICHET_SIRET", "")
GUICHET_ADDRESS = env_str("GUICHET_ADDRESS", "")
OFFER_FEE_RATE = env_str("OFFER_FEE_RATE", "8")
OFFER_LEVY_RATE = env_str("OFFER_LEVY_RATE", "2")
OFFER_VAT_RATE = env_str("OFFER_VAT_RATE", "20")
# The guichet's own bank account, debited by the payout files (pain.001). The default is the public
# example IBAN of the French banking federation's documentation: fine for the demo, refused by any bank.
GUICHET_IBAN = env_str("GUICHET_IBAN", "FR1420041010050500013M02606")
GUICHET_BIC = env_str("GUICHET_BIC", "")
