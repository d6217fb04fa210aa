"""Seeded generators of hostile REST and gRPC requests for test_fuzz, and a raw HTTP/1.1 exchange over a socket.

Every REST case is a whole request as bytes (so framing itself can be wrong); every gRPC case is a method name and
the serialized request bytes (so the protobuf itself can be garbage). ``kind`` groups cases in the failure report.
"""

from __future__ import annotations

import gzip
import json
import random
import socket
import zlib
from dataclasses import dataclass
from functools import cache

from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    predict_pb2,
    regression_pb2,
)

MODEL = "half"  # x: float32[None] -> y
DT = types_pb2


@dataclass(frozen=True)
class RestCase:
    kind: str
    raw: bytes
    framing: bool = False  # the framing itself is broken: closing without an answer is acceptable
    valid: bool = False  # a correct request: must answer 200
    refuse: bool = False  # framing that RFC 9112 forbids (request smuggling behind a proxy): must not answer 2xx
    timeout: float = 5.0  # seconds the server may stay silent; more for the big legitimate bodies


@dataclass(frozen=True)
class GrpcCase:
    kind: str
    method: str
    payload: bytes
    garbage: bool = False  # not a parseable message: gRPC's own INTERNAL "deserializing" answer is acceptable
    valid: bool = False


# ------------------------------------------------------------------------------------------ HTTP exchange
@dataclass
class HttpAnswer:
    status: int | None  # None: the server closed without answering
    body: bytes
    timed_out: bool = False


def exchange(port: int, raw: bytes, timeout: float = 5.0) -> HttpAnswer:
    """Send ``raw``, half-close, read until the server closes; parse the first response (Content-Length or
    chunked body)."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close early on a bad request; read what it said
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                if _complete(data):
                    break
        except TimeoutError:
            if not data:
                return HttpAnswer(None, b"", timed_out=True)
        except OSError:
            pass
    if not data:
        return HttpAnswer(None, b"")
    return _parse(data)


def _split(data: bytes) -> tuple[int, dict[str, str], bytes] | None:
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, rest


def _dechunk(rest: bytes) -> bytes | None:
    body = b""
    while True:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            return None
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return body
        if len(rest) < size + 2:
            return None
        body, rest = body + rest[:size], rest[size + 2 :]


def _complete(data: bytes) -> bool:
    split = _split(data)
    if split is None:
        return False
    _status, headers, rest = split
    if "content-length" in headers:
        return len(rest) >= int(headers["content-length"])
    if "chunked" in headers.get("transfer-encoding", ""):
        return _dechunk(rest) is not None
    return False


def _parse(data: bytes) -> HttpAnswer:
    split = _split(data)
    if split is None:
        return HttpAnswer(-1, data)
    status, headers, rest = split
    if "content-length" in headers:
        return HttpAnswer(status, rest[: int(headers["content-length"])])
    if "chunked" in headers.get("transfer-encoding", ""):
        return HttpAnswer(status, _dechunk(rest) or rest)
    return HttpAnswer(status, rest)


# ------------------------------------------------------------------------------------------ REST cases
def _request(method: str, target: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
             length: bool = True) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers or []]
    if length and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers or []):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _post(body: bytes | str, verb: str = "predict", headers: list[tuple[str, str]] | None = None) -> bytes:
    data = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
    return _request("POST", f"/v1/models/{MODEL}:{verb}", data, headers)


def _nested(depth: int, leaf: str = "1.0") -> str:
    return "[" * depth + leaf + "]" * depth


@cache
def _gzip_over_limit() -> bytes:
    """150 MiB of spaces before a valid document (over the 100 MiB gunzip limit), about 150 KB compressed."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * (1 << 20)
    out = [compressor.compress(chunk) for _ in range(150)]
    out.append(compressor.compress(b'{"instances": [1.0]}'))
    out.append(compressor.flush())
    return b"".join(out)


@cache
def _gzip_json_bomb() -> bytes:
    """8 MiB of JSON numbers from about 20 KB of gzip."""
    return gzip.compress(b'{"instances": [' + b"1," * (4 << 20) + b"1]}", 9)


