"""Wire types of every message Vigie puts on the bus, and their codecs.

``schemas.v1`` holds the types of major version 1 and ``schemas.headers`` the message headers;
import from them by name (this package re-exports nothing). This package imports nothing else of
the project: publishers, services and the load tester all depend on it, never the other way round.
"""
