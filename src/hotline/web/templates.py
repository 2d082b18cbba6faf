"""Standard crisis message templates, rendered in every language of the console.

A template's text is an English gettext message with ``{field}`` placeholders; its Japanese
and Korean renderings come from the console's catalogs. The console fills the fields once and
sends the message with ``template`` set to the template's id and a body that holds every
rendering, one line per language (``[en] ...``, ``[ja] ...``, ``[ko] ...``): that body, as sent,
is the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hotline.web.i18n import LANGUAGES, N_, translate


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    #: What the console fills in when the official leaves the field alone.
    default: str = ""


@dataclass(frozen=True, slots=True)
class Template:
    id: str
    name: str
    text: str
    precedence: str
    classification: str = "unclassified"
    fields: tuple[Field, ...] = ()


_UTC_NOW = "{utc_now}"  # the console replaces it with the current time, UTC, at compose time

TEMPLATES: tuple[Template, ...] = (
    Template(
        id="launch_detected",
        name=N_("Launch detected"),
        text=N_(
            "LAUNCH DETECTED: {count} ballistic missile(s) launched from {origin} at {time} UTC; "
            "predicted impact area: {area}. Acknowledge immediately."
        ),
        precedence="flash",
        classification="secret",
        fields=(
            Field("count", N_("Number of missiles"), "1"),
            Field("origin", N_("Launch area")),
            Field("time", N_("Launch time (UTC)"), _UTC_NOW),
            Field("area", N_("Predicted impact area")),
        ),
    ),
    Template(
        id="consultation_requested",
        name=N_("Consultation requested"),
        text=N_(
            "CONSULTATION REQUESTED under the Commitment to Consult: {subject}. We request that "
            "the parties convene without delay."
        ),
        precedence="immediate",
        classification="confidential",
        fields=(Field("subject", N_("Subject")),),
    ),
    Template(
        id="acknowledge_receipt",
        name=N_("Acknowledge receipt"),
        text=N_(
            "RECEIPT ACKNOWLEDGED: your message {ref} has been received and is being acted on."
        ),
        precedence="priority",
        fields=(Field("ref", N_("Message reference")),),
    ),
    Template(
        id="link_test",
        name=N_("Link test"),
        text=N_("LINK TEST at {time} UTC. Please acknowledge. No action is required."),
        precedence="routine",
        fields=(Field("time", N_("Time (UTC)"), _UTC_NOW),),
    ),
)


def template(template_id: str) -> Template | None:
    return next((t for t in TEMPLATES if t.id == template_id), None)


def _all(message: str) -> dict[str, str]:
    return {lang: translate(lang, message) for lang in LANGUAGES}


def templates_view() -> list[dict[str, Any]]:
    """Every template with its name, field labels and text in every console language."""
    return [
        {
            "id": t.id,
            "name": _all(t.name),
            "text": _all(t.text),
            "precedence": t.precedence,
            "classification": t.classification,
            "fields": [
                {"name": f.name, "label": _all(f.label), "default": f.default} for f in t.fields
            ],
        }
        for t in TEMPLATES
    ]


def render(template_id: str, values: dict[str, str]) -> str:
    """The body the console sends for ``template_id`` (same rule as ``static/js/templates.js``)."""
    t = template(template_id)
    if t is None:
        raise KeyError(template_id)
    return "\n".join(f"[{lang}] {translate(lang, t.text).format_map(values)}" for lang in LANGUAGES)
