"""Floors: a bare grpcio server and a bare HTTP/1.1 server that answer every Predict with one fixed reply, no
model behind it. ``tfs bench`` measures its own ceiling against them; the benchmarks compare ``tfs serve`` to them.

    python -m toolkit.bench.trivial --grpc-port 0 --rest-port 0    # prints "READY grpc=PORT rest=PORT"
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

PREDICT_PATH = "/tensorflow.serving.PredictionService/Predict"
REST_REPLY = b'{"outputs": [2.5]}'


def grpc_reply(model: str = "trivial") -> bytes:
    """A serialized PredictResponse: output ``y`` = float32 [2.5] (the shape half_plus_two answers)."""
    from clients._proto import serving_pb2
    from clients.codec import encode_tensor

    response = serving_pb2.PredictResponse()
    response.model_spec.name = model
    response.model_spec.version.value = 1
    encode_tensor(np.array([2.5], dtype=np.float32), tensor=response.outputs["y"])
    return response.SerializeToString()


def start_grpc(port: int, threads: int = 16):
    """A grpcio server on 127.0.0.1 answering Predict with ``grpc_reply()``; returns (server, port)."""
    import grpc

    reply = grpc_reply()

    def predict(request: bytes, context: object) -> bytes:
        return reply

    handler = grpc.method_handlers_generic_handler(
        "tensorflow.serving.PredictionService",
        {"Predict": grpc.unary_unary_rpc_method_handler(predict)},  # bytes in, bytes out
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads),
                         options=[("grpc.max_receive_message_length", -1)])
    server.add_generic_rpc_handlers((handler,))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, bound


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as TF Serving

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply(200, REST_REPLY)

    def do_GET(self) -> None:  # noqa: N802
        self._reply(404, b'{"error": "trivial server: only :predict"}')

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        # headers and body leave in one write (http.server's header buffer; typeshed does not declare it)
        self._headers_buffer.append(b"\r\n" + body)  # type: ignore[attr-defined]
        self.flush_headers()

    def log_message(self, *args: object) -> None:
        pass


def start_http(port: int) -> ThreadingHTTPServer:
    """A thread-per-connection HTTP/1.1 server on 127.0.0.1 answering every POST with ``REST_REPLY``."""
    class _Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # the default backlog of 5 drops SYNs when many clients connect at once

    server = _Server(("127.0.0.1", port), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grpc-port", type=int, default=0)
    parser.add_argument("--rest-port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    grpc_server, grpc_port = start_grpc(args.grpc_port, args.threads)
    http_server = start_http(args.rest_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"READY grpc={grpc_port} rest={http_server.server_address[1]}", flush=True)
    try:
        while not stop.wait(0.5):
            if sys.stdin.closed:
                break
    except KeyboardInterrupt:
        pass
    http_server.shutdown()
    grpc_server.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
