"""The analyst console: `vigie console`, a web page fed from the bus with the analyst's own
credentials (so the feed is exactly what NATS lets them read).

Pure parts: ``access`` (bind policy, Host/Origin, sessions, logins), ``views`` (event → what
the page shows), ``feed`` (the bounded stores), ``waterfall`` (one report's trace), ``http``
(request parsing, responses). I/O: ``bus`` (subscriptions, health, audit) and ``server``.
``feedback`` is where corrections meet the feedback subjects, when the topology declares them.
"""
