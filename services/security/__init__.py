"""What a secured deployment needs on the services' side: ``keys`` generates nkey seeds, a CA with
certificates and the JetStream encryption key; ``credentials`` picks the ones a process connects
with. The rules themselves (who may do what) are the bus's: ``bus.security``.
"""
