"""The URLconf of tests/test_drf.py: the DRF router beside the project's URLs."""

from __future__ import annotations

from django.urls import include, path

from notifications.contrib.rest_framework import router
from project.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("drf/", include(router.urls)), *project_urlpatterns]
