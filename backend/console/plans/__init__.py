"""Console: dispatch plans."""

from backend.console.plans import views  # noqa: F401  (registers the routes)
