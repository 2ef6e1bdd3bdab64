"""domain: the deterministic readers of military text, held once for every task.

DTGs (``dtg``), MGRS references (``mgrs_ref``), lat/long pairs (``latlon``) and the three
together (``patterns``); unit and equipment designations (``designations``); radio frequencies
and callsigns (``comms``); acronyms (``acronyms``); numbers (``quantities``); language codes
and names (``languages``); and the one rule for overlapping spans (``spans``).

Every module is pure: it imports only the standard library, ``mgrs`` and ``schemas`` — never
the bus, NATS, telemetry or a task package — so that ingest, extract, translate and summarise
can all share one notion of "a DTG" or "a unit name" without importing one another. Callers
import each module by name; this package re-exports nothing.
"""
