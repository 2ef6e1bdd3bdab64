"""logstat: quantities from logistics reports (LOGSTAT lines and free text), grounded and checked.

``vocabulary`` (the words of five languages), ``numbers`` (written numbers), ``reading`` (the
quantities of one line or sentence), ``parse`` (the deterministic reading of a report),
``model`` (the prompt, its JSON schema and the answer's parser), ``grounding`` (each model item
located in the text, or dropped), ``merge``, ``task`` (the registry's builder) and ``measure``
(precision and recall against the labelled set). Pure apart from ``measure``'s I/O.
"""
