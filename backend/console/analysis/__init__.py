"""Console: failure analysis."""

from backend.console.analysis import views  # noqa: F401  (registers the routes)
