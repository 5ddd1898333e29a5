"""ckanext-budgetod: French local-government budgets (TOTEM) as SCDL open data."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ckanext-budgetod")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
