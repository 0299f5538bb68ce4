"""The dashboard: one page that lists jobs live through the JSON API.

Who sees what is the API's business (``job_status.access``); the page itself
only asks for a signed-in user, unless public jobs are open to anonymous users.
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from job_status.conf import app_settings
from job_status.statuses import Status


@ensure_csrf_cookie
def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated and not app_settings.ANONYMOUS_SEES_PUBLIC:
        return redirect_to_login(request.get_full_path())
    return render(
        request,
        "job_status/dashboard.html",
        {"statuses": Status.choices, "interval_ms": int(app_settings.POLL_INTERVAL * 1000)},
    )
