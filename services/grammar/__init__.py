"""The JSON Schema subset of constrained generation: its grammar and its output bound.

Pure (the standard library only): the engine compiles a request's schema to a GBNF grammar with
it, and a task sizes the token budget of the schema it sends without reaching into the engine.
"""

from services.grammar.gbnf import CompiledSchema, SchemaError, compile_schema, token_budget
from services.grammar.spans import uses_extensions

__all__ = ["CompiledSchema", "SchemaError", "compile_schema", "token_budget", "uses_extensions"]
