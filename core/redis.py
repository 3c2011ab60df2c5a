"""Redis: the asyncio client, the Lua script loader and the script batcher.

Each script is a `.lua` file whose header documents KEYS, ARGV and the return value.
Scripts run with EVALSHA and are loaded again by themselves after a Redis restart
(NOSCRIPT), on whichever client the caller passes. On hot paths, `RedisBatcher` sends the
script calls and commands of one event-loop turn together.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import DataError, NoScriptError, ResponseError

KeyT = str | bytes
R = TypeVar("R", bound=Redis)
ArgT = str | bytes | int | float


# A primary that died with its host (or container) answers nothing, not even a refusal:
# without these bounds a connection attempt, or a command on a connection opened before,
# waits for the kernel's TCP timeouts (minutes). With them it fails within seconds, the
# connection is dropped, and the next one asks the sentinels for the current primary.
CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 5.0  # above every blocking read of ours (the orders worker's 1 s XREADGROUP)
SENTINEL_TIMEOUTS = {"socket_connect_timeout": CONNECT_TIMEOUT_S, "socket_timeout": CONNECT_TIMEOUT_S}


def create_redis(
    url: str, *, max_connections: int = 200, sentinels: str = "", sentinel_master: str = "mymaster"
) -> Redis:
    """A client of `url`, or, with `sentinels` ("host:port,..."), of the primary the
    sentinels name for `sentinel_master` (`sentinel_primary`). No command timeout: this
    client also serves pub/sub, which waits for messages as long as there are none."""
    if sentinels:
        return sentinel_primary(
            url, sentinels, sentinel_master, max_connections=max_connections, health_check_interval=30
        )
    client: Redis = Redis.from_url(
        url, decode_responses=False, max_connections=max_connections, health_check_interval=30
    )
    return client


def sentinel_primary(
    url: str,
    sentinels: str,
    master: str,
    *,
    max_connections: int,
    redis_class: type[R] = Redis,  # type: ignore[assignment]
    **connection: Any,
) -> R:
    """A client of the primary that `sentinels` ("host:port,...") name for `master`, with the
    database and password of `url`: after a failover its next connection goes to the new
    primary. Connection attempts are bounded (CONNECT_TIMEOUT_S); `connection` adds
    options of the primary's connections (`socket_timeout=COMMAND_TIMEOUT_S`, say)."""
    parsed = urlparse(url)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        sentinel_addresses(sentinels),
        sentinel_kwargs=SENTINEL_TIMEOUTS,
        db=int(parsed.path.strip("/") or 0),
        password=parsed.password,
        max_connections=max_connections,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        **connection,
    )
    primary: R = sentinel.master_for(master, redis_class=redis_class)
    return primary


def sentinel_addresses(sentinels: str) -> list[tuple[str, int]]:
    """ "h1:26379,h2:26379" -> [("h1", 26379), ("h2", 26379)]."""
    found = []
    for part in sentinels.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"REDIS_SENTINELS: {part.strip()!r} is not host:port")
        found.append((host, int(port)))
    return found


class Script:
    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, redis: Redis, keys: Sequence[KeyT] = (), args: Sequence[ArgT] = ()) -> Any:
        argv: list[Any] = [*keys, *args]
        try:
            return await redis.evalsha(self.sha, len(keys), *argv)  # type: ignore[misc]
        except NoScriptError:
            await redis.script_load(self.source)
            return await redis.evalsha(self.sha, len(keys), *argv)  # type: ignore[misc]


class Scripts:
    """The `.lua` files of a folder, reachable as attributes: `await S.join_queue(redis, keys, args)`."""

    def __init__(self, folder: Path) -> None:
        self._scripts = {p.stem: Script(p.stem, p.read_text()) for p in sorted(folder.glob("*.lua"))}

    def __getattr__(self, name: str) -> Script:
        try:
            return self._scripts[name]
        except KeyError:
            raise AttributeError(name) from None

    def all(self) -> list[Script]:
        return list(self._scripts.values())


