"""Console: the agent's intake form (INT-1..3), registering a request through the API's own schema and service, and
the customer and unit search behind its pickers."""

from backend.console.intake import views  # noqa: F401  (registers the routes)
