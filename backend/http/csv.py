"""Reports as CSV: the same rows as the JSON answer, for a client that asks for `Accept: text/csv`."""

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask import Response, request

CSV = "text/csv"
# Documents the CSV alternative of a report's 200 answer (blp.endpoint(doc=...)).
CSV_DOC = {"responses": {200: {"content": {CSV: {"schema": {"type": "string"}}}}}}
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection: a model, supplier or customer's
# text such as =HYPERLINK(...)); a leading quote keeps it text. Numbers, negative amounts included, stay numbers.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def wants_csv() -> bool:
    return request.accept_mimetypes.best_match(["application/json", CSV]) == CSV


def csv_response(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows({name: _as_text(value) for name, value in row.items()} for row in rows)
    return Response(out.getvalue(), mimetype=CSV, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _as_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value
