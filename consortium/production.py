"""Production profile: HTTPS only, secure cookies, a real secret. `DJANGO_SETTINGS_MODULE=consortium.production`."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_str
from .settings import *  # noqa: F403
from .settings import DEBUG

if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production")
SECRET_KEY = env_str("SECRET_KEY")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured("SECRET_KEY must be a random string of at least 50 characters in production")

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
