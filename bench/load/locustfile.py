"""Load: 50 readers browse, search, run reports and download workbooks while 5 donors import
5,000-row files, against a registry served by gunicorn on loopback with a queue worker beside it
(bench/load/run.py starts everything and runs this file; see bench/RESULTS.md, section "Load").

A donor uploads as a script would: ``Prefer: respond-async``, a 202 at once, then the job
followed at its Location until it ends. The upload's answer is timed ("upload"), and so is the
whole import from upload to the job's end ("import", a request event of its own); the job's
polls are timed apart ("job") and count neither as pages nor as API reads.

Environment: LOAD_DONOR_TOKEN (an API token of a donor account, for the uploads),
LOAD_IMPORT_ROWS (rows per uploaded file, 5,000), LOAD_SAMPLES (a file to which the response
times of every request are written at the end, by group, for exact percentiles per group).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import random
import time

from locust import HttpUser, between, events, task

DONOR_TOKEN = os.environ.get("LOAD_DONOR_TOKEN", "")
IMPORT_ROWS = int(os.environ.get("LOAD_IMPORT_ROWS", 5000))
SAMPLES = os.environ.get("LOAD_SAMPLES")
FILES = itertools.count(1)

REGIONS = ["002", "142", "019", "009", "150"]
AREAS = ["23a", "23b", "23c", "23f", "23j"]
WORDS = ["broadband", "school", "health", "connectivity", "training", "fibre", "rural", "data"]
DIMENSIONS = ["region", "priority_area", "category", "year", "income_group"]
COUNTRIES = ["KEN", "NPL", "SEN", "BOL", "GHA", "UGA", "VNM", "HTI"]
CURRENCIES = ["USD", "EUR", "GBP", "SEK"]
HEADERS = ["Project reference", "Title", "Status", "Country", "Priority area"]
HEADERS += ["Transaction type", "Amount", "Currency", "Value date"]

# response times (ms) and failures by group, for the runner's summary
_times: dict[str, list[float]] = {}
_failures: dict[str, int] = {}


def group_of(name: str) -> str:
    return name.split(":", 1)[0]


@events.request.add_listener
def _record(name: str, response_time: float, exception=None, **_kwargs) -> None:
    group = group_of(name)
    _times.setdefault(group, []).append(response_time)
    if exception is not None:
        _failures[group] = _failures.get(group, 0) + 1


@events.quitting.add_listener
def _write_samples(**_kwargs) -> None:
    if SAMPLES:
        with open(SAMPLES, "w", encoding="utf-8") as handle:
            json.dump({"times": _times, "failures": _failures}, handle)


def donor_file(number: int, rows: int) -> bytes:
    """A donor spreadsheet (CSV) of ROWS flows, 20 per project, refs unique to this upload."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    rng = random.Random(number)
    for i in range(rows):
        p = i // 20
        writer.writerow(
            [
                f"LOAD-{os.getpid()}-{number}-{p:05d}",
                f"Load test connectivity project {number}-{p}",
                "active",
                COUNTRIES[(p + i) % len(COUNTRIES)],
                AREAS[p % len(AREAS)],
                "commitment" if i % 20 == 0 else "disbursement",
                f"{rng.randint(100, 5_000_000)}.{rng.randint(0, 99):02d}",
                CURRENCIES[p % len(CURRENCIES)],
                f"{2016 + i % 8}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            ]
        )
    return out.getvalue().encode()


class Reader(HttpUser):
    """Someone reading the registry: lists, searches, a project, reports, a workbook."""

    weight = 10
    wait_time = between(0.5, 2.0)
    project_ids: list[int] = []

    def on_start(self) -> None:
        if not Reader.project_ids:
            response = self.client.get("/api/v1/projects?per_page=100", name="api: projects list")
            if response.ok:
                Reader.project_ids = [item["id"] for item in response.json()["items"]] or [1]

    def _project(self) -> int:
        return random.choice(Reader.project_ids or [1])

    @task(4)
    def browse(self) -> None:
        self.client.get("/", name="page: home")
        self.client.get("/projects", name="page: projects")
        self.client.get(f"/projects/{self._project()}", name="page: project")

    @task(3)
    def search(self) -> None:
        word, region, area = random.choice(WORDS), random.choice(REGIONS), random.choice(AREAS)
        self.client.get(f"/projects?q={word}", name="page: search")
        self.client.get(f"/projects?region={region}&area={area}&sort=-need", name="page: filtered list")
        self.client.get(f"/api/v1/projects?q={word}&per_page=50", name="api: search")
        self.client.get("/find-funding?country=KEN&area=23b", name="page: find funding")

    @task(2)
    def report(self) -> None:
        by = random.choice(DIMENSIONS)
        self.client.get(f"/api/v1/reports/flows?by={by}", name="api: flows report")
        self.client.get(f"/api/v1/reports/funding-gap?by={by}", name="api: gap report")
        self.client.get(f"/reports/?by={by}", name="page: reports")

    @task(1)
    def download(self) -> None:
        region = random.choice(REGIONS)
        self.client.get(f"/api/v1/reports/funding-gap.xlsx?region={region}", name="download: funding-gap.xlsx")
        self.client.get("/api/v1/reports/flows.csv?by=region&by=priority_area", name="download: flows.csv")


class Donor(HttpUser):
    """A donor uploading its spreadsheet through the API, again and again."""

    fixed_count = 5
    wait_time = between(1.0, 3.0)

    @task
    def upload(self) -> None:
        number = next(FILES)
        data = donor_file(number, IMPORT_ROWS)
        headers = {"Authorization": f"Bearer {DONOR_TOKEN}"}
        started = time.perf_counter()
        with self.client.post(
            "/api/v1/imports",
            files={"file": (f"donor-{number}.csv", data, "text/csv")},
            headers={**headers, "Prefer": "respond-async"},
            name=f"upload: {IMPORT_ROWS:,} rows, queued",
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            location = response.headers["Location"]
        problem = None
        while True:
            time.sleep(1.0)
            with self.client.get(location, headers=headers, name="job: poll", catch_response=True) as polled:
                if polled.status_code != 200:
                    polled.failure(f"{polled.status_code}: {polled.text[:200]}")
                    problem = f"poll {polled.status_code}"
                    break
                job = polled.json()
            if job["status"] == "done":
                break
            if job["status"] == "failed":
                problem = f"job failed: {job['message'][:200]}"
                break
        events.request.fire(
            request_type="JOB",
            name=f"import: {IMPORT_ROWS:,} rows, upload to job end",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=RuntimeError(problem) if problem else None,
            context={},
        )
