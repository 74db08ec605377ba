"""Columns of an audit row and the conversions between their forms.

A row exists as a database tuple (JSON columns as canonical text), as a
*record* (a dict with ``stage_trace`` and ``detail`` parsed, also the form
inside export bundles) and as an :class:`~aether_qt.policy.contracts.AuditRow`.
The canonical bytes hashed into the chain are built from a record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring  # the string encoder canonical JSON uses (C-accelerated)
from typing import Any

from aether_qt.policy.canonical import canonical_json
from aether_qt.policy.contracts import AuditRow

COLUMNS = (
    "seq", "audit_id", "ts_wall_ms", "ts_mono_ns", "actor", "capability", "resource", "decision",
    "reason", "change_id", "turn_id", "stage_trace", "detail", "key_id",
    "prev_hash", "event_hash", "record_hmac", "signature",
)  # fmt: skip
SEAL_COLUMNS = ("prev_hash", "event_hash", "record_hmac", "signature")
CONTENT_COLUMNS = tuple(c for c in COLUMNS if c not in SEAL_COLUMNS)
CHECKPOINT_COLUMNS = ("ckpt_no", "seq", "head_hash", "ts_wall_ms", "key_id", "kind", "signature")


def content_bytes(record: Mapping[str, Any]) -> bytes:
    """Canonical bytes of a row: every column except the seal columns.

    ``stage_trace`` and ``detail`` are embedded as JSON values (not strings).
    """
    return canonical_json({name: record[name] for name in CONTENT_COLUMNS})


def content_bytes_from_db(values: Sequence[Any]) -> bytes:
    """The same bytes as :func:`content_bytes`, assembled from a row tuple in :data:`COLUMNS` order.

    ``stage_trace`` and ``detail`` are taken as the stored JSON text, verbatim:
    a stored text that is not the canonical one (re-spaced, re-ordered) gives
    other bytes, hence another hash, so it is seen as the edit it is without
    parsing any JSON. This is the verifier's fast path (and the writer's).

    Raises:
        ValueError: a column has the wrong type (an int where text belongs, ...).
    """
    seq, audit_id, wall, mono, actor, cap, resource, decision, reason, change, turn, trace, detail, key_id = (
        values[:14]
    )
    if type(seq) is not int or type(wall) is not int or type(mono) is not int:
        raise ValueError("an integer column holds something else")
    if type(trace) is not str or type(detail) is not str:  # embedded verbatim; the others are encoded
        raise ValueError("a JSON column holds something else")
    enc = encode_basestring
    try:
        return (
            f'{{"actor":{enc(actor)},"audit_id":{enc(audit_id)},"capability":{enc(cap)},'
            f'"change_id":{enc(change)},"decision":{enc(decision)},"detail":{detail},"key_id":{enc(key_id)},'
            f'"reason":{enc(reason)},"resource":{enc(resource)},"seq":{seq},"stage_trace":{trace},'
            f'"ts_mono_ns":{mono},"ts_wall_ms":{wall},"turn_id":{enc(turn)}}}'
        ).encode()
    except TypeError as exc:  # encode_basestring refuses anything but str
        raise ValueError("a text column holds something else") from exc


def record_from_db(values: tuple[Any, ...], *, strict: bool = False) -> dict[str, Any]:
    """A row tuple in :data:`COLUMNS` order as a dict with JSON columns parsed.

    Args:
        values: the columns, in :data:`COLUMNS` order.
        strict: also require the JSON text to be canonical (the verifier's
            view: a re-spaced but equivalent text is still an edit).

    Raises:
        ValueError: ``stage_trace`` or ``detail`` is not (canonical) JSON.
    """
    record = dict(zip(COLUMNS, values, strict=True))
    for name in ("stage_trace", "detail"):
        text = record[name]
        record[name] = json.loads(text)
        if strict and canonical_json(record[name]).decode("utf-8") != text:
            raise ValueError(f"{name} is not canonical JSON")
    return record


def row_from_record(record: Mapping[str, Any]) -> AuditRow:
    """Build an :class:`AuditRow` from a parsed record."""
    values = dict(record)
    values["stage_trace"] = tuple(values["stage_trace"])
    return AuditRow(**values)


def record_from_row(row: AuditRow) -> dict[str, Any]:
    """A JSON-ready dict of ``row`` (for bundles)."""
    record = {name: getattr(row, name) for name in COLUMNS}
    record["stage_trace"] = list(row.stage_trace)
    return record


__all__ = [
    "CHECKPOINT_COLUMNS",
    "COLUMNS",
    "CONTENT_COLUMNS",
    "SEAL_COLUMNS",
    "content_bytes",
    "content_bytes_from_db",
    "record_from_db",
    "record_from_row",
    "row_from_record",
]
