"""Schema export: JSON Schema files for producers and consumers of every topic."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from schemas.alerts import Alert
from schemas.codec import encode_obj
from schemas.events import EnrichedEvent
from schemas.rejection import DeadLetter
from schemas.reports import InterceptionReport, VesselReport
from schemas.transitions import Transition

EXPORTED: dict[str, type[BaseModel]] = {
    "interception_report": InterceptionReport,
    "vessel_report": VesselReport,
    "enriched_event": EnrichedEvent,
    "dead_letter": DeadLetter,
    "alert": Alert,
    "transition": Transition,
}


def export_json_schemas(directory: Path) -> list[Path]:
    """Write one `<name>.schema.json` per wire model into `directory`; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in EXPORTED.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        path = directory / f"{name}.schema.json"
        path.write_bytes(encode_obj(schema))
        written.append(path)
    return written
