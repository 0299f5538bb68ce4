"""Track background jobs in the Django ORM.

The models live in :mod:`job_status.models` (import them once apps are ready);
what can be imported at any time is re-exported here.
"""

from job_status.statuses import Status
from job_status.tags import InvalidTag

__all__ = ["InvalidTag", "Status"]
__version__ = "0.1.0.dev0"
