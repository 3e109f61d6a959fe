"""How `asl serve` talks TCP: TCP_NODELAY on every connection (else each answer waits for the
client's delayed ACK) and answers sent whole, also when the connection closes after them."""
from __future__ import annotations

import asyncio
import json
import socket

from asl.cli.serve import bound_socket

# server: the fixture (a real `asl serve` process on a memory store)
from test_service import server  # noqa: F401


def test_connections_of_the_bound_socket_have_tcp_nodelay():
    async def main() -> int:
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        listening = bound_socket("127.0.0.1", 0)
        srv = await asyncio.get_running_loop().create_server(Probe, sock=listening)
        try:
            _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
            nodelay = await asyncio.wait_for(seen, 10)
            writer.close()
        finally:
            srv.close()
        return nodelay

    assert asyncio.run(main()) != 0


def _raw(port: int, requests: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(requests)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _request(target: str, body: dict, close: bool) -> bytes:
    payload = json.dumps(body).encode()
    return (f"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.{target}\r\n"
            f"Content-Type: application/x-amz-json-1.0\r\nContent-Length: {len(payload)}\r\n"
            + ("Connection: close\r\n" if close else "") + "\r\n").encode() + payload


def _answers(raw: bytes) -> list[tuple[int, dict]]:
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        out.append((int(lines[0].split()[1]), json.loads(rest[:length])))
        raw = rest[length:]
    return out


def test_answers_arrive_whole_on_kept_and_closed_connections(server):  # noqa: F811
    # two requests on one connection, the second asking to close it: both answers come whole
    # (head and body), the connection ends after the second
    raw = _raw(server.port, _request("ListStateMachines", {}, close=False)
               + _request("DescribeExecution", {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:"
                                                                "nope:x"}, close=True))
    answers = _answers(raw)
    assert answers[0] == (200, {"stateMachines": []})
    assert answers[1][0] == 400 and answers[1][1]["__type"] == "ExecutionDoesNotExist"
    assert len(answers) == 2


def test_the_server_tells_the_app_whether_an_answer_was_written():
    """`asl serve`'s uvicorn protocol gives each request the ``asl.written`` extension: True for an
    answer written to the connection, False for one sent after the client had gone (uvicorn's send
    then writes nothing, without a word); a GetActivityTask answer not written gives its task back."""
    import uvicorn

    from asl.cli.serve import _one_write_protocol

    async def main() -> dict[str, bool]:
        written: dict[str, bool] = {}

        async def app(scope, receive, send) -> None:
            if scope["type"] != "http":
                return
            while (await receive()).get("more_body"):
                pass
            if scope["path"] == "/gone":  # answer once the client has gone
                while (await receive())["type"] != "http.disconnect":
                    pass
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})
            written[scope["path"]] = await scope["extensions"]["asl.written"]()

        listening = bound_socket("127.0.0.1", 0)
        server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", loop="asyncio",
                                               http=_one_write_protocol()))
        serving = asyncio.create_task(server.serve(sockets=[listening]))
        try:
            while not server.started:
                await asyncio.sleep(0.01)
            port = listening.getsockname()[1]
            for path in ("/here", "/gone"):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                await writer.drain()
                if path == "/gone":
                    writer.close()
                else:
                    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
                    writer.close()
                while path not in written:
                    await asyncio.sleep(0.01)
        finally:
            server.should_exit = True
            await serving
        return written

    assert asyncio.run(main()) == {"/here": True, "/gone": False}
