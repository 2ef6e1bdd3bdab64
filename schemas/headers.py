"""NATS header names that are part of the public contract.

A publisher of plain text carries its metadata in these headers; a JSON publisher may use them
too, and a field in the JSON body wins over the header of the same meaning.
"""

from __future__ import annotations

#: NATS' own de-duplication id. Ingest scopes it by source to form the report identity.
MSG_ID = "Nats-Msg-Id"
#: ``application/json`` or ``text/plain`` (``; charset=utf-8`` accepted). Wins over sniffing.
CONTENT_TYPE = "Content-Type"
#: FLASH, IMMEDIATE, PRIORITY or ROUTINE (also the single letters Z, O, P, R). Default ROUTINE.
PRECEDENCE = "Vigie-Precedence"
#: ISO 639-1 code of the text's language, when the publisher knows it (skips detection).
LANGUAGE = "Vigie-Language"
#: When the reported facts were observed: ISO-8601 with offset, or a DTG such as 251430ZNOV26.
OBSERVED_AT = "Vigie-Observed-At"
#: Who wrote the report (unit, callsign or sensor operator).
ORIGINATOR = "Vigie-Originator"
#: The report's id when ``Nats-Msg-Id`` cannot carry it (``vigie dlq requeue`` sets it so a
#: corrected report keeps its identity while the server's duplicate window still holds the id).
REPORT_ID = "Vigie-Report-Id"
#: ``<stream>:<seq>`` of the input a requeued dead letter came from (set by
#: ``vigie dlq requeue``): ingest lets it take over that input's identity.
REQUEUE_OF = "Vigie-Requeue-Of"
#: W3C trace context, propagated on every hop.
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

#: Headers a publisher may set, with one line each for the documentation and AsyncAPI.
PUBLISHER_HEADERS: dict[str, str] = {
    MSG_ID: "Publisher's id of the report; a repeat within 24 h is dropped, the same id with "
    "other bytes is dead-lettered as id_conflict.",
    CONTENT_TYPE: "application/json or text/plain; without it a body whose first non-blank "
    "character is '{' is JSON, anything else text.",
    PRECEDENCE: "FLASH, IMMEDIATE, PRIORITY or ROUTINE (or Z, O, P, R); default ROUTINE.",
    LANGUAGE: "ISO 639-1 language of the text; when absent the language is detected.",
    OBSERVED_AT: "Observation time: ISO-8601 with offset or a DTG (251430ZNOV26).",
    ORIGINATOR: "Originating unit, callsign or operator.",
    REPORT_ID: "Report id that wins over Nats-Msg-Id for identity (set by `vigie dlq requeue`).",
    REQUEUE_OF: "stream:seq of the input a requeued dead letter came from (set by requeue).",
    TRACEPARENT: "W3C trace context; a report without one starts a new trace at ingest.",
}

PRECEDENCE_LETTERS = {"Z": "FLASH", "O": "IMMEDIATE", "P": "PRIORITY", "R": "ROUTINE"}


def lookup(headers: dict[str, str], name: str) -> str | None:
    """Header value by name, tolerant of case (HTTP-minded publishers send ``content-type``)."""
    if name in headers:
        return headers[name]
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)
