"""summarise: bottom line up front, bounded length, in the target language, faithful to the source.

Pure logic only: the prompt builder (``prompts``), the output parser (``parse``) and the
faithfulness check (``faithfulness``). The bus side is ``services.summarise.task``.
"""
