from backend.accounts.models import Role
from backend.http import crud
from backend.http.api import Blueprint
from backend.stations.models import Station
from backend.stations.schemas import StationCreateSchema, StationFilterSchema, StationSchema, StationUpdateSchema
from backend.stations.service import apply_station_changes

blp = Blueprint("stations", __name__, url_prefix="/api/v1/stations", description="Service stations")

crud.register(blp, crud.Resource(
    model=Station, singular="station", plural="stations", schema=StationSchema,
    create_schema=StationCreateSchema, update_schema=StationUpdateSchema, filters=StationFilterSchema,
    read_roles=(), write_roles=(Role.ADMIN,), search_columns=("code", "name", "address"),
    create=lambda _session, data: apply_station_changes(Station(), data),
    update=lambda _session, station, data: apply_station_changes(station, data),
))
