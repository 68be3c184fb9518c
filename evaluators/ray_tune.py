"""The ``ray`` executor: each evaluation is a Ray Tune trial; the search loop is a Tune Searcher.

Tune stays in charge of scheduling: resources per trial (``cpus_per_trial``, fractional
``gpus_per_trial``), concurrency (``max_concurrent_trials = workers``), retries of crashed
trials (``FailureConfig(max_failures)``) and early stopping (``scheduler: asha`` on the
per-epoch reports). The searcher adapts :class:`~nas.loop.SearchLoop`: ``suggest`` →
``loop.next_trial()`` (controller.ask), ``on_trial_complete`` → ``loop.complete()``
(controller.tell + the store), ``save``/``restore`` → the controller state. Each trial
receives its :class:`~nas.loop.TrialSpec` (the genome pickled with its lowered graph, the cost
the driver computed) and runs the evaluator on it; Ray itself is imported only when used.

Ray: ``connect()`` starts a local instance (loopback, no dashboard, all CPUs of the machine)
unless one is already running in this process or an ``address`` is given (``ray start
--head`` cluster). The data set is shipped once through the object store.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

from nas.errors import NasError
from nas.loop import FINISHED
from nas.result import Result

_QUIET_ENV = {
    "RAY_AIR_NEW_OUTPUT": "0",                 # with verbose=0: no Tune tables or banners
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",  # the store keeps the results; only TensorBoard
                                                # files are added (see _tensorboard below)
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "1000",
}


def _tensorboard() -> list:
    """Ray Tune's TensorBoard logger: per-epoch metrics of every trial under DIR/ray/run-N/,
    readable by ``tensorboard --logdir DIR/ray``. Skipped when tensorboardX is missing."""
    try:
        import tensorboardX  # noqa: F401
        from ray.tune.logger import TBXLoggerCallback
    except ImportError:
        return []
    return [TBXLoggerCallback()]


def _quiet() -> None:
    for k, v in _QUIET_ENV.items():
        os.environ.setdefault(k, v)
    for name in ("ray", "ray.tune", "ray.train", "ray.air", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # "Trials did not complete: [...]", "Trial task failed for trial …" + Ray's traceback: the
    # search reports each crashed trial itself, in one line with its reason
    for name in ("ray.tune.tune", "ray.tune.execution.tune_controller"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


_quiet()
from ray.tune.search import Searcher  # noqa: E402 — after the environment is set


def connect(address: str | None = None) -> bool:
    """Make sure Ray is initialised; returns True if this call started it (caller shuts down)."""
    _quiet()
    import ray
    if ray.is_initialized():
        return False
    common = dict(logging_level=logging.ERROR, log_to_driver=False)
    try:
        if address:
            _check_reachable(address)
            _token_auth_if_available()
            ray.init(address=address, **common)
        else:
            ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False,
                     _node_ip_address="127.0.0.1", **common)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise NasError(f"cannot start or join {where}: {str(e).splitlines()[0]}") from None
    _quiet()
    from nas.interrupt import term_as_interrupt
    term_as_interrupt()          # Ray's handler would abort with a stack dump
    return True


#: HTTP/2 client preface + an empty SETTINGS frame: a gRPC server (Ray's GCS) answers with a
#: SETTINGS frame of its own; anything else (an HTTP/1 server, a bare TCP listener) does not
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _check_reachable(address: str, timeout: float | None = None) -> None:
    """Ray retries an address for minutes, even one where something other than a Ray head
    listens. Answer at once instead: a TCP connect says whether anything listens, and an HTTP/2
    handshake whether it speaks gRPC as Ray's GCS does (``NAS_RAY_CONNECT_TIMEOUT`` seconds,
    default 10, for the answer)."""
    import socket
    if address == "auto" or address.startswith("ray://"):
        return
    timeout = timeout or float(os.environ.get("NAS_RAY_CONNECT_TIMEOUT", "10"))
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise NasError(f"--address {address!r}: expected HOST:PORT (the head's GCS port, "
                       f"e.g. 10.0.0.1:6379) or ray://HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_H2_PREFACE)
            head = b""
            while len(head) < 9:
                chunk = sock.recv(9 - len(head))
                if not chunk:
                    break
                head += chunk
    except socket.timeout:
        head = b""
    except OSError as e:
        raise NasError(f"--address {address}: nothing answers there ({e.strerror or e}); start "
                       f"a head with `ray start --head --port {port}`") from None
    if len(head) < 9 or head[3] != 4:          # frame type 4 = SETTINGS
        raise NasError(f"--address {address}: something listens there but it is not a Ray head "
                       f"(no gRPC answer within {timeout:g} s); give the head's GCS port "
                       f"(`ray start --head` prints it, default 6379)")


def _token_auth_if_available() -> None:
    """Ray ≥ 2.5x clusters use token authentication by default (``ray start --head`` with a
    token in ~/.ray/auth_token). A driver given an explicit address only sends the token when
    RAY_AUTH_MODE=token; do what Ray does for ``address="auto"``: enable it when a token is
    available and the user did not set RAY_AUTH_MODE."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available)
    except ImportError:          # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def check_resources(cpus: float, gpus: float) -> int:
    """How many trials the cluster runs at once; fail when no node could run one."""
    import math
    import ray
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    fits = [min(math.floor(n.get("CPU", 0) / cpus + 1e-9),
                math.floor(n.get("GPU", 0) / gpus + 1e-9) if gpus else 10**9) for n in nodes]
    if any(f >= 1 for f in fits):
        return sum(f for f in fits if f > 0)
    have = ", ".join(f"{n.get('CPU', 0):g} CPU/{n.get('GPU', 0):g} GPU" for n in nodes)
    raise NasError(f"no Ray node can run a trial needing {cpus:g} CPU and {gpus:g} GPU "
                   f"(nodes: {have or 'none'}); lower --cpus-per-trial/--gpus-per-trial")


