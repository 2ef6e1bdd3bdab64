"""translate: a report into the target language, glossary terms followed, protected tokens kept.

Pure logic only: the glossary (``glossary``), the do-not-translate tokens (``protect``, built on
the ``services.domain`` finders), the prompt builder (``prompts``) and the output parser and
checks (``parse``). The bus side is ``services.translate.task`` with ``services.tasks.service``.
"""
