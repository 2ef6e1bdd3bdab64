"""Vigie's configuration: ``schema`` says what may be configured (typed sections, defaults,
documentation), ``load`` how it is loaded (defaults < file < environment, validation, rendering).
"""
