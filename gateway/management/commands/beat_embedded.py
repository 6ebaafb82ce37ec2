"""The periodic tasks of the embedded default (`make run`): Celery beat's own scheduler, in this
process, on CELERY_BEAT_SCHEDULE, with the tasks run in place (Celery in eager mode, no broker).

Without it nothing periodic happens on `make run`: no access notice or digest e-mailed, no webhook
or e-mail retried, no consent expired. With Redis, run Celery's own beat and workers instead
(`celery -A gateway beat`, `celery -A gateway worker`: README, "Production").
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.beat import Scheduler
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gateway.celery import app

logger = logging.getLogger(__name__)

# The longest the loop sleeps: the shortest schedule is the sealer's second.
MAX_SLEEP_SECONDS = 1.0


class Command(BaseCommand):
    help = "Runs the periodic tasks in this process, for the embedded default (Celery in eager mode)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="run every scheduled task once, now, and exit (each in its own try)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError("A broker is configured (REDIS_URL): run `celery -A gateway beat` and workers instead.")
        if options["once"]:
            self._run_once()
            return
        # Beat and Celery log every task sent and run: once a second for the sealer, too much beside
        # the server's log. Failures still show.
        for name in ("celery.beat", "celery.app.trace"):
            logging.getLogger(name).setLevel(logging.WARNING)
        scheduler = Scheduler(app, lazy=False)
        self.stdout.write(f"Periodic tasks: {len(scheduler.schedule)} on the embedded default's schedule.")
        try:
            while True:
                time.sleep(min(max(scheduler.tick(), 0.05), MAX_SLEEP_SECONDS))
        except KeyboardInterrupt:
            return

    def _run_once(self) -> None:
        failed = []
        for name, entry in sorted(settings.CELERY_BEAT_SCHEDULE.items()):
            try:
                app.tasks[entry["task"]].apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {})).get()
            except Exception as exc:  # noqa: BLE001 - one task's failure must not hide the others'
                logger.warning("Periodic task %s failed: %s", name, type(exc).__name__)
                failed.append(name)
        if failed:
            raise CommandError(f"These periodic tasks failed: {', '.join(failed)}.")
        self.stdout.write(f"Ran the {len(settings.CELERY_BEAT_SCHEDULE)} periodic tasks once.")
