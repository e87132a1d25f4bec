"""Console: requests."""

from backend.console.requests import views  # noqa: F401  (registers the routes)
