"""Measures shown to agents: a duration in milliseconds reads "< 1" when it rounds to nothing (an
in-process provider answers in microseconds), and "—" when there is none."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def milliseconds(value: Any) -> str:
    if value is None or value == "":
        return "—"
    number = float(value)
    return "< 1" if number < 1 else str(round(number))
