"""The model manager: which versions of which models are aspired, loaded, AVAILABLE or gone, as TF Serving's
ServerCore + AspiredVersionsManager + ServableStateMonitor.

- Loads and unloads are serialised (one work lock), new versions load before old ones unload (availability
  preserving), failed loads are retried, then reported as END with their error and not retried while aspired.
- Requests hold a reference on the servable they use; an unload waits for them, so none fails mid-flight.
- Version labels follow server_core.cc UpdateModelVersionLabelMap.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from tensorflow_serving.apis import model_pb2

from toolkit.server import config as cfg
from toolkit.server import gc_freeze
from toolkit.server.errors import Code, ServingError
from toolkit.server.metrics import ServerMetrics
from toolkit.server.servable import Servable

log = logging.getLogger(__name__)


class State(enum.IntEnum):
    """ModelVersionStatus.State numbers."""

    UNKNOWN = 0
    START = 10
    LOADING = 20
    AVAILABLE = 30
    UNLOADING = 40
    END = 50


@dataclass
class VersionRecord:
    version: int
    state: State
    error: ServingError | None = None
    servable: Servable | None = None
    path: str = ""


@dataclass
class ModelEntry:
    config: cfg.ModelConfig
    failed: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class ManagerOptions:
    file_system_poll_wait_seconds: int = 1
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 60_000_000
    allow_version_labels_for_unavailable_models: bool = False


LoadFn = Callable[[str, int, str], Servable]


class ModelManager:
    """Owns every loaded servable. Thread-safe."""

    def __init__(self, options: ManagerOptions, load_fn: LoadFn, metrics: ServerMetrics) -> None:
        self.options = options
        self._load_fn = load_fn
        self.metrics = metrics
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._work_lock = threading.RLock()
        self._models: dict[str, ModelEntry] = {}
        self._monitor: dict[str, dict[int, VersionRecord]] = {}
        self._labels: dict[str, dict[str, int]] = {}
        self._config: cfg.ModelServerConfig | None = None
        self._stop = threading.Event()
        self._poll_thread: threading.Thread | None = None
        self._initial_poll_done = False

    # ------------------------------------------------------------------------------------------ config
    @property
    def config(self) -> cfg.ModelServerConfig | None:
        with self._lock:
            return self._config

    def model_names(self) -> list[str]:
        with self._lock:
            return list(self._models)

    def apply_config(self, new: cfg.ModelServerConfig) -> list[str]:
        """Validate (in ServerCore's order) and install a config; returns the names of newly added models.

        Nothing changes if validation fails. Loading happens on the next poll (or ``poll_once``)."""
        with self._work_lock:
            cfg.validate_model_config_list(new, self._config)
            labels = self._validate_labels(new)
            cfg.validate_platforms(new)
            with self._lock:
                old_names = set(self._models)
                new_models = {m.name: m for m in new.model_config_list.config}
                removed = [name for name in old_names if name not in new_models]
                added = [name for name in new_models if name not in old_names]
                for name, model in new_models.items():
                    if name in self._models:
                        self._models[name].config = model
                    else:
                        self._models[name] = ModelEntry(config=model)
                        self._monitor.setdefault(name, {})
                for name in removed:
                    del self._models[name]
                self._labels = labels
                self._config = new
            for name in removed:
                log.info("Model %s removed from the config; unloading all its versions", name)
                self._reconcile(name, {}, force_unload_all=True)
            return added

    def _validate_labels(self, new: cfg.ModelServerConfig) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        with self._lock:
            for model in new.model_config_list.config:
                labels: dict[str, int] = {}
                for label, version in model.version_labels.items():
                    record = self._monitor.get(model.name, {}).get(version)
                    available = (
                        model.name in self._models and record is not None and record.state == State.AVAILABLE
                    )
                    if not available:
                        previous = self._labels.get(model.name, {}).get(label)
                        allowed = self.options.allow_version_labels_for_unavailable_models and (
                            previous is None or previous == version
                        )
                        if not allowed:
                            raise ServingError(
                                Code.FAILED_PRECONDITION,
                                f"Request to assign label to version {version} of model {model.name}, which is not "
                                "currently available for inference",
                            )
                    labels[label] = version
                if labels:
                    result[model.name] = labels
        return result

    def reload_config(self, new: cfg.ModelServerConfig, timeout: float | None = None) -> None:
        """HandleReloadConfigRequest / config-file polling: replace the config, load, and block until every newly
        added model has an AVAILABLE version (or fail with the load error)."""
        added = self.apply_config(new)
        access_error = self.poll_once()
        if access_error is not None and added:
            # The poll stopped at an inaccessible base path, so no added model can load until it is fixed. TF
            # Serving only logs this and keeps the caller waiting for its whole deadline; answer with it now (the
            # config stays installed, and a later poll loads the models once the path exists).
            raise access_error
        self.wait_until_available(added, timeout=timeout, unit="model")  # ServerCore::WaitUntilModelsAvailable

    # ------------------------------------------------------------------------------------------ polling
    def start_polling(self) -> None:
        """Scan the base paths now, then every --file_system_poll_wait_seconds (0: once, <0: never)."""
        wait = self.options.file_system_poll_wait_seconds

        def loop() -> None:
            if wait < 0:
                return
            while not self._stop.is_set():
                try:
                    self.poll_once()
                except Exception:
                    log.exception("File system poll failed")
                if wait == 0 or self._stop.wait(wait):
                    return

        self._poll_thread = threading.Thread(target=loop, name="fs-poller", daemon=True)
        self._poll_thread.start()

    def poll_once(self) -> ServingError | None:
        """One FileSystemStoragePathSource pass over every model, then load/unload to match. Returns the file-system
        error that aborted the pass, if one did (nothing is loaded or unloaded then)."""
        with self._work_lock:
            if self._stop.is_set():
                return None
            with self._lock:
                models = {name: entry.config for name, entry in self._models.items()}
            found: dict[str, dict[int, str]] = {}
            for name, model in models.items():
                try:
                    found[name] = cfg.discover_versions(name, model.base_path)
                except ServingError as exc:
                    # As TF Serving: one inaccessible base path aborts the whole poll (loaded versions stay).
                    log.error("FileSystemStoragePathSource encountered a filesystem access error: %s", exc.message)
                    return exc
            plans = []
            for name, model in models.items():
                if not found[name]:
                    log.warning(
                        "No versions of servable %s found under base path %s. Did you forget to name your leaf "
                        "directory as a number (eg. '/1/')?",
                        name,
                        model.base_path,
                    )
                plans.append((name, cfg.aspired_versions(model, found[name])))
            if not self._initial_poll_done and len(plans) > 1:
                # Start-up loads models in parallel, as ServerCore's num_initial_load_threads (4 x CPUs).
                workers = min(len(plans), 4 * (os.cpu_count() or 1))
                with ThreadPoolExecutor(workers, thread_name_prefix="initial-load") as pool:
                    list(pool.map(lambda plan: self._reconcile(*plan), plans))
            else:
                for plan in plans:
                    self._reconcile(*plan)
            self._initial_poll_done = True
            return None

    def _reconcile(self, name: str, aspired: dict[int, str], force_unload_all: bool = False) -> None:
        with self._lock:
            entry = self._models.get(name)
            records = self._monitor.setdefault(name, {})
            if entry is not None:
                entry.failed &= set(aspired)
            failed = entry.failed if entry is not None else set()
            available = {v for v, r in records.items() if r.state == State.AVAILABLE}
            to_load = sorted((v for v in aspired if v not in available and v not in failed), reverse=True)
            for version in to_load:
                records[version] = VersionRecord(version, State.START, path=aspired[version])
            self._cond.notify_all()
        for version in to_load:
            if self._stop.is_set():
                return
            self._load(name, version, aspired[version])
        with self._lock:
            available = {v for v, r in records.items() if r.state == State.AVAILABLE}
            unaspired = sorted(available - set(aspired))
            if not force_unload_all and aspired and not (available & set(aspired)) and unaspired:
                unaspired = unaspired[:-1]  # availability preserving: keep the newest until an aspired one serves
        for version in unaspired:
            self._unload(name, version)

    def _load(self, name: str, version: int, path: str) -> None:
        records = self._monitor[name]
        with self._lock:
            records[version].state = State.LOADING
            self._cond.notify_all()
        attempts = 1 + max(self.options.max_num_load_retries, 0)
        interval = max(self.options.load_retry_interval_micros, 0) / 1e6
        error: ServingError | None = None
        servable: Servable | None = None
        for attempt in range(attempts):
            log.info("Loading servable version {name: %s version: %d} from %s", name, version, path)
            try:
                servable = self._load_fn(name, version, path)
                error = None
                break
            except ServingError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - a load may fail in any way; it must not kill the server
                error = ServingError(Code.UNKNOWN, f"{type(exc).__name__}: {exc}")
            log.error(
                "Loading servable: {name: %s version: %d} failed: %s: %s",
                name, version, error.code.name, error.message,
            )
            if attempt + 1 < attempts:
                log.info("Retrying load of {name: %s version: %d} (%d of %d)", name, version, attempt + 1,
                         attempts - 1)
                if self._stop.wait(interval):
                    break
        with self._lock:
            record = records[version]
            if servable is not None and error is None:
                record.servable = servable
                record.state = State.AVAILABLE
                record.error = None
                log.info("Successfully loaded servable version {name: %s version: %d}", name, version)
            else:
                record.state = State.END
                record.error = error or ServingError(Code.CANCELLED, "Load cancelled by shutdown")
                entry = self._models.get(name)
                if entry is not None:
                    entry.failed.add(version)
            self._update_loaded_gauge(name)
            self._cond.notify_all()
        status = "OK" if record.state == State.AVAILABLE or record.error is None else record.error.code.name
        self.metrics.load_attempt_count.inc(name, version, status)
        self.metrics.model_load_count.inc(name, status)
        gc_freeze.settle()

    def _unload(self, name: str, version: int) -> None:
        with self._lock:
            record = self._monitor[name].get(version)
            if record is None or record.state != State.AVAILABLE:
                return
            servable = record.servable
            record.servable = None
            record.state = State.UNLOADING
            self._update_loaded_gauge(name)
            self._cond.notify_all()
        log.info("Unloading servable version {name: %s version: %d}", name, version)
        if servable is not None:
            servable.close()  # waits for in-flight requests
        with self._lock:
            record.state = State.END
            record.error = None
            self._cond.notify_all()
        self.metrics.model_unload_count.inc(name)
        log.info("Done unloading servable version {name: %s version: %d}", name, version)
        gc_freeze.settle()

    def _update_loaded_gauge(self, name: str) -> None:
        count = sum(1 for r in self._monitor.get(name, {}).values() if r.state == State.AVAILABLE)
        self.metrics.loaded_versions.set(name, value=count)

    # ------------------------------------------------------------------------------------------ waiting
    def wait_until_available(self, names: list[str], timeout: float | None = None, unit: str = "servable") -> None:
        """Block until each model has an AVAILABLE version; raise if one ended in error with nothing loading.

        With no version directory at all this waits (forever without a timeout), as TF Serving does. ``unit`` names
        what failed in the message: "servable(s)" at start-up, "model(s)" after a reload (as ServerCore words it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                if self._stop.is_set():
                    raise ServingError(Code.CANCELLED, "Server is shutting down")
                pending: list[str] = []
                failures: list[str] = []
                for name in names:
                    records = self._monitor.get(name, {})
                    if any(r.state == State.AVAILABLE for r in records.values()):
                        continue
                    busy = any(r.state in (State.START, State.LOADING) for r in records.values())
                    errors = [(r.version, r.error) for r in records.values() if r.state == State.END and r.error is not None]
                    if errors and not busy:
                        for version, error in errors:
                            failures.append(
                                f"{{name: {name} version: {version}}} due to error: {error.to_status_string()}"
                            )
                    else:
                        pending.append(name)
                if failures:
                    raise ServingError(
                        Code.UNKNOWN,
                        f"{len(failures)} {unit}(s) did not become available: {{"
                        + "".join("{" + f + "}, " for f in failures) + "}",
                    )
                if not pending:
                    return
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise ServingError(
                        Code.DEADLINE_EXCEEDED,
                        "Timed out waiting for models to become available: " + ", ".join(pending),
                    )
                self._cond.wait(timeout=0.5 if remaining is None else min(remaining, 0.5))

    # ------------------------------------------------------------------------------------------ requests
    def resolve_version(self, spec: model_pb2.ModelSpec) -> tuple[str, int | None, str]:
        """(name, version or None for latest, request debug string) from a ModelSpec (labels resolved)."""
        if not spec.name:
            raise ServingError(Code.INVALID_ARGUMENT, "ModelSpec has no name specified.")
        which = spec.WhichOneof("version_choice")
        if which == "version":
            return spec.name, spec.version.value, f"Specific({spec.name}, {spec.version.value})"
        if which == "version_label":
            with self._lock:
                version = self._labels.get(spec.name, {}).get(spec.version_label)
            if version is None:
                raise ServingError(
                    Code.INVALID_ARGUMENT, f"Unrecognized servable version label: {spec.version_label}"
                )
            return spec.name, version, f"Specific({spec.name}, {version})"
        return spec.name, None, f"Latest({spec.name})"

    @contextmanager
    def servable(self, spec: model_pb2.ModelSpec) -> Iterator[Servable]:
        """Hold a loaded servable for the duration of a request (NOT_FOUND with TF Serving's message)."""
        name, version, debug = self.resolve_version(spec)
        servable = None
        with self._lock:
            records = self._monitor.get(name, {}) if name in self._models else {}
            if version is None:
                candidates = sorted((v for v, r in records.items() if r.state == State.AVAILABLE), reverse=True)
                chosen = candidates[0] if candidates else None
            else:
                record = records.get(version)
                chosen = version if record is not None and record.state == State.AVAILABLE else None
            if chosen is not None:
                candidate = records[chosen].servable
                if candidate is not None and candidate.acquire():
                    servable = candidate
        if servable is None:
            raise ServingError(Code.NOT_FOUND, f"Servable not found for request: {debug}")
        try:
            yield servable
        finally:
            servable.release()

    def version_status(self, name: str, version: int | None) -> list[VersionRecord]:
        """Every version seen for ``name`` (descending), or one version (GetModelStatusImpl)."""
        with self._lock:
            records = dict(self._monitor.get(name, {}))
            snapshot = [VersionRecord(r.version, r.state, r.error) for r in records.values()]
        if not snapshot:
            raise ServingError(Code.NOT_FOUND, f"Could not find any versions of model {name}")
        if version is not None:
            snapshot = [r for r in snapshot if r.version == version]
            if not snapshot:
                raise ServingError(Code.NOT_FOUND, f"Could not find version {version} of model {name}")
        return sorted(snapshot, key=lambda r: r.version, reverse=True)

    def labels(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {k: dict(v) for k, v in self._labels.items()}

    # ------------------------------------------------------------------------------------------ shutdown
    def request_stop(self) -> None:
        """End the manager's waits (start-up's wait_until_available, polling) within their next tick, without
        unloading (``shutdown`` does that). Takes no lock, so a signal handler may call it."""
        self._stop.set()

    def shutdown(self) -> None:
        """Stop polling and unload everything (each unload waits for its in-flight requests)."""
        self._stop.set()
        with self._lock:
            self._cond.notify_all()
        if self._poll_thread is not None:
            self._poll_thread.join(timeout=30)
        with self._work_lock:
            for name, records in list(self._monitor.items()):
                for version in sorted(records):
                    self._unload(name, version)
