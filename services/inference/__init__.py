"""The inference engine and its service."""
