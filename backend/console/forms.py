"""Console forms: HTML form input loaded with the API's own marshmallow schemas, written through the API's own
service functions, refusals shown beside the field they name.

In a view:

    form = ConsoleForm("reply", request.form, fields=("content", "channel", "agreed_on_site_at"))
    if form.submit(lambda: service.record_reply(db(), sr, actor_id=g.user.id, now=now(),
                                                **form.load(ReplySchema(), zone=station_zone))):
        flash(_("Reply recorded")); return redirect(...)
    return render_page(..., status=form.status, forms={"reply": form})

and in the template `{% from "console/_forms.html" import field, form_message %}`, then
`{{ field(form, "content", _("What the customer was told"), kind="textarea") }}`.

`load` turns form text into what the JSON API receives (numbers, booleans, lists, ISO times with the station's
offset) and lets the schema judge it; `submit` runs the action in the request's one transaction: commit on
success, roll back on any refusal so nothing is written, and remember the messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import marshmallow as ma
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict

from backend.console.i18n import lazy_gettext as _l
from backend.errors import DomainError
from backend.http.api import _unstorable_field
from backend.http.context import db

T = TypeVar("T")

# marshmallow's and the shared fields' fixed messages, in the page's language. Messages a service words around
# the case at hand are shown as the service wrote them.
_KNOWN_MESSAGES = {
    "Missing data for required field.": _l("This field is required."),
    "must not be blank": _l("This field must not be blank."),
    "Not a valid integer.": _l("Enter a whole number."),
    "Not a valid number.": _l("Enter a number."),
    "Not a valid datetime.": _l("Enter a date and time."),
    "Not a valid string.": _l("Enter text."),
    "Field may not be null.": _l("This field is required."),
    "Must be greater than or equal to 1.": _l("Choose a value."),
    "must be after the reply": _l("The agreed on-site time must be after the reply."),
    "must be one of the crew": _l("The lead must be one of the crew you picked."),
    "a crew of two or more needs exactly one lead (DSP-7)": _l("A crew of two or more needs a lead (DSP-7): pick one."),
    "Shorter than minimum length 1.": _l("Pick at least one."),
    "Length must be between 1 and 10.": _l("Pick at least one."),
    "must be after `from`": _l("The last month must not be before the first."),
}
_FUTURE = re.compile(r"^must not be in the future")
# Refusals whose wording carries the values of the case (a range's limits, an id).
_PATTERNS = (
    (re.compile(r"^Must be greater than or equal to (?P<low>\S+) and less than or equal to (?P<high>\S+)\.$"),
     _l("Enter a number from %(low)s to %(high)s.")),
    (re.compile(r"^no customer with id \d+$"), _l("There is no such customer: pick one from the list.")),
    (re.compile(r"^no unit with id \d+$"), _l("There is no such unit: pick one from the list.")),
    (re.compile(r"^unit \d+ belongs to another customer$"),
     _l("This unit belongs to another customer: pick one of the chosen customer's units.")),
    # The investigation (INV-2): who is named depends on the kind of responsible party.
    (re.compile(r"^required when responsible_kind is \w+$"), _l("Name them: the responsible party chosen needs it.")),
    (re.compile(r"^only when responsible_kind is \w+, not \w+$"),
     _l("Leave this empty: it is for another kind of responsible party.")),
    (re.compile(r"^must be between .+ once converted to UTC$"),
     _l("Choose a time within the years the system keeps (after the year 1, before 9999).")),
)
_STALE_MESSAGE = _l("Someone else changed this since you opened the page. Nothing was saved: reload the page to "
                    "see the current state, then try again.")


def translate_message(text: str) -> Any:
    if text in _KNOWN_MESSAGES:
        return _KNOWN_MESSAGES[text]
    if _FUTURE.match(text):
        return _l("This time must not be in the future.")
    if text.lower().startswith("must be one of:"):  # marshmallow's, and a service's list of codes
        return _l("Choose one of the offered values.")
    for pattern, message in _PATTERNS:
        found = pattern.match(text)
        if found:
            return message % found.groupdict()
    return text


class ConsoleForm:
    """One HTML form's submitted values and the refusals to show beside its fields."""

    def __init__(self, name: str, values: Mapping[str, Any] | None = None, *, fields: Iterable[str] = ()) -> None:
        self.name = name
        self.values = MultiDict(values or {})
        self.fields = frozenset(fields)
        self.errors: dict[str, list[Any]] = {}
        self.message: Any = None  # a refusal that names no field of this form
        self.status = 200

    @property
    def failed(self) -> bool:
        return bool(self.errors) or self.message is not None

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def values_of(self, name: str) -> list[str]:
        return self.values.getlist(name)

    def error(self, name: str) -> list[Any]:
        return self.errors.get(name, [])

    def add_error(self, name: str | None, text: Any, status: int = 422) -> None:
        self.status = status
        if name is not None and (name in self.fields or not self.fields):
            self.errors.setdefault(name, []).append(text)
        else:
            self.message = text if self.message is None else f"{self.message} {text}"

    def load(self, schema: ma.Schema, *, zone: ZoneInfo | None = None) -> dict[str, Any]:
        """The form as the JSON API would receive it, loaded by the API's schema (which raises on bad input)."""
        payload: dict[str, Any] = {}
        for name, field in schema.load_fields.items():
            key = field.data_key or name
            if isinstance(field, ma.fields.List):
                raw = [v for v in self.values.getlist(key) if v.strip()]
                if raw or key in self.values:
                    payload[key] = [_typed(field.inner, v, zone) for v in raw]
                continue
            if isinstance(field, ma.fields.Boolean):
                if key in self.values:
                    payload[key] = self.values.get(key) in ("on", "true", "1", "yes")
                continue
            raw = self.values.get(key)
            if raw is None or raw.strip() == "":
                continue
            payload[key] = _typed(field, raw, zone)
        found = _unstorable_field(payload)
        if found is not None:
            # What the API's parser refuses before its schema sees it (a NUL): no database keeps it as text.
            raise ma.ValidationError({found[0]: [found[1]]})
        return schema.load(payload)

    def submit(self, action: Callable[[], T]) -> T | None:
        """Runs `action` as the request's transaction; a refusal rolls everything back and is kept for display."""
        session = db()
        try:
            result = action()
            session.commit()
            return result
        except ma.ValidationError as refusal:
            session.rollback()
            self._add_messages(refusal.messages)
        except DomainError as refusal:
            session.rollback()
            if refusal.status in (412, 428):
                self.add_error(None, _STALE_MESSAGE, 412)
            else:
                self.add_error(refusal.field, translate_message(refusal.detail), refusal.status)
        except StaleDataError:
            session.rollback()
            self.add_error(None, _STALE_MESSAGE, 412)
        except IntegrityError:
            session.rollback()
            self.add_error(None, _l("This conflicts with a change made meanwhile (for example the request was "
                                    "dispatched by someone else). Reload the page."), 409)
        except BaseException:
            session.rollback()
            raise
        return None

    def check_version(self, current: int) -> None:
        """Optimistic locking for forms that update: the page carried the version it was rendered with."""
        from backend.http.api import check_if_match, etag_of
        supplied = self.value("version")
        check_if_match(etag_of(int(supplied)) if supplied.isdigit() else None, current)

    def _add_messages(self, messages: Any, prefix: str = "") -> None:
        if isinstance(messages, dict):
            for key, inner in messages.items():
                name = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix and not isinstance(key, int)
                                                        else prefix or str(key))
                self._add_messages(inner, name)
            return
        for text in messages if isinstance(messages, list) else [messages]:
            if isinstance(text, (dict, list)):
                self._add_messages(text, prefix)
            else:
                self.add_error(prefix or None, translate_message(str(text)))


def _typed(field: ma.fields.Field, raw: str, zone: ZoneInfo | None) -> Any:
    """Form text as the JSON type the field expects; text that does not convert is left for the schema to refuse."""
    raw = raw.strip()
    if isinstance(field, ma.fields.Integer):
        return int(raw) if re.fullmatch(r"-?\d{1,12}", raw) else raw
    if isinstance(field, ma.fields.Float):
        try:
            return float(raw)
        except ValueError:
            return raw
    if isinstance(field, ma.fields.DateTime) and zone is not None:
        # <input type="datetime-local"> sends the wall-clock time with no zone: it is the station's.
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return raw
        return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).isoformat()
    return raw


def datetime_local_value(moment: datetime | None, zone: ZoneInfo) -> str:
    """The value for an <input type="datetime-local"> showing `moment` on the station's wall clock."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""
