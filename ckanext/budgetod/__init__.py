"""ckanext-budgetod: French local-government budgets (TOTEM) as SCDL open data."""


def __getattr__(name: str) -> str:
    # Looked up on demand: reading the installed metadata costs the converter's start-up ~20 ms.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("ckanext-budgetod")
        except PackageNotFoundError:  # a source tree that is not installed
            return "0.0.0"
    raise AttributeError(name)