def rest_cases(rng: random.Random, count: int) -> list[RestCase]:
    """``count`` cases: a fixed handful of the expensive ones (gzip bombs, broken framing), the rest drawn."""
    fixed: list[RestCase] = []
    gz = [("Content-Encoding", "gzip")]
    for _ in range(3):
        fixed.append(RestCase("gzip_over_limit", _post(_gzip_over_limit(), headers=gz)))
        # a valid 8 MiB predict (4M scalars) whose answer is 20 MiB: served, in seconds on a loaded machine
        fixed.append(RestCase("gzip_json_bomb", _post(_gzip_json_bomb(), headers=gz), timeout=60.0))
    forbidden_sizes = {"-1", "-2", "0x13", "+13", "zz", "1" * 40}
    for size in (*sorted(forbidden_sizes), "13 ", " 13"):
        body = b'{"instances":[1.0]}'
        raw = _request("POST", f"/v1/models/{MODEL}:predict", f"{size}\r\n".encode() + body + b"\r\n0\r\n\r\n",
                       [("Transfer-Encoding", "chunked")])
        fixed.append(RestCase("bad_chunk_size", raw, framing=True, refuse=size in forbidden_sizes))
    forbidden_lengths = {"+19", "1_9", "-1", "0x13", "abc"}
    for length in (*sorted(forbidden_lengths), " 19", "99999999999", "19, 19"):
        raw = _request("POST", f"/v1/models/{MODEL}:predict", b'{"instances":[1.0]}', [("Content-Length", length)])
        fixed.append(RestCase("bad_content_length", raw, framing=True, refuse=length in forbidden_lengths))
    fixed.append(RestCase("bad_content_length", _request(
        "POST", f"/v1/models/{MODEL}:predict", b'{"instances":[1.0]}',
        [("Content-Length", "19"), ("Content-Length", "20")]), framing=True, refuse=True))
    fixed.append(RestCase("te_and_cl", _request(
        "POST", f"/v1/models/{MODEL}:predict", b'13\r\n{"instances":[1.0]}\r\n0\r\n\r\n',
        [("Content-Length", "5"), ("Transfer-Encoding", "chunked")]), framing=True))
    drawn = [_draw_rest(rng) for _ in range(max(0, count - len(fixed)))]
    cases = fixed + drawn
    rng.shuffle(cases)
    return cases


_GENERATORS: list[tuple[str, int]] = [
    ("valid", 8), ("malformed_json", 10), ("wrong_types", 10), ("ragged", 6), ("deep", 6), ("big_int", 4),
    ("bad_b64", 5), ("invalid_utf8", 6), ("unknown_path", 10), ("traversal", 10), ("method", 4),
    ("junk_request_line", 3), ("junk_header", 3), ("truncated_body", 5), ("chunked_ok_or_bad", 4),
    ("gzip_corrupt", 3), ("classify_regress", 5),
]


def _draw_rest(rng: random.Random) -> RestCase:
    kind = rng.choices([k for k, _ in _GENERATORS], weights=[w for _, w in _GENERATORS])[0]
    return _REST[kind](rng)


def _valid(rng: random.Random) -> RestCase:
    n = rng.randint(1, 8)
    values = [round(rng.uniform(-100, 100), 3) for _ in range(n)]
    if rng.random() < 0.5:
        return RestCase("valid", _post(json.dumps({"instances": values})), valid=True)
    target = rng.choice([f"/v1/models/{MODEL}", f"/v1/models/{MODEL}/versions/1", f"/v1/models/{MODEL}/metadata",
                         f"/v1/models/{MODEL}/labels/stable"])
    if target.endswith("stable"):
        return RestCase("valid", _post(json.dumps({"inputs": values})).replace(
            f"/v1/models/{MODEL}:".encode(), f"/v1/models/{MODEL}/labels/stable:".encode()), valid=True)
    return RestCase("valid", _request("GET", target), valid=True)


def _malformed_json(rng: random.Random) -> RestCase:
    good = json.dumps({"instances": [1.0, 2.0, 3.0], "signature_name": "serving_default"})
    options = [
        good[: rng.randint(0, len(good) - 1)],
        good.replace(":", "", 1),
        good + "}",
        "{" * rng.randint(1, 50),
        '{"instances": [1,]}',
        "{'instances': [1]}",
        '{"instances": [NaN, Infinity, -Infinity]}',
        '{"instances": [1e999999]}',
        "",
        "null",
        bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64))).decode("latin-1"),
        '{"instances": [1.0], "instances": "x"}',
        '{"instances": [1.0]} trailing',
        '\ufeff{"instances": [1.0]}',
    ]
    return RestCase("malformed_json", _post(rng.choice(options)))


