"""The models: a job's record and what hangs off it."""

from job_status.models.job import JobStatus
from job_status.models.related import JobMessage, JobSignal, JobTag, JobTransition

__all__ = ["JobMessage", "JobSignal", "JobStatus", "JobTag", "JobTransition"]
