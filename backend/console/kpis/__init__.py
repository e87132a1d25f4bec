"""Console: KPIs."""

from backend.console.kpis import views  # noqa: F401  (registers the routes)