def _wrong_types(rng: random.Random) -> RestCase:
    options = [
        {"instances": "x"}, {"instances": 1}, {"instances": None}, {"instances": {}}, {"instances": True},
        {"inputs": "x"}, {"inputs": {"x": "y"}}, {"inputs": {"nope": [1.0]}}, {"inputs": [1.0], "instances": [1.0]},
        {"instances": ["a", "b"]}, {"instances": [True, False]}, {"instances": [{"x": "a"}]},
        {"instances": [{"nope": 1.0}]}, {"instances": [1.0], "signature_name": 5},
        {"instances": [1.0], "signature_name": "nope"}, {}, [], {"instances": [[{"b64": "AA=="}]]},
        {"instances": [None]}, {"instances": [[[]]]}, {"instances": []}, {"inputs": {}},
    ]
    return RestCase("wrong_types", _post(json.dumps(rng.choice(options))))


def _ragged(rng: random.Random) -> RestCase:
    options = [
        {"instances": [[1.0], [1.0, 2.0]]}, {"instances": [1.0, [2.0]]}, {"inputs": [[1.0, 2.0], [3.0]]},
        {"instances": [[1.0, "a"], [2.0, 3.0]]}, {"inputs": {"x": [[1], [[2]]]}}, {"instances": [[], [1.0]]},
    ]
    return RestCase("ragged", _post(json.dumps(rng.choice(options))))


def _deep(rng: random.Random) -> RestCase:
    depth = rng.choice([rng.randint(2, 64), 65, 66, rng.randint(65, 200), 1000, 5000, 100_000])
    key = rng.choice(["instances", "inputs"])
    return RestCase("deep", _post(f'{{"{key}": {_nested(depth)}}}'))


def _big_int(rng: random.Random) -> RestCase:
    digits = rng.choice([19, 20, 40, 4300, 4301, 5000, 20000])
    number = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(digits - 1))
    key = rng.choice(["instances", "inputs"])
    return RestCase("big_int", _post(f'{{"{key}": [{number}]}}'))


def _bad_b64(rng: random.Random) -> RestCase:
    value = rng.choice(["!!!", "A", "AAA", "====", "QQ=", "\u00e9", "", "A" * 1001 + "!", "AA==AA=="])
    extra = rng.choice(["", ', "x": 1'])
    body = f'{{"instances": [{{"b64": "{value}"{extra}}}]}}'
    return RestCase("bad_b64", _post(body, verb=rng.choice(["predict", "classify", "regress"])))


def _invalid_utf8(rng: random.Random) -> RestCase:
    options = [
        b'{"\xff": [1]}', b'{"instances": ["\xff\xfe"]}', b'{"instances": [1.0], "signature_name": "\xc3"}',
        b'{"examples": [{"\xed\xa0\x80": 1}]}', b'{"inputs": {"\x80x": [1.0]}}', b'\xff\xff\xff',
        b'{"instances": [{"b64": "\xff"}]}',
    ]
    return RestCase("invalid_utf8", _post(rng.choice(options), verb=rng.choice(["predict", "classify", "regress"])))


def _unknown_path(rng: random.Random) -> RestCase:
    paths = [
        "/", "/v1", "/v1/models", "/v1/models/", "/v2/models/half", f"/v1/models/{MODEL}:explode",
        f"/v1/models/{MODEL}/versions/abc", f"/v1/models/{MODEL}/versions/", f"/v1/models/{MODEL}/labels/",
        f"/v1/models/{MODEL}/versions/99999999999999999999", f"/v1/models/{MODEL}/versions/-1",
        "/v1/models/nope", "/v1/models/nope:predict", "/monitoring/prometheus/metrics", "/" + "a" * 8000,
        f"/v1/models/{MODEL}?x=" + "%" * 50, "/v1/models/%zz", "/v1/models/%", "*", "http://evil/v1/models/half",
        f"/v1/models/{MODEL}/metadata/extra", f"/V1/MODELS/{MODEL}",
    ]
    method = rng.choice(["GET", "POST"])
    body = b'{"instances":[1.0]}' if method == "POST" else b""
    return RestCase("unknown_path", _request(method, rng.choice(paths), body))


def _traversal(rng: random.Random) -> RestCase:
    names = ["..", "../..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "half%2F..%2F..", "%00", "half%00", "/etc/passwd",
             "..\\..", "~root", "half/../half", "%2Fetc", "half%252F..", "....//"]
    name = rng.choice(names)
    suffix = rng.choice(["", "/versions/1", "/versions/..%2F1", "/labels/..", "/labels/..%2F..%2Fx", "/metadata"])
    if rng.random() < 0.5:
        return RestCase("traversal", _request("GET", f"/v1/models/{name}{suffix}"))
    return RestCase("traversal", _post(b'{"instances":[1.0]}').replace(
        f"/v1/models/{MODEL}:".encode(), f"/v1/models/{name}{suffix}:".encode()))


