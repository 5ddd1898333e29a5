"""What the tests share besides fixtures: data builders, stand-in servers, oracles and the places of the
repository and of the shared test data. Fixtures live in the conftest.py files."""
