"""Console: service costs."""

from backend.console.costs import views  # noqa: F401  (registers the routes)
