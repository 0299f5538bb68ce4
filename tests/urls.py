from django.contrib import admin
from django.urls import include, path

from tests.testapp import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("jobs/", include("job_status.urls")),
    path("dispatch/", views.dispatch_add, name="dispatch-add"),
    path("widget/<str:task_id>/", views.widget_page, name="widget"),
    path("dispatch-rolled-back/", views.dispatch_then_roll_back, name="dispatch-rolled-back"),
]
