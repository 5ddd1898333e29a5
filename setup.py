"""Build hooks that pyproject.toml cannot express: the compiled translation catalogues.

The catalogues live in the top-level i18n/ (CKAN's layout for extension translations); a built
wheel carries them compiled inside the package, where the plugin's i18n_directory finds them."""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithCatalogues(build_py):
    def run(self):
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po_path in sorted((ROOT / "i18n").glob("*/LC_MESSAGES/*.po")):
            relative = po_path.relative_to(ROOT / "i18n").with_suffix(".mo")
            mo_path = Path(self.build_lib) / "ckanext" / "budgetod" / "i18n" / relative
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file, locale=po_path.parts[-3])
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog)


setup(cmdclass={"build_py": BuildPyWithCatalogues})
