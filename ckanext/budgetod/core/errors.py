"""Errors raised by the TOTEM → SCDL converter core.

Every error names the file or URL it is about (``source``) and what went wrong
(``cause``), so a one-line ``error: <source>: <cause>`` is always possible
without a traceback.
"""
from __future__ import annotations

from typing import TypeVar

from ckanext.budgetod.core import messages

_Error = TypeVar("_Error", bound="BudgetodError")


class BudgetodError(Exception):
    """Base of every error this package raises on bad input or unusable resources."""

    def __init__(self, source: object, cause: object, *, message_id: str | None = None,
                 params: dict | None = None):
        self.source = "" if source is None else str(source)
        self.cause = cause
        # Kept so that the cause can be rendered again in another language.
        self.message_id = message_id
        self.params = params or {}
        super().__init__(self.source, cause)

    @classmethod
    def from_message(cls: type[_Error], source: object, message_id: str, **params: object) -> _Error:
        return cls(source, messages.text(message_id, None, **params), message_id=message_id, params=params)

    def localized_cause(self, lang: str | None = None) -> str:
        if isinstance(self.cause, messages.Bilingual):
            return self.cause.render(lang)
        if self.message_id is None:
            return str(self.cause)
        return messages.text(self.message_id, lang, **self.params)

    def describe(self, lang: str | None = None) -> str:
        cause = self.localized_cause(lang)
        return f"{self.source}: {cause}" if self.source else cause

    def __str__(self) -> str:
        return f"{self.source}: {self.cause}" if self.source else str(self.cause)


class DocumentError(BudgetodError):
    """The TOTEM document is unreadable, unsafe or not a valid budget document."""


class NomenclatureError(BudgetodError):
    """A plan de comptes exists but cannot be used."""
