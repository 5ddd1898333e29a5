"""JSON read as a stream, keeping only the parts a shape names.

A catalogue API page may hold any amount of JSON: built whole by ``json.loads``, a 16 MB page
of small objects costs hundreds of MB of Python objects, and deep nesting exhausts the
recursion limit. Here yajl (ijson's C backend) parses the body chunk by chunk and pushes its
events into a generator that builds only what the shape asks for and reads past the rest
counting depth only: memory is one chunk, the longest single token and what is kept, and time
is linear in the body, whatever its nesting.

A shape is ``VALUE`` (keep the value if it is a scalar), ``Fields`` (an object: the named
keys, each with its own shape; a repeated key keeps its last value, as ``json.loads`` does) or
``Items`` (an array: each item read with the item shape and passed to ``keep``, which returns
what to keep of it). A value that is not what its shape expects is kept as it is if it is a
scalar, else as ``Skipped`` (so ``isinstance`` checks fail as they would on the whole value).
"""
from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import ijson

# The C backend: the pure-Python ones are many times slower.
_YAJL = ijson.get_backend("yajl2_c")
# yajl lexes a token cut by a chunk boundary again from its start with each new chunk, so a
# page-long token costs (its size / the chunk size) passes; events are pushed one by one, so a
# large chunk costs only its bytes (a catalogue page is at most 16 MB: 4 chunks).
CHUNK_SIZE = 4 * 2**20
_OPENING = frozenset({"start_map", "start_array"})
_CLOSING = frozenset({"end_map", "end_array"})
_UNNAMED = object()  # the shape of a key no Fields names: read past
# yajl decodes escapes its own way: a lone surrogate ("\ud800", which json.loads keeps) becomes
# "?", a lone low one invalid UTF-8. So yajl is given every backslash doubled but that of an escaped
# quote, gives each escape back undecoded, and the keys and strings kept are decoded by Python's
# JSON decoder. In the doubled text, an escaped quote is a quote after 4k + 2 backslashes: found
# as a whole run of backslashes (its first one not after another) then a quote, in linear time.
_QUOTED_RUN = re.compile(rb'(\\(?<!\\\\)\\*+)"')
_DOCUMENT = ""  # the key of the document itself in the walker's outermost frame

VALUE = "value"


class Fields(dict[str, object]):
    """The shape of an object: key → shape of its value; other keys are read past."""


@dataclass(frozen=True)
class Items:
    """The shape of an array: ``item`` is each item's shape, ``keep(item)`` what to keep of it."""

    item: object
    keep: Callable[[object], Iterable[object]]


@dataclass
class Array:
    """An array read through: its number of items and what ``keep`` kept of them, in order."""

    length: int = 0
    kept: list[Any] = field(default_factory=list)  # what the shape's keep returns: its own type


@dataclass(frozen=True)
class Skipped:
    """An object or array read past where a scalar or the other container was expected."""

    brackets: str

    def __str__(self) -> str:
        return self.brackets

    __repr__ = __str__


class NotJson(ValueError):
    """The body is not one well-formed JSON value (UTF-8, RFC 8259)."""


def read(body: bytes | None, body_path: str | None, shape: object) -> object:
    """What ``shape`` keeps of the JSON value in ``body`` (or the file ``body_path``).

    Raises ``NotJson`` for a body that is not one JSON value; exceptions raised by a ``keep``
    function propagate as they are.
    """
    outcome: dict[str, object] = {}
    walker = _walker(shape, outcome)
    next(walker)
    # use_float: yajl converts numbers itself, refusing integers beyond 64 bits ("integer
    # overflow"); ijson's own conversion of a 4,301-digit integer crashes the process.
    parser = _YAJL.basic_parse_basecoro(walker, use_float=True)
    try:
        with open(body_path, "rb") if body_path is not None else io.BytesIO(body or b"") as stream:
            for chunk in _escapes_undecoded(stream):
                parser.send(chunk)
        parser.close()
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise NotJson(str(exc)) from None
    return outcome[_DOCUMENT]


def _escapes_undecoded(stream: BinaryIO) -> Iterator[bytes]:
    """The body in chunks, every backslash doubled but that of an escaped quote (see ``_QUOTED_RUN``).
    Outside strings a backslash is an error either way."""
    carry = b""
    while chunk := stream.read(CHUNK_SIZE):
        data = carry + chunk if carry else chunk
        # An odd run of backslashes at the end starts an escape whose letter is in the next chunk.
        trailing = len(data) - len(data.rstrip(b"\\"))
        carry = data[-1:] if trailing % 2 else b""
        if data := data[:-1] if carry else data:  # an empty chunk would tell yajl the body ended
            yield _QUOTED_RUN.sub(_escaped_quote_kept, data.replace(b"\\", b"\\\\"))
    if carry:
        yield carry


def _escaped_quote_kept(run: re.Match[bytes]) -> bytes:
    whole: bytes = run[0]
    backslashes: bytes = run[1]
    return backslashes[:-1] + b'"' if len(backslashes) % 4 == 2 else whole


def _decoded(text: str) -> str:
    """A key or string as yajl gives it (escapes undecoded, \" as a quote), decoded as json.loads would."""
    if "\\" not in text and '"' not in text:
        return text
    try:
        decoded: str = json.loads('"' + text.replace('"', '\\"') + '"')  # a JSON string: a str
        return decoded
    except ValueError as exc:  # an invalid escape
        raise NotJson(str(exc)) from None


def _walker(shape: object, outcome: dict[str, object]) -> Generator[None, tuple[str, Any], None]:
    """Receives the parser's events; sets ``outcome[_DOCUMENT]`` to what ``shape`` keeps of the value.

    One generator with an explicit stack of the containers being kept: a nested generator per
    value costs several times more per event. A frame is ``[item shape, keep, Array, None]`` for
    an array, ``[None, Fields, kept dict, current key]`` for an object.
    """
    opening, closing = _OPENING, _CLOSING
    stack: list[list[Any]] = []
    frame: list[Any] = [None, {_DOCUMENT: shape}, outcome, _DOCUMENT]
    skipping = 0  # depth inside a value read past
    while True:
        event, value = yield
        if skipping:
            if event in opening:
                skipping += 1
            elif event in closing:
                skipping -= 1
            continue
        if event == "map_key":
            # Inlined test (a call per key costs a fifth of the walk): most keys have no escape.
            frame[3] = _decoded(value) if "\\" in value or '"' in value else value
            continue
        if event in closing:
            value = frame[2]
            frame = stack.pop()
        else:
            value_shape = frame[0] if frame[0] is not None else frame[1].get(frame[3], _UNNAMED)
            if value_shape is _UNNAMED:
                skipping = 1 if event in opening else 0
                continue
            if event == "start_map" and type(value_shape) is Fields:
                stack.append(frame)
                frame = [None, value_shape, {}, None]
                continue
            if event == "start_array" and type(value_shape) is Items:
                stack.append(frame)
                frame = [value_shape.item, value_shape.keep, Array(), None]
                continue
            if event in opening:
                skipping = 1
                value = Skipped("{…}" if event == "start_map" else "[…]")
            elif type(value) is str:
                value = _decoded(value)
        # A value is complete: it goes to its container.
        if frame[0] is None:
            frame[2][frame[3]] = value
        else:
            frame[2].length += 1
            frame[2].kept.extend(frame[1](value))
