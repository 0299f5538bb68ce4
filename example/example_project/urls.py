"""No views: the example is driven by ``manage.py run_demo``."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
