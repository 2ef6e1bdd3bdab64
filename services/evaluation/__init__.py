"""`vigie eval`: the gold set (``ops/gold``) through the real pipeline, scored.

Pure scoring, one module per measure, each a function of plain values (tests call them with
literals): :mod:`gold` (the references), :mod:`text` (the matching rules they share),
:mod:`translation`, :mod:`entities`, :mod:`quantities`, :mod:`summary`, :mod:`flags` (flag
precision and recall against the gold, silent failures), :mod:`score` (one report's event
against its gold), :mod:`aggregate` (the run's figures and its key), :mod:`markdown` and
:mod:`progress`. Apart from them: :mod:`stack` (an embedded server and the real services,
in-process), :mod:`runner` (publish, collect), :mod:`run` (one evaluation, or a finished one
scored again), :mod:`output` and :mod:`plots` (JSON, Markdown, PNG).

The evaluator names no task: it knows them by what the task registry says they fill
(``translation``, ``summary``, ``entities``) and finds logistics quantities by the shape of a
task's output.
"""
