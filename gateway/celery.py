from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

app = Celery("gateway")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # Acknowledge after the task ran, so a worker that dies mid-task leaves it on the queue.
    task_acks_late=True,
    # A task whose worker process was killed (OOM, SIGKILL) goes back to the queue, not to limbo.
    task_reject_on_worker_lost=True,
    # One message at a time per process: late acks with prefetching would hold tasks hostage.
    worker_prefetch_multiplier=1,
    # Redis redelivers unacked messages after this; it must exceed the longest task (time_limit).
    # A killed worker's work does not wait for it: claims expire and sweeps resume it sooner.
    # The timeouts keep a call to a broker that is down from holding a request for long: work that
    # could not be enqueued is found by its sweep.
    broker_transport_options={"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 10},
    task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5},
    # Tasks carry ids only, never personal data; JSON keeps them readable and safe to decode.
    task_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
    # Keep Django's LOGGING (and its filter that strips exception text, which may hold personal
    # data) in workers too, instead of Celery's own root handler.
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()
