"""Analysts' corrections: the wire helper (pure), the bus side, and training-set export."""
