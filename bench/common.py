"""Shared helpers of the import benchmarks: a fresh SQLite registry, timing, peak memory."""

from __future__ import annotations

import os
import platform
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def fresh_app(db_path: Path):
    """A registry app on a new SQLite file, migrated and with reference data."""
    from flask_migrate import upgrade

    from registry.app import create_app
    from registry.extensions import db
    from registry.services.reference import load_reference

    if db_path.exists():
        db_path.unlink()
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        upgrade()
        load_reference()
        db.session.commit()
    return app


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    """A one-line description of the machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} CPU(s) ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average at start {load:.2f}"
    )


def write_section(heading: str, text: str) -> None:
    """Put ``text`` (which starts with its own ``## `` heading) into bench/RESULTS.md, in place
    of the section whose heading starts with ``heading``; other sections are kept as they are."""
    results = ROOT / "bench" / "RESULTS.md"
    current = results.read_text("utf-8") if results.exists() else "# Benchmark results\n"
    lines = current.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        current = current.rstrip() + "\n\n" + text.strip() + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        before, after = "\n".join(lines[:start]).rstrip(), "\n".join(lines[end:])
        current = before + "\n\n" + text.strip() + "\n" + ("\n" + after.rstrip() + "\n" if after else "")
    results.write_text(current, "utf-8")