class RedisBatcher:
    """Script calls and commands made in the same turn of the event loop reach Redis as one
    pipeline.

    The order gate runs one short script per request. One call at a time, each costs a pool
    checkout, a socket write and a read: a quarter of the API's time in the flash-sale
    profile, most of it the write. Here a call waits only until the end of the loop's
    current turn (the other requests already read off the network run first), and the
    calls gathered by then travel together — one write, one read, each still atomic on its
    own and run in the order made. While one pipeline is out, the calls made meanwhile
    wait for it and then go together: under load batches grow by themselves, and one
    connection does the work of many. A call alone goes out at the end of its turn.
    A failure of the pipeline (Redis down, the connection lost) is every call's failure.
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiting: list[tuple[Script | None, list[Any], asyncio.Future[Any]]] = []
        self._sending: asyncio.Task[None] | None = None
        self._scheduled = False
        self.batches = 0
        self.calls = 0

    async def call(self, script: Script, keys: Sequence[KeyT] = (), args: Sequence[ArgT] = ()) -> Any:
        return await self._add(script, [len(keys), *keys, *args])

    async def command(self, *args: KeyT | ArgT) -> Any:
        """Any other command, `PUBLISH` say: `await batcher.command("PUBLISH", channel, data)`."""
        return await self._add(None, list(args))

    async def _add(self, script: Script | None, argv: list[Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((script, argv, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if self._waiting and not self._scheduled and self._sending is None:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send_waiting)

    def _send_waiting(self) -> None:
        self._scheduled = False
        batch, self._waiting = self._waiting, []
        self._sending = asyncio.create_task(self._send(batch))
        self._sending.add_done_callback(self._sent)

    def _sent(self, _: asyncio.Task[None]) -> None:
        self._sending = None
        self._schedule()

    async def _send(self, batch: list[tuple[Script | None, list[Any], asyncio.Future[Any]]]) -> None:
        self.batches += 1
        self.calls += len(batch)
        try:
            results = await self._execute([(script, argv) for script, argv, _ in batch])
        except BaseException as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller went away
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _execute(self, calls: list[tuple[Script | None, list[Any]]]) -> list[Any]:
        results = await self._pipeline(calls)
        unknown = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if unknown:  # Redis restarted since the scripts were loaded
            for script in {calls[i][0] for i in unknown}:
                if script is not None:
                    await self._redis.script_load(script.source)
            for i, result in zip(unknown, await self._pipeline([calls[i] for i in unknown]), strict=True):
                results[i] = result
        return results

    async def _pipeline(self, calls: list[tuple[Script | None, list[Any]]]) -> list[Any]:
        """Send the calls as one write on one pooled connection and read their replies in
        order; an error reply is that call's result. The commands are packed here
        (`pack_command`): redis-py's own packing of a pipeline was the largest single cost
        of the order route's profile (two scripts of ~25 arguments per order). Only
        redis-py's public connection API is used: get, send, read, release."""
        packed = b"".join(
            pack_command(argv if script is None else ["EVALSHA", script.sha, *argv]) for script, argv in calls
        )
        pool = self._redis.connection_pool
        conn = await pool.get_connection()
        try:
            await conn.send_packed_command(packed)
            results: list[Any] = []
            for _ in calls:
                try:
                    results.append(await conn.read_response())
                except ResponseError as exc:  # an error reply; the connection is fine
                    results.append(exc)
            return results
        except BaseException:
            # Cancelled or failed mid-way: replies may still be unread on the socket.
            await conn.disconnect()
            raise
        finally:
            await pool.release(conn)


def pack_command(argv: Sequence[Any]) -> bytes:
    """One command in RESP, its arguments encoded as redis-py encodes them (bytes as they
    are, str as UTF-8, int and float by repr; bool and anything else refused)."""
    out = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        kind = type(arg)
        data = arg.encode() if kind is str else arg if kind is bytes else _encode(arg)
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


def _encode(arg: Any) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, int | float) and not isinstance(arg, bool):
        return repr(arg).encode()
    raise DataError(f"Invalid input of type: {type(arg).__name__!r}.")


_batchers: weakref.WeakKeyDictionary[Redis, RedisBatcher] = weakref.WeakKeyDictionary()


def batcher_for(redis: Redis) -> RedisBatcher:
    """The one `RedisBatcher` of a Redis client, made on first use: the order gate, the
    publisher and the worker's record close of one process share its pipelines."""
    batcher = _batchers.get(redis)
    if batcher is None:
        batcher = _batchers[redis] = RedisBatcher(redis)
    return batcher
