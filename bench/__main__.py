"""`make bench`: times loading the demo salon into a fresh SQLite database."""
import statistics
import tempfile
import time
from pathlib import Path

from kq import create_app
from kq.config import TestConfig
from kq.demo import load_demo
from kq.extensions import db


def demo_load_seconds(customers):
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(TestConfig(f"sqlite:///{Path(tmp) / 'bench.db'}"))
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            load_demo(customers=customers)
            elapsed = time.perf_counter() - started
            db.engine.dispose()
    return elapsed


def main():
    runs = [demo_load_seconds(1000) for _ in range(3)]
    print(f"{'figure':<40} {'median':>10}")
    print(f"{'demo salon load (1,000 customers)':<40} {statistics.median(runs):>9.2f}s")


if __name__ == "__main__":
    main()