# ============================================================================ the trial


def run_trial(config: dict, data=None, evaluator=None) -> None:
    """The Tune trainable: evaluate one trial, report each epoch, then the full result."""
    from ray import tune

    import pickle
    spec = pickle.loads(config["spec"])
    last_epoch = spec.budget.epochs

    def report(metrics: dict) -> None:
        # the last epoch is reported once, with the full result: a scheduler deciding on it
        # (ASHA stops trials at max_t) must not cut the trial off before that report
        if metrics["epoch"] != last_epoch:
            tune.report({**metrics, "nas_number": spec.number})

    result = evaluator.evaluate(spec, data, device=config["device"], threads=config["threads"],
                                callback=report)
    last = (result.get("history") or [{}])[-1]
    weights = {"nas_weights": result.weights} if result.weights is not None else {}
    tune.report({**last, "accuracy": result.get("accuracy", 0.0), "epoch": last.get("epoch", 0),
                 "nas_number": spec.number, "nas_result": json.dumps(result.to_dict()),
                 **weights})


def trial_config(spec, execution) -> dict:
    """The Tune config of one trial: the spec pickled once here (the genome with its lowered
    graph: the worker does not lower it again; as bytes, Tune's copies of the config are
    cheap — a deep copy of the genome object cost ≈ 30 ms per trial) and where it runs."""
    import pickle
    return {"number": spec.number, "hash": spec.hash,
            "spec": pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL),
            "device": device_of(execution), "threads": max(1, int(execution.cpus_per_trial))}


def device_of(execution) -> str:
    if execution.device == "cuda" and not execution.gpus_per_trial:
        raise NasError("device cuda: give --gpus-per-trial (Ray shows a trial only the GPUs "
                       "it reserved)")
    if execution.device != "auto":
        return execution.device
    return "cuda" if execution.gpus_per_trial > 0 else "cpu"


def result_from_report(report: dict | None) -> Result:
    """The Result of a completed trial; a trial stopped early (ASHA) has no final report."""
    if report and "nas_result" in report:
        return Result.from_dict(json.loads(report["nas_result"]))
    if report and "accuracy" in report:
        keep = ("accuracy", "loss", "train_loss", "epoch")
        return Result("pruned", {k: report[k] for k in keep if k in report},
                      f"stopped early by the scheduler after epoch {report.get('epoch')}")
    return Result.failed("trial ended without reporting a result")


# ============================================================================ Searcher adapter


