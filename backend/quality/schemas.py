import marshmallow as ma

from backend.http.fields import Id, Name, OneOf, Timestamp
from backend.quality.models import ResponsibleKind


class InvestigationInputSchema(ma.Schema):
    root_cause = Name(40, required=True, metadata={
        "description": "A root-cause code from GET /api/v1/root-causes (configured: ONSITE_ROOT_CAUSE_CODES)"})
    root_cause_text = Name(4000, required=True, metadata={"description": "The cause as the analysis found it"})
    countermeasure = Name(4000, required=True, metadata={"description": "The countermeasure set (处理对策)"})
    responsible_kind = OneOf(ResponsibleKind, required=True, metadata={
        "description": "Who is responsible: department (name it in responsible_department), supplier "
                       "(responsible_supplier), employee (responsible_user_id), customer or third_party"})
    responsible_department = Name(120, load_default=None, allow_none=True)
    responsible_supplier = Name(120, load_default=None, allow_none=True)
    responsible_user_id = Id(load_default=None, allow_none=True)
    reason = Name(4000, required=True, metadata={"description": "Why the responsibility lies there"})


class InvestigationSchema(InvestigationInputSchema):
    class Meta:
        dump_only = ("id", "service_request_id", "decided_by_id", "decided_at", "version", "created_at",
                     "updated_at")

    id = ma.fields.Integer()
    service_request_id = ma.fields.Integer()
    decided_by_id = ma.fields.Integer(allow_none=True, metadata={"description": "Who recorded this version"})
    decided_at = Timestamp()
    version = ma.fields.Integer()
    created_at = Timestamp()
    updated_at = Timestamp()


class RootCauseListSchema(ma.Schema):
    codes = ma.fields.List(ma.fields.String(), metadata={"description": "The codes an investigation chooses from"})
