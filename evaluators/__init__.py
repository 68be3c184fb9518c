"""Evaluating candidates: data sets, training, Ray Tune execution, the experiment store.

- :mod:`evaluators.config`   ``SearchConfig`` (YAML + flags), ``Budget``, ``Recipe``
- :mod:`evaluators.datasets` ``load_dataset(name, data_dir, seed=...)`` -> in-memory ``Data``
- :mod:`evaluators.train`    ``evaluate(genome, budget, data, seed, device) -> Result``
- :mod:`evaluators.store`    ``ExperimentStore``: one directory, SQLite, the source of truth
- :mod:`evaluators.search`   ``SearchLoop`` (ask/tell bookkeeping) and ``run_search``
- :mod:`evaluators.tune`     Ray start/join, the Tune ``Searcher`` adapter, the trial function
- :mod:`evaluators.sweep`    ``run_sweep``: genomes × settings as one Ray job
- :mod:`evaluators.progress` the progress bar and live best-so-far line
- :mod:`evaluators.report`   leaderboard, summary and plots of experiment directories

Modules are imported on use (torch and Ray load only when training or searching).
"""
