"""Security of the bus: ``permissions`` generates who may publish and subscribe to what from the
topology, ``client`` how a client proves who it is (nkey seed, TLS, its own inbox prefix), and
``serverconf`` the nats-server configuration text (users, TLS, encryption at rest).
"""
