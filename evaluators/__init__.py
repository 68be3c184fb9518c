"""What turns a genome into a score, and what runs those evaluations.

- :mod:`evaluators.base`      the ``Evaluator`` and ``Executor`` interfaces, ``EVALUATORS``,
  ``EXECUTORS``
- :mod:`evaluators.datasets`  ``load_dataset(name, data_dir, seed=...)`` -> in-memory ``Data``
- :mod:`evaluators.train`     ``train``: ``evaluate(genome, budget, data, seed, device)``
- :mod:`evaluators.table`     ``table``: lookups in a tabular benchmark; the table format
- :mod:`evaluators.executors` ``local`` (in-process) and ``ray`` executors
- :mod:`evaluators.ray_tune`  Ray start/join, the Tune ``Searcher`` adapter, the trial function

Modules are imported on use (torch and Ray load only when training or searching); the wiring
module :mod:`nas.experiment` imports them all so their registrations are made.
"""
