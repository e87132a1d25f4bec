"""Console: jobs."""

from backend.console.jobs import views  # noqa: F401  (registers the routes)
