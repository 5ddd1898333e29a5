"""The error every layer raises for a user (``BudgetodError``; each module derives its own kinds), and
the reading and nomenclature errors.

Every error names the file or URL it is about (``source``) and what went wrong (``cause``, a
``messages.Message``: an id of the catalogue and its parameters), so a one-line
``error: <source>: <cause>`` is always possible without a traceback, in French or English.
"""
from __future__ import annotations

from typing import TypeVar

from ckanext.budgetod.core import messages

_Error = TypeVar("_Error", bound="BudgetodError")


class BudgetodError(Exception):
    """Base of every error this package raises on bad input or unusable resources."""

    def __init__(self, source: object, cause: messages.Message):
        self.source = "" if source is None else str(source)
        self.cause = cause
        super().__init__(self.source, cause)

    @classmethod
    def from_message(cls: type[_Error], source: object, message_id: str, **params: object) -> _Error:
        return cls(source, messages.Message(message_id, params))

    @property
    def message_id(self) -> str:
        """The catalogue id of the cause (what kind of error this is)."""
        return self.cause.id

    @property
    def params(self) -> dict[str, object]:
        return self.cause.params

    def localized_cause(self, lang: str | None = None) -> str:
        return self.cause.render(lang)

    @property
    def description(self) -> messages.Message:
        """What ``describe`` says, to be rendered later in either language (inside another message)."""
        return messages.Message("error_described", source=self.source, cause=self.cause) if self.source else self.cause

    def describe(self, lang: str | None = None) -> str:
        return self.description.render(lang)

    def __str__(self) -> str:
        return self.describe()


class DocumentError(BudgetodError):
    """The TOTEM document is unreadable, unsafe or not a valid budget document."""


class NomenclatureError(BudgetodError):
    """A plan de comptes exists but cannot be used."""
