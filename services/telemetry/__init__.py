"""Telemetry of the services: ``service`` sets a service's providers up and records what the
services measure on top of the bus's messaging spans (``bus.telemetry``); ``export`` writes spans
and metrics to JSON-lines files for air-gapped use and ``vigie trace``.
"""
