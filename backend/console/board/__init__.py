"""Console: board."""

from backend.console.board import views  # noqa: F401  (registers the routes)
