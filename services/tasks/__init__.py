"""What every task shares: the registry of tasks (``registry``), the pure contract a task
implements (``contract``, ``prompting``, ``text``), and the service that carries a task's
conversation with the engine over the bus (``service``, ``wiring``)."""
