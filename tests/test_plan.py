"""The plan of jobs: which jobs a request makes, in which process and order, and how they are run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_cache import EPOCH, write_book

from publish.build import build
from publish.cache import Cache, digest
from publish.manuscript import load_manuscript
from publish.plan import MAIN, VALUE, Job, Plan, Request, make, plan_for
from publish.workers import Workers


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return write_book(tmp_path / "book")


def planned(book: Path, cache: Path, formats: tuple[str, ...], **request: object) -> list[str]:
    return plan_for(load_manuscript(book), Request(formats, source_date_epoch=EPOCH, **request),
                    cache=Cache(cache)).describe()


def test_a_clean_full_build_parses_in_a_worker_while_this_process_lays_out_the_pdf(book: Path, tmp_path: Path) -> None:
    assert planned(book, tmp_path / "cache", ("epub", "pdf", "html")) == [
        "book [text]",
        "weasyprint [main]",  # its slow import, while the worker parses
        "cover [main]",  # drawn before the layout, and so before the PDF's peak
        "keys [main] <- book",
        "glyphs [text] <- book",
        "html [text] <- book, keys",
        "pdf [main] <- book, keys, glyphs",
        "epub [main] <- book, keys, cover, pdf",  # last: it carries the print edition's page numbers
    ]


def test_without_a_pdf_the_book_is_parsed_here_and_the_cover_drawn_in_a_worker(book: Path, tmp_path: Path) -> None:
    assert planned(book, tmp_path / "cache", ("epub", "html")) == [
        "cover [cover]", "book [main]", "keys [main] <- book", "html [main] <- book, keys",
        "epub [main] <- book, keys, cover"]


def test_a_print_build_adds_the_wrap_after_the_interior(book: Path, tmp_path: Path) -> None:
    jobs = planned(book, tmp_path / "cache", ("pdf",), pdf_profile="print")
    assert jobs[-2:] == ["pdf [main] <- book, keys, glyphs", "wrap [main] <- book, keys, pdf"]
    assert not any(job.startswith(("cover", "html", "epub")) for job in jobs)


def test_the_previews_web_edition_is_never_kept(book: Path, tmp_path: Path) -> None:
    plan = plan_for(load_manuscript(book), Request(("html",), live_reload=3), cache=Cache(tmp_path / "cache"))
    made = make(plan)
    assert b"__publish__/live-reload.js" in made.outputs["html"]["index.html"]  # type: ignore[index]
    assert made.made == ("book",)  # the book is kept; a page with a build number is not


@pytest.mark.e2e
def test_once_everything_is_cached_the_plan_runs_here_and_makes_nothing(book: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build(book, tmp_path / "out", source_date_epoch=EPOCH, cache_dir=cache)
    assert set(first.made) == {"book", "cover", "epub", "pdf", "html"}
    # No worker, and the cover only if the EPUB, which needs it, had to be made again.
    assert planned(book, cache, ("epub", "pdf", "html")) == [
        "book [main]", "cover [main, on demand]", "keys [main] <- book", "html [main] <- book, keys",
        "pdf [main] <- book, keys", "epub [main] <- book, keys, cover, pdf"]
    plan = plan_for(load_manuscript(book), Request(("epub", "pdf", "html"), source_date_epoch=EPOCH),
                    cache=Cache(cache))
    made = make(plan)
    assert made.made == () and made.converted == 0
    assert made.outputs["pdf"] == (tmp_path / "out" / "a-cached-book.pdf").read_bytes()


# -- the executor, on jobs of its own ---------------------------------------------------------

CALLS: list[str] = []


def record(name: str) -> str:
    CALLS.append(name)
    return f"made {name}"


def job(name: str, *, inputs: tuple[str, ...] = (), process: str = MAIN, on_demand: bool = False,
        key: str | None = None, asks: tuple[str, ...] = ()) -> Job:
    def args(results):
        for wanted in asks:
            results.value(wanted)
        return (name,), {}

    return Job(name, inputs, process, "test_plan:record", args, key=lambda _: key, kept=VALUE, on_demand=on_demand)


def run(tmp_path: Path, *jobs: Job) -> tuple[tuple[str, ...], list[str]]:
    CALLS.clear()
    plan = Plan(jobs, None, Request(()), Cache(tmp_path))  # type: ignore[arg-type]
    with Workers() as workers:
        from publish.plan import Results

        results = Results(plan, workers, lambda _: None)
        results.run()
    return tuple(results.made), list(CALLS)


def test_a_job_on_demand_runs_only_when_a_later_job_asks_for_it(tmp_path: Path) -> None:
    made, calls = run(tmp_path, job("a", on_demand=True, key=digest("a")), job("b"))
    assert calls == ["b"] and made == ()
    made, calls = run(tmp_path, job("a", on_demand=True, key=digest("a")), job("b", inputs=("a",), asks=("a",)))
    assert calls == ["a", "b"] and made == ("a",)


def test_a_kept_result_is_read_from_the_cache_and_not_made_again(tmp_path: Path) -> None:
    assert run(tmp_path, job("a", key=digest("a")), job("b")) == (("a",), ["a", "b"])
    assert run(tmp_path, job("a", key=digest("a")), job("b")) == ((), ["b"])


def test_a_workers_job_runs_there_and_its_result_comes_back(tmp_path: Path) -> None:
    remote = dataclasses.replace(job("far", process="elsewhere"), call="publish.cache:digest",
                                 args=lambda _: (("far", "away"), {}))
    plan = Plan((remote, job("here", inputs=("far",), asks=("far",))), None, Request(()), Cache(tmp_path))  # type: ignore[arg-type]
    CALLS.clear()
    with Workers() as workers:
        from publish.plan import Results

        results = Results(plan, workers, lambda _: None)
        results.run()
        assert "elsewhere" not in workers.running  # closed once its last job's result was in
    assert results.values["far"] == digest("far", "away") and CALLS == ["here"]
