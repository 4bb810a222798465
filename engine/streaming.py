"""Streaming turns: a model's answer as it arrives, then the whole TurnResult.

`Engine.handle(session, text, on_token)` is the primitive; these wrap it for
callers that prefer to pull: a terminal, or a web server sending server-sent
events. The turn runs in a worker thread (the model client is blocking) and
its pieces cross over through a queue. Rule-routed turns yield no pieces, just
the result. A caller that stops early does not cut the turn short: closing the
iterator waits for the turn to finish, so the session is never left
half-changed and the next turn never overlaps it.

Turns of one session must not run concurrently; serialise them per session.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Iterator

from engine.result import TurnResult
from engine.session import Session
from engine.turn import Engine

StreamItem = str | TurnResult  # text pieces, then exactly one TurnResult last


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def stream_turn(engine: Engine, session: Session, text: str) -> Iterator[StreamItem]:
    """Yield a model's answer piece by piece, then the turn's TurnResult."""
    pieces: queue.SimpleQueue[str | TurnResult | _Failed] = queue.SimpleQueue()

    def work() -> None:
        try:
            pieces.put(engine.handle(session, text, pieces.put))
        except BaseException as exc:  # handed to the caller's thread and raised there
            pieces.put(_Failed(exc))

    worker = threading.Thread(target=work, name="flowbot-turn", daemon=True)
    worker.start()
    try:
        while True:
            item = pieces.get()
            if isinstance(item, _Failed):
                raise item.error
            yield item
            if isinstance(item, TurnResult):
                return
    finally:
        worker.join()  # a caller that stops early still gets a finished, consistent session


async def astream_turn(engine: Engine, session: Session, text: str) -> AsyncIterator[StreamItem]:
    """The same as stream_turn, for asyncio: the event loop is never blocked."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str] = asyncio.Queue()

    def on_token(piece: str) -> None:
        loop.call_soon_threadsafe(pieces.put_nowait, piece)

    turn = asyncio.ensure_future(asyncio.to_thread(engine.handle, session, text, on_token))
    try:
        while not turn.done() or not pieces.empty():
            getter = asyncio.ensure_future(pieces.get())
            await asyncio.wait({getter, turn}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()
        yield turn.result()
    finally:
        if not turn.done():  # stopped early: the session is consistent once the turn ends
            await asyncio.wait({turn})
