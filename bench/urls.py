from __future__ import annotations

from django.urls import include, path

from bench.baseline import baseline_view

urlpatterns = [
    path("bench/baseline", baseline_view),
    path("", include("gateway.urls")),
]
