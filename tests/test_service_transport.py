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
