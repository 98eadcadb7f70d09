"""An MCP application on the official Python SDK (`mcp` 2.3), driven line by line over stdin.

It does what a real application does: `OAuthClientProvider` with in-memory storage, a loopback
listener as its redirect URI (RFC 8252 §7.3), and the authorization URL handed to "the browser" -
here printed for the test, which plays the person and then delivers the redirect to the listener.

Protocol: one JSON object per line on stdin, one per line on stdout.

  out {"event": "ready", "redirect_uri": "http://127.0.0.1:PORT/callback"}
  in  {"id": 1, "cmd": "connect", "client_metadata_url": null | "https://..."}
  in  {"id": 2, "cmd": "list_tools"}
  in  {"id": 3, "cmd": "call", "name": "run_job", "arguments": {"job": "test"}}
  in  {"id": 4, "cmd": "tokens"}               -> the stored tokens and client_id
  in  {"id": 5, "cmd": "advance_clock", "seconds": 3660}   -> the client's clock, an hour later
  in  {"id": 6, "cmd": "close"}
  out {"event": "authorize", "url": "..."}     whenever the SDK sends the person to sign in
  out {"id": N, "ok": true, "value": ...} | {"id": N, "ok": false, "error": "..."}
"""

import asyncio
import json
import sys
import time as real_time
from typing import Any
from urllib.parse import parse_qs, urlparse

import anyio
import mcp.client.auth.oauth2 as oauth2_module
import mcp.shared.auth_utils as auth_utils_module
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)


class ShiftedClock:
    """`time` as the SDK's OAuth code reads it, moved forward by `offset` seconds on request."""

    offset = 0.0

    def time(self) -> float:
        return real_time.time() + self.offset


clock = ShiftedClock()
oauth2_module.time = clock  # type: ignore[assignment]
auth_utils_module.time = clock  # type: ignore[assignment]


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class MemoryStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class LoopbackListener:
    """The redirect URI: answers one GET /callback per authorization with the parameters it carried."""

    def __init__(self) -> None:
        self.results: asyncio.Queue[AuthorizationCodeResult | Exception] = asyncio.Queue()
        self.port = 0

    async def start(self) -> None:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readline()).decode("latin-1")
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass
        target = line.split(" ")[1] if line.count(" ") >= 2 else "/"
        query = parse_qs(urlparse(target).query)
        code = query.get("code", [None])[0]
        if code:
            await self.results.put(
                AuthorizationCodeResult(
                    code=code, state=query.get("state", [None])[0], iss=query.get("iss", [None])[0]
                )
            )
        else:
            await self.results.put(RuntimeError(f"authorization refused: {query.get('error', ['?'])[0]}"))
        body = b"You can close this window."
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + body
        )
        await writer.drain()
        writer.close()

    async def next(self) -> AuthorizationCodeResult:
        result = await self.results.get()
        if isinstance(result, Exception):
            raise result
        return result


async def main() -> None:
    server_url = sys.argv[1]
    listener = LoopbackListener()
    await listener.start()
    redirect_uri = f"http://127.0.0.1:{listener.port}/callback"
    storage = MemoryStorage()
    emit({"event": "ready", "redirect_uri": redirect_uri})

    async def redirect_handler(url: str) -> None:
        emit({"event": "authorize", "url": url})

    client: Client | None = None
    async with anyio.create_task_group():
        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline)
            if not line:
                break
            msg = json.loads(line)
            cmd, mid = msg["cmd"], msg.get("id")
            try:
                value: Any = None
                if cmd == "connect":
                    provider = OAuthClientProvider(
                        server_url=server_url,
                        client_metadata=OAuthClientMetadata(
                            client_name="Python SDK matrix client",
                            redirect_uris=[redirect_uri],
                            grant_types=["authorization_code", "refresh_token"],
                            response_types=["code"],
                            token_endpoint_auth_method="none",
                        ),
                        storage=storage,
                        redirect_handler=redirect_handler,
                        callback_handler=listener.next,
                        client_metadata_url=msg.get("client_metadata_url"),
                    )
                    http = create_mcp_http_client(auth=provider)
                    client = Client(streamable_http_client(server_url, http_client=http))
                    await client.__aenter__()
                elif cmd == "list_tools":
                    assert client is not None
                    tools = await client.list_tools()
                    value = sorted(t.name for t in tools.tools)
                elif cmd == "call":
                    assert client is not None
                    result = await client.call_tool(msg["name"], msg.get("arguments") or {})
                    if result.is_error:
                        raise RuntimeError(json.dumps([c.model_dump() for c in result.content]))
                    value = json.dumps([c.model_dump() for c in result.content])
                elif cmd == "tokens":
                    t = storage.tokens
                    value = {
                        "access_token": t.access_token if t else None,
                        "refresh_token": t.refresh_token if t else None,
                        "scope": t.scope if t else None,
                        "client_id": storage.client_info.client_id if storage.client_info else None,
                    }
                elif cmd == "advance_clock":
                    clock.offset += float(msg["seconds"])
                elif cmd == "close":
                    if client is not None:
                        await client.__aexit__(None, None, None)
                    emit({"id": mid, "ok": True, "value": None})
                    return
                else:
                    raise ValueError(f"unknown command {cmd}")
                emit({"id": mid, "ok": True, "value": value})
            except BaseException as err:  # noqa: BLE001 - every failure is reported to the test
                if isinstance(err, (KeyboardInterrupt, SystemExit)):
                    raise
                emit({"id": mid, "ok": False, "error": f"{type(err).__name__}: {describe(err)}"})


def describe(err: BaseException) -> str:
    """The error, with the errors inside an exception group (anyio task groups raise those)."""
    inner = getattr(err, "exceptions", None)
    if inner:
        return "; ".join(f"{type(e).__name__}: {describe(e)}" for e in inner)
    return str(err)


if __name__ == "__main__":
    anyio.run(main)
