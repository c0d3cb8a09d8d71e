"""A Django app behind certgate: certgate terminates mTLS and sends the verified identity in
X-SSL-Client-* headers; the app listens on 127.0.0.1 only, so nothing else can send them."""
import os

import django

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "development only, set DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
ROOT_URLCONF = "mtlsdemo.urls"
WSGI_APPLICATION = "mtlsdemo.wsgi.application"
INSTALLED_APPS = []
DATABASES = {}
USE_TZ = True

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "mtlsdemo.middleware.CertgateIdentityMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# certgate talks TLS to the browser and plain HTTP to us; it always sets X-Forwarded-Proto
# (replacing any client value), so Django may believe it and treat requests as HTTPS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_SAMESITE = "Strict"

# The public origin(s) browsers use, e.g. "https://app.example.com". Django 3.2 (Debian 12)
# wants host names only, Django 4+ full origins.
_origins = os.environ.get("CSRF_TRUSTED_ORIGINS", "https://localhost:8443").split(",")
if django.VERSION < (4, 0):
    _origins = [o.split("://", 1)[-1] for o in _origins]
CSRF_TRUSTED_ORIGINS = _origins

# Addresses certgate connects from: loopback in a sidecar pod (shared network namespace).
CERTGATE_PROXY_ADDRESSES = os.environ.get("CERTGATE_PROXY_ADDRESSES", "127.0.0.1,::1").split(",")

LOGGING = {
    "version": 1,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
