"""Console: the supervisor's pages (review queue, report review, requisitions and paid service to approve)."""

from backend.console.reviews import views  # noqa: F401  (registers the routes)
