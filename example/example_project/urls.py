"""The admin at /admin/, job_status's dashboard at /jobs/ and its API at /jobs/api/.

``manage.py run_demo`` needs none of them; ``manage.py runserver`` shows them.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("jobs/", include("job_status.urls")),
]
