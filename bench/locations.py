"""Where the benches find the checkout and the shared read-only data (``../shared/data`` beside it)."""
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED_DATA = REPOSITORY.parent / "shared" / "data"
