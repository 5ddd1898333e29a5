"""``python -m ckanext.budgetod.core``: the ``budgetod`` command line."""
from ckanext.budgetod.core.cli import main

main()
