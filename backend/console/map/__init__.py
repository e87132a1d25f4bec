"""Console: the map of stations, open requests and technicians, embedded by the board and the request page.

A page embeds it with `{% include "console/map/_map.html" %}`; on a request's page, after
`{% set map_focus_request_id = sr.id %}` (the parameters are listed in that template). The data comes from
views.map_data as JSON; static/map/map.js draws it with the vendored Leaflet over the offline Natural Earth
outlines in static/map/."""

from backend.console.map import views  # noqa: F401  (registers the routes)
from backend.console.map.views import map_data_url_for, tile_origin

__all__ = ["map_data_url_for", "tile_origin"]