def _method(rng: random.Random) -> RestCase:
    method = rng.choice(["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"])
    target = rng.choice([f"/v1/models/{MODEL}", f"/v1/models/{MODEL}:predict"])
    if method == "CONNECT":
        target = "127.0.0.1:80"
    return RestCase("method", _request(method, target, b'{"instances":[1.0]}'))


def _junk_request_line(rng: random.Random) -> RestCase:
    options = [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /v1/models/half HTTP/1.1",
               b"\r\n\r\n", bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200))),
               b"GET /v1/models/half HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", b"GET  /v1  HTTP/1.1\r\n\r\n"]
    return RestCase("junk_request_line", rng.choice(options), framing=True)


def _junk_header(rng: random.Random) -> RestCase:
    options = [
        b"GET /v1/models/half HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /v1/models/half HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",
        b"GET /v1/models/half HTTP/1.1\r\nX-\xff: \xfe\r\n\r\n",
        b"GET /v1/models/half HTTP/1.1\r\n : empty\r\n\r\n",
        b"GET /v1/models/half HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
    ]
    return RestCase("junk_header", rng.choice(options), framing=True)


def _truncated_body(rng: random.Random) -> RestCase:
    body = b'{"instances":[1.0,2.0,3.0]}'
    raw = _request("POST", f"/v1/models/{MODEL}:predict", body[: rng.randint(0, len(body) - 1)],
                   [("Content-Length", str(len(body) + rng.randint(1, 1000)))])
    return RestCase("truncated_body", raw, framing=True)


def _chunked(rng: random.Random) -> RestCase:
    body = b'{"instances":[1.0]}'
    good = rng.random() < 0.5
    pieces = [body[:5], body[5:]] if good else [body]
    chunks = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces)
    if not good:
        chunks = rng.choice([chunks[:-2], f"{len(body) + 5:x}\r\n".encode() + body + b"\r\n0\r\n\r\n", chunks])
    raw = _request("POST", f"/v1/models/{MODEL}:predict", chunks + (b"0\r\n\r\n" if good else b""),
                   [("Transfer-Encoding", "chunked")])
    return RestCase("chunked_ok_or_bad", raw, framing=not good, valid=good)


def _gzip_corrupt(rng: random.Random) -> RestCase:
    data = gzip.compress(b'{"instances":[1.0]}')
    options = [data[: len(data) // 2], b"not gzip", data[:10] + b"\x00" * 10 + data[20:], gzip.compress(b"{bad")]
    return RestCase("gzip_corrupt", _post(rng.choice(options), headers=[("Content-Encoding", "gzip")]))


def _classify_regress(rng: random.Random) -> RestCase:
    options = [{"examples": [{"x": 1.0}]}, {"examples": "x"}, {"examples": [[1]]}, {"examples": [{"x": [[1]]}]},
               {"examples": [{"x": {"b64": "!!"}}]}, {"context": 1, "examples": []}, {"examples": [{"x": None}]}]
    return RestCase("classify_regress", _post(json.dumps(rng.choice(options)), verb=rng.choice(["classify", "regress"])))


_REST = {
    "valid": _valid, "malformed_json": _malformed_json, "wrong_types": _wrong_types, "ragged": _ragged,
    "deep": _deep, "big_int": _big_int, "bad_b64": _bad_b64, "invalid_utf8": _invalid_utf8,
    "unknown_path": _unknown_path, "traversal": _traversal, "method": _method,
    "junk_request_line": _junk_request_line, "junk_header": _junk_header, "truncated_body": _truncated_body,
    "chunked_ok_or_bad": _chunked, "gzip_corrupt": _gzip_corrupt, "classify_regress": _classify_regress,
}


# ------------------------------------------------------------------------------------------ gRPC cases
def _tensor(rng: random.Random) -> tensor_pb2.TensorProto:
    choice = rng.randrange(12)
    proto = tensor_pb2.TensorProto(dtype=DT.DT_FLOAT)
    dims = [rng.randint(1, 4)]
    if choice == 0:  # huge claimed shape, few or no values
        dims = [rng.choice([10**8, 375_000_000, 2**31, 2**40])]
        proto.dtype = rng.choice([DT.DT_FLOAT, DT.DT_STRING, DT.DT_INT64, DT.DT_DOUBLE])
        if rng.random() < 0.5 and proto.dtype == DT.DT_FLOAT:
            proto.float_val.append(1.0)
    elif choice == 1:
        dims = [rng.randint(1, 4)] * rng.choice([0, 2, 65, 254, 255, 300])
    elif choice == 2:
        dims = [-rng.randint(1, 5)]
    elif choice == 3:
        dims = [2**40, 2**40]
    elif choice == 4:
        proto.tensor_content = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 17)))
    elif choice == 5:
        proto.dtype = rng.choice([DT.DT_STRING, DT.DT_INT32, DT.DT_BOOL, DT.DT_RESOURCE, DT.DT_VARIANT, 999])
    elif choice == 6:
        proto.dtype = DT.DT_STRING
        proto.string_val.extend([b"\xff\xfe", b""])
    elif choice == 7:
        proto.tensor_shape.unknown_rank = True
    elif choice == 8:
        proto.float_val.extend([1.0] * rng.randint(5, 50))  # more values than the shape
    elif choice == 9:
        proto.dtype = DT.DT_STRING
        proto.tensor_content = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 20)))
    else:
        proto.float_val.extend([rng.uniform(-5, 5) for _ in range(dims[0])])
    for d in dims:
        proto.tensor_shape.dim.add().size = d
    return proto