class LoopSearcher(Searcher):
    """A Tune ``Searcher`` over a :class:`~nas.loop.SearchLoop`."""

    def __init__(self, loop, execution):
        super().__init__(metric="accuracy", mode="max")
        self.loop = loop
        self.execution = execution
        self.numbers: dict[str, int] = {}      # Tune trial id -> our trial number
        self.crashed: dict[str, int] = {}      # ... of trials that errored (for ErrorNotes)
        self.weights: dict[str, bytes] = {}    # ... -> trained weights (see _weights_callback)

    def suggest(self, trial_id: str):
        spec = self.loop.next_trial()
        if spec == FINISHED:
            return self.FINISHED
        self.numbers[trial_id] = spec.number
        return trial_config(spec, self.execution)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self.numbers:
            self.loop.on_epoch(self.numbers[trial_id], result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        number = self.numbers.pop(trial_id, None)
        weights = self.weights.pop(trial_id, None)
        if number is None:
            return
        if error:
            self.crashed[trial_id] = number
            res = Result.failed(f"trial crashed (retried {self.execution.max_failures}×); see "
                                f"the Ray Tune error file of trial {trial_id}")
        else:
            if result and "nas_result" not in result and "epoch" in result:
                self.loop.on_epoch(number, result)     # the report the scheduler stopped it on
            res = result_from_report(result)
            if weights is not None and res.ok:
                res = dataclasses.replace(res, weights=weights)
        self.loop.complete(number, res, trial_id=trial_id)

    # Tune checkpoints the searcher with its experiment; the store stays the source of truth.
    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_text(json.dumps(
            {"controller": self.loop.controller.state_dict(), "numbers": self.numbers}))

    def restore(self, checkpoint_path: str) -> None:
        state = json.loads(Path(checkpoint_path).read_text())
        self.loop.controller.load_state_dict(state["controller"])
        self.numbers = dict(state["numbers"])

    def __getstate__(self):       # Tune pickles its config; the live loop stays in the driver
        return {k: v for k, v in self.__dict__.items() if k not in ("loop", "weights")}


def _weights_callback(searcher: LoopSearcher):
    from ray.tune import Callback

    class Weights(Callback):
        """Takes a trial's trained weights (bytes, in its final report) out of the result
        before Tune keeps it as the trial's ``last_result`` (Tune would hold every trial's
        weights in memory and write them into its experiment state); the searcher hands them
        to the loop with the trial's result."""

        def on_trial_result(self, iteration, trials, trial, result, **info):
            w = result.pop("nas_weights", None)
            if w is not None:
                searcher.weights[trial.trial_id] = w
    return Weights()


def _error_callback(searcher: LoopSearcher):
    from ray.tune import Callback

    class ErrorNotes(Callback):
        """Records the last line of a crashed trial's error file as its reason."""

        def on_trial_error(self, iteration, trials, trial, **info):
            number = searcher.crashed.pop(trial.trial_id, None)
            if number is None:
                return
            text = ""
            try:
                if trial.error_file and os.path.exists(trial.error_file):
                    lines = [s for s in Path(trial.error_file).read_text().splitlines()
                             if s.strip()]
                    text = lines[-1].strip() if lines else ""
            except OSError:
                pass
            if text:
                searcher.loop.note_error(number, f"trial crashed "
                                                 f"({trial.run_metadata.num_failures} "
                                                 f"failures): {text[:300]}")
    return ErrorNotes()


# ============================================================================ running


def _trial_name(trial) -> str:
    return f"trial-{trial.config.get('number', trial.trial_id)}"


def execute(loop, evaluator, data, execution, root: Path, on_ready=None,
            tensorboard: bool = True) -> None:
    """Run the loop's trials as one Tune experiment until the loop is finished
    (``on_ready()`` is called once Ray is up and can run a trial); each trial runs
    ``evaluator.evaluate`` on its spec. ``execution`` is the config's Execution section."""
    x = execution
    started = connect(x.address)
    try:
        from ray import tune
        device_of(x)
        slots = check_resources(x.cpus_per_trial, x.gpus_per_trial)
        workers = x.workers or slots
        if on_ready is not None:
            on_ready()
        searcher = LoopSearcher(loop, x)
        scheduler = None
        if x.scheduler == "asha":
            from ray.tune.schedulers import ASHAScheduler
            max_t = loop.config.budget.epochs or 10_000
            scheduler = ASHAScheduler(time_attr="epoch", metric="accuracy", mode="max",
                                      max_t=max_t, grace_period=min(x.grace_epochs, max_t),
                                      reduction_factor=3)
        trainable = tune.with_resources(
            tune.with_parameters(run_trial, data=data, evaluator=evaluator),
            {"cpu": x.cpus_per_trial, "gpu": x.gpus_per_trial})
        callbacks = [_weights_callback(searcher), _error_callback(searcher),
                     *(_tensorboard() if tensorboard else [])]
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                                        num_samples=-1, max_concurrent_trials=workers,
                                        reuse_actors=True, trial_name_creator=_trial_name,
                                        trial_dirname_creator=_trial_name),
            run_config=tune.RunConfig(
                name=f"run-{loop.run}", storage_path=str((Path(root) / "ray").resolve()),
                verbose=0, failure_config=tune.FailureConfig(max_failures=x.max_failures),
                callbacks=callbacks, log_to_file=False))
        tuner.fit()
    finally:
        if started:
            import ray
            ray.shutdown()
