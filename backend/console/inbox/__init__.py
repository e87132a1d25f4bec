"""Console: inbox."""

from backend.console.inbox import views  # noqa: F401  (registers the routes)
