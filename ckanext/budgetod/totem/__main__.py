"""``python -m ckanext.budgetod.totem``: the ``budgetod`` command line."""
from .cli import main

main()
