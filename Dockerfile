# Production image: gunicorn serving the gateway, WhiteNoise serving collected static files.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /app --shell /usr/sbin/nologin gateway

WORKDIR /app
COPY requirements.txt ./
RUN pip install --require-hashes -r requirements.txt

COPY --chown=gateway:gateway . .
# collectstatic needs settings to import; these build-time values never reach a running container.
RUN DEBUG=0 SECRET_KEY=collectstatic-only AUDIT_HMAC_KEY=collectstatic-only \
    python manage.py collectstatic --no-input --verbosity 0 \
 && mkdir -p /app/var && chown gateway:gateway /app/var

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]

# gunicorn.conf.py holds the settings (workers from WEB_CONCURRENCY, limits, logs).
CMD ["gunicorn", "gateway.wsgi:application"]
