"""From an HTTP request to CloudEvent attributes: the four ways a command may arrive.

1. The hosted service's dialect: a JSON object with camelCase names (``dataSchema``,
   ``dataContentType``) and no ``specversion``, sent as ``application/json``.
2. CloudEvents structured mode: ``application/cloudevents+json``, lowercase attribute names,
   ``specversion`` "1.0". (An ``application/json`` object carrying ``specversion`` is read the
   same way.)
3. CloudEvents binary mode: ``ce-*`` headers carry the attributes, the body is ``data``.
4. CloudEvents batch mode: ``application/cloudevents-batch+json``, a JSON array of events.

This module only reads shapes; which command and which schema is ``intake``'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote

import orjson

from baas.core.problems import FieldError, Problem, bad_request
from baas.core.surrogates import lone_surrogates_in_json

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
SUPPORTED_MEDIA_TYPES = ("application/json", STRUCTURED, BATCH, "binary mode (ce-* headers)")

MAX_ID_LENGTH = 256
MAX_SOURCE_LENGTH = 1024
MAX_TYPE_LENGTH = 128
LENGTH_LIMITS = (("id", MAX_ID_LENGTH), ("source", MAX_SOURCE_LENGTH), ("type", MAX_TYPE_LENGTH))
_EXTENSION_NAME = re.compile(r"[a-z0-9]{1,20}")
_CORE_ATTRIBUTES = frozenset(
    ("id", "source", "type", "specversion", "time", "dataschema", "datacontenttype", "subject")
)
# The dialect's names, matched without regard to case: dataSchema, dataContentType, ...
_DIALECT_NAMES = {name.lower(): name for name in _CORE_ATTRIBUTES}


class Submission(NamedTuple):
    """One event as the client sent it: attributes under their CloudEvents names, and data."""

    attributes: dict[str, Any]
    data: Any
    has_data: bool
    # How the client spelt each attribute, so error paths use the client's names.
    spelling: dict[str, str]
    # Error-path prefix: "" for a single event, "[3]" for the fourth event of a batch.
    position: str = ""

    def path(self, attribute: str) -> str:
        name = self.spelling.get(attribute, attribute)
        return FieldError(name, "").under(self.position).path


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_media_type(mt: str) -> bool:
    return mt == "application/json" or mt.endswith("+json")


def parse_request(
    content_type: str | None, headers: Mapping[str, str], body: bytes
) -> list[Submission]:
    """Read the request into one Submission per event, or raise a 400/415 Problem.

    ``headers`` must have lowercase names.
    """
    mt = media_type(content_type)
    if "ce-specversion" in headers or "ce-id" in headers:
        return [_from_binary(mt, headers, body)]
    if mt == BATCH:
        document = _load_json(body)
        if not isinstance(document, list):
            raise bad_request(
                "A batch must be a JSON array of events.", FieldError("", "expected an array")
            )
        if not document:
            raise bad_request(
                "A batch must hold at least one event.", FieldError("", "empty array")
            )
        return [
            _from_object(item, structured=True, position=f"[{i}]")
            for i, item in enumerate(document)
        ]
    if mt == STRUCTURED:
        return [_from_object(_load_json(body), structured=True)]
    if is_json_media_type(mt):
        document = _load_json(body)
        structured = isinstance(document, dict) and "specversion" in document
        return [_from_object(document, structured=structured)]
    shown = mt or "none"
    raise Problem(
        415,
        f"Unsupported Content-Type: {shown}. Send application/json, {STRUCTURED}, {BATCH}, "
        "or CloudEvents binary mode (ce-* headers with a JSON body).",
    )


def _load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if not body.strip():
            raise bad_request(
                "The request body is empty.", FieldError("", "expected a JSON document")
            ) from None
        errors = lone_surrogates_in_json(body) or [FieldError("", str(exc))]
        raise bad_request("The request body is not valid JSON.", *errors) from None


def _from_object(document: Any, *, structured: bool, position: str = "") -> Submission:
    if not isinstance(document, dict):
        raise bad_request(
            "An event must be a JSON object.", FieldError(position, "expected an object")
        )
    attributes: dict[str, Any] = {}
    spelling: dict[str, str] = {}
    errors: list[FieldError] = []
    for name, value in document.items():
        if name in ("data", "data_base64"):
            continue
        canonical = name if structured else _DIALECT_NAMES.get(name.lower(), name)
        if canonical not in _CORE_ATTRIBUTES and not _EXTENSION_NAME.fullmatch(canonical):
            hint = _DIALECT_NAMES.get(name.lower())
            message = (
                "unknown attribute; CloudEvents attribute names are lowercase "
                f"(did you mean {hint!r}?)"
                if hint
                else "unknown attribute; extension names are 1-20 lowercase letters or digits"
            )
            errors.append(FieldError(name, message).under(position))
            continue
        attributes[canonical] = value
        spelling[canonical] = name
    if "data_base64" in document:
        raise Problem(
            415,
            "Binary event data (data_base64) is not supported; commands carry JSON data.",
            [FieldError("data_base64", "not supported").under(position)],
        )
    if errors:
        raise bad_request("The event envelope has unknown attributes.", *errors)
    submission = Submission(
        attributes, document.get("data"), "data" in document, spelling, position
    )
    _check_attributes(submission, require_specversion=structured)
    return submission


def _from_binary(mt: str, headers: Mapping[str, str], body: bytes) -> Submission:
    if not is_json_media_type(mt):
        raise Problem(
            415,
            f"Unsupported Content-Type for binary mode: {mt or 'none'}. The body is the event's "
            "data and must be JSON (application/json).",
        )
    attributes: dict[str, Any] = {"datacontenttype": mt}
    spelling = {name: f"ce-{name}" for name in _CORE_ATTRIBUTES} | {
        "datacontenttype": "Content-Type"
    }
    for name, value in headers.items():
        if name.startswith("ce-") and len(name) > 3:
            attribute = name[3:]
            reserved = attribute in ("data", "data_base64")
            if reserved or (
                attribute not in _CORE_ATTRIBUTES and not _EXTENSION_NAME.fullmatch(attribute)
            ):
                raise bad_request(
                    "A ce-* header names an invalid attribute.",
                    FieldError(
                        name,
                        "the body is the data"
                        if reserved
                        else "extension names are 1-20 lowercase letters or digits",
                    ),
                )
            attributes[attribute] = unquote(value)
            spelling[attribute] = name
    submission = Submission(attributes, _load_json(body), True, spelling)
    _check_attributes(submission, require_specversion=True)
    return submission


def _check_attributes(s: Submission, *, require_specversion: bool) -> None:
    errors: list[FieldError] = []
    a = s.attributes
    for name, limit in LENGTH_LIMITS:
        value = a.get(name)
        if value is None:
            errors.append(FieldError(s.path(name), "required"))
        elif not isinstance(value, str) or not value.strip():
            errors.append(FieldError(s.path(name), "must be a non-empty string"))
        elif len(value) > limit:
            errors.append(FieldError(s.path(name), f"must be at most {limit} characters"))
    if ("specversion" in a or require_specversion) and a.get("specversion") != "1.0":
        errors.append(FieldError(s.path("specversion"), 'must be "1.0"'))
    for name in ("time", "dataschema", "datacontenttype", "subject"):
        if name in a and (not isinstance(a[name], str) or not a[name]):
            errors.append(FieldError(s.path(name), "must be a non-empty string"))
    for name, value in a.items():
        if name not in _CORE_ATTRIBUTES and not isinstance(value, str | int | bool):
            errors.append(
                FieldError(s.path(name), "an extension value must be a string, integer or boolean")
            )
    if not s.has_data:
        errors.append(FieldError(s.path("data"), "required: the command's payload"))
    if errors:
        raise bad_request("The CloudEvent envelope is malformed.", *errors)
    content_type = a.get("datacontenttype")
    if content_type is not None and not is_json_media_type(media_type(content_type)):
        raise Problem(
            415,
            f"Unsupported dataContentType: {content_type}. Command data must be application/json.",
            [FieldError(s.path("datacontenttype"), "must be application/json")],
        )
