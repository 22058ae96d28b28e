"""Worker processes: a Python process that runs jobs sent to it, one after another, in order.

A worker is started with `serve` and reads jobs (pickled: a function named "module:function" and
its arguments) on its standard input, writing each result back on its standard output. The
function is imported in the worker when its first job comes, so a new kind of job needs no
registration here: the PDF's run layout and the build's parse stage both use the same workers.

Not `multiprocessing`: its spawn and forkserver start methods also start a resource-tracker
process, 12 MB that count against the build's peak memory and do nothing here. Workers are
spawned, not forked: a fork would copy the parent's memory and threads (and, once WeasyPrint has
loaded Pango, its fontconfig state). This module imports nothing heavy at its top, so a worker
starts light; the modules it is told to warm up are imported while its first job is on its way.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from .diagnostics import BuildFailed


def serve(warm_up: tuple[str, ...] = ()) -> None:
    """A worker's main loop (see above); `warm_up` names the modules to import meanwhile."""
    import importlib
    import pickle
    import queue
    import signal
    import threading
    import traceback

    # Ctrl-C reaches the whole process group: the worker just stops, without a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    jobs, results = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but results may reach the parent's pipe
    warm = threading.Thread(target=lambda: [importlib.import_module(name) for name in warm_up])
    warm.start()  # the imports run while the first job is on its way
    # Jobs are read as they come, whatever runs: a parent writing its next job must never wait
    # for this process, which may itself be waiting for the parent to read a result.
    inbox: queue.Queue[tuple[str, tuple] | None] = queue.Queue()

    def read() -> None:
        try:
            while True:
                inbox.put(pickle.load(jobs))
        except EOFError:
            inbox.put(None)

    threading.Thread(target=read, daemon=True).start()
    while True:
        job = inbox.get()
        if job is None:
            return
        name, args = job
        warm.join()
        try:
            module, function = name.split(":")
            outcome: tuple[str, Any] = ("ok", getattr(importlib.import_module(module), function)(*args))
        except BuildFailed as failure:  # an exception's own pickling would lose its diagnostics
            outcome = ("failed", failure.diagnostics)
        except Exception:  # noqa: BLE001 - carried to the parent, which reports it as a bug
            outcome = ("error", traceback.format_exc())
        try:
            pickle.dump(outcome, results, protocol=pickle.HIGHEST_PROTOCOL)
            results.flush()
        except BrokenPipeError:  # the parent has gone (stopped, or killed): nobody is left to tell
            return


class Worker:
    """One worker process, started at once so that its imports happen while this process does
    other work. Jobs run one after another, in order. Results are read as soon as they come, so
    a worker whose jobs are done exits even while this process is busy laying out the PDF."""

    def __init__(self, warm_up: tuple[str, ...] = ()) -> None:
        import queue
        import threading

        self.process = subprocess.Popen([sys.executable, "-c", f"from publish.workers import serve; serve({warm_up!r})"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.results: queue.Queue[tuple[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        import pickle

        assert self.process.stdout is not None
        try:
            while True:
                self.results.put(pickle.load(self.process.stdout))
        except (EOFError, OSError, ValueError):  # the worker has exited, or was closed
            self.results.put(("gone", None))

    def submit(self, function: str, *args: object) -> None:
        """Queue a call of `function` ("publish.parse:parse_book") with `args` (pickled)."""
        import pickle

        assert self.process.stdin is not None
        self.process.stdin.write(pickle.dumps((function, args), protocol=pickle.HIGHEST_PROTOCOL))
        self.process.stdin.flush()

    def last_job(self) -> None:
        """No more jobs: the worker exits once the ones it has are done."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()

    def result(self) -> Any:
        """The next job's result; a `BuildFailed` in the worker is raised here with its diagnostics."""
        status, value = self.results.get()
        if status == "gone":
            self.results.put((status, value))  # every later call says so too
            code = self.process.wait()
            raise RuntimeError(f"the worker process stopped unexpectedly (exit code {code})")
        if status == "failed":
            raise BuildFailed(value)
        if status == "error":
            raise RuntimeError(f"the worker process failed:\n{value}")
        return value

    def close(self, *, failed: bool = False) -> None:
        if self.process.poll() is None:
            if failed:
                # Nothing it is doing is wanted any more: don't make the user wait for it.
                self.process.kill()
            else:
                self.last_job()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()


class Workers:
    """Named worker processes: closed as soon as their work is done, all killed on failure."""

    def __init__(self) -> None:
        self.running: dict[str, Worker] = {}

    def start(self, name: str, *, warm_up: tuple[str, ...] = ()) -> Worker:
        if name not in self.running:
            self.running[name] = Worker(warm_up)
        return self.running[name]

    def finish(self, name: str) -> None:
        if name in self.running:
            self.running.pop(name).close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        for worker in self.running.values():
            worker.close(failed=kind is not None)
        self.running.clear()