def _spec(request: object, rng: random.Random) -> None:
    spec = request.model_spec  # type: ignore[attr-defined]
    spec.name = rng.choice([MODEL] * 6 + ["", "nope", "../..", "..%2F", "half\x00", "/etc/passwd", "h" * 5000])
    pick = rng.randrange(8)
    if pick == 0:
        spec.version.value = rng.choice([-1, 0, 3, 2**62, 1])
    elif pick == 1:
        spec.version_label = rng.choice(["stable", "nope", "../..", "", "\x00", "canary"])
    if rng.random() < 0.2:
        spec.signature_name = rng.choice(["nope", "", "half_plus_three", "../x"])


def grpc_cases(rng: random.Random, count: int) -> list[GrpcCase]:
    return [_draw_grpc(rng) for _ in range(count)]


def _draw_grpc(rng: random.Random) -> GrpcCase:
    roll = rng.random()
    if roll < 0.08:  # a correct predict
        request = predict_pb2.PredictRequest()
        request.model_spec.name = MODEL
        request.inputs["x"].CopyFrom(tensor_pb2.TensorProto(dtype=DT.DT_FLOAT, float_val=[1.0, 2.0],
                                                            tensor_shape={"dim": [{"size": 2}]}))
        return GrpcCase("valid", "Predict", request.SerializeToString(), valid=True)
    if roll < 0.25:  # garbage bytes or a truncated message
        if rng.random() < 0.5:
            payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
        else:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = MODEL
            request.inputs["x"].CopyFrom(_tensor(rng))
            full = request.SerializeToString()
            payload = full[: rng.randint(1, max(1, len(full) - 1))]
        method = rng.choice(["Predict", "Classify", "Regress", "MultiInference", "GetModelMetadata", "GetModelStatus"])
        return GrpcCase("garbage_protobuf", method, payload, garbage=True)
    if roll < 0.75:
        request = predict_pb2.PredictRequest()
        _spec(request, rng)
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            request.inputs[rng.choice(["x", "y", "", "x\xff"])].CopyFrom(_tensor(rng))
        if rng.random() < 0.1:
            request.output_filter.append(rng.choice(["y", "nope", "y"]))
            request.output_filter.append("y")
        return GrpcCase("predict", "Predict", request.SerializeToString())
    if roll < 0.85:
        request_type = rng.choice([classification_pb2.ClassificationRequest, regression_pb2.RegressionRequest])
        request = request_type()
        _spec(request, rng)
        if rng.random() < 0.7:
            example = request.input.example_list.examples.add()
            example.features.feature["x"].float_list.value.append(1.0)
        method = "Classify" if request_type is classification_pb2.ClassificationRequest else "Regress"
        return GrpcCase("classify_regress", method, request.SerializeToString())
    if roll < 0.93:
        request = get_model_metadata_pb2.GetModelMetadataRequest()
        _spec(request, rng)
        request.metadata_field.extend(rng.choice([[], ["signature_def"], ["nope"], ["signature_def", "x"]]))
        return GrpcCase("metadata", "GetModelMetadata", request.SerializeToString())
    request = get_model_status_pb2.GetModelStatusRequest()
    _spec(request, rng)
    return GrpcCase("status", "GetModelStatus", request.SerializeToString())


GRPC_PATHS = {
    "Predict": "/tensorflow.serving.PredictionService/Predict",
    "Classify": "/tensorflow.serving.PredictionService/Classify",
    "Regress": "/tensorflow.serving.PredictionService/Regress",
    "MultiInference": "/tensorflow.serving.PredictionService/MultiInference",
    "GetModelMetadata": "/tensorflow.serving.PredictionService/GetModelMetadata",
    "GetModelStatus": "/tensorflow.serving.ModelService/GetModelStatus",
}

