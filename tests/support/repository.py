"""The root of the checkout, for the tests that read its files (docs, sources, bench scripts)."""
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
