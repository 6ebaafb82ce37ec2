"""gunicorn's settings for the gateway's web processes (gunicorn reads ./gunicorn.conf.py).

Its request limits are set looser than the gateway's own (REQUEST_MAX_URL_LENGTH 4096,
REQUEST_MAX_HEADERS 100, REQUEST_MAX_HEADER_BYTES 8190 in gateway/settings.py), so that Django
answers a long address or large headers in problem+json (414, 431). Only a request past these
limits gets gunicorn's own answer, a short HTML page (414 for a request line too long, 431 for too
many headers or one too long, 400 for a malformed request): see docs/operations.md, "Limits and
errors".
"""

from __future__ import annotations

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Two workers per core is gunicorn's usual starting point; WEB_CONCURRENCY overrides it.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# A worker serving one request this long is killed and replaced (a hung provider call is bounded
# far sooner by the adapters' own timeouts).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
max_requests = 10000
max_requests_jitter = 1000
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# The largest values gunicorn allows for the request line and a header field.
limit_request_line = 8190
limit_request_fields = 200
limit_request_field_size = 16380
