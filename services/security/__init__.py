"""What a secured deployment needs on the services' side: ``keys`` generates nkey seeds, a CA with
certificates and the JetStream encryption key; ``credentials`` picks the ones a process connects
with. The rules themselves (who may do what) are the bus's: ``bus.security``.

And what an air-gapped install is signed off with (README, "Installing without a network"):
``sbom`` (a CycloneDX SBOM: the generator's, plus the nats-server binary, the vendored llama.cpp
and the models), ``licences`` (the allow-list check), ``osv`` (the lock against an OSV snapshot,
offline) and ``modelsign`` (the operator's Ed25519 key and signature over the model registry).
"""
