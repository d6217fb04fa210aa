"""A seeded fuzz run of REST_COUNT + GRPC_COUNT hostile requests against one live server (raw sockets for REST, a
bytes-level gRPC channel), asserting: no 5xx (REST; libevent's 501 page for a method outside its list is TF Serving's own answer) and no INTERNAL/UNKNOWN (gRPC, except gRPC's own answer to an
unparseable message) for client mistakes, every REST error body a JSON object with a string "error", correct
requests still answered, the server alive, its peak RSS growth over the run below RSS_BOUND_MIB, and no memory kept
per request. For that last check the corpus runs in an order: first the heavy cases (bodies over HEAVY_BYTES, gzip
bodies that inflate) and half of the light ones, then the other half of the light ones, which may leave RSS at most
RETAINED_GROWTH_BOUND_MIB above where the first part left it. The heavy cases settle the allocators' arenas and caches
(+160-300 MiB here, mostly the 100,000-deep JSON documents' lists and the gzip bombs; repeated runs plateau there), so
a tight bound on the whole run's retained RSS would measure that instead of a leak; it gets a loose one
(RETAINED_BOUND_MIB), against a gross leak in the heavy paths.

Failures are reported per kind with a reproducer (the raw request bytes)."""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import grpc

from tests.reliability import fuzz
from tests.support import rss

SEED = 20261201
REST_COUNT = 6000
GRPC_COUNT = 4500
THREADS = 4
RSS_BOUND_MIB = 768  # peak growth over the run; each gzip bomb may inflate 100 MiB before it is refused
_Case = TypeVar("_Case", fuzz.RestCase, fuzz.GrpcCase)
RETAINED_GROWTH_BOUND_MIB = 32  # over the last part (~5,000 light requests; +3-4 MiB measured): > 6 KiB kept per request
HEAVY_BYTES = 64 << 10
RETAINED_BOUND_MIB = 512  # the whole run's retained RSS (140-302 MiB measured: the arenas settling): a gross leak

_SERVER_FAULTS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS,
                  grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


_ALLOWED_METHODS = {b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH"}  # evhttp_set_allowed_methods
_API_PATH = re.compile(rb"(?i)/v1/.*")  # HttpRestApiHandler::kPathRegex: what reaches the JSON API handler


def _libevent_page(case: fuzz.RestCase, answer: fuzz.HttpAnswer) -> bool:
    """TF Serving's libevent answers outside its /v1 handler with its own HTML pages (reference/rest_api.md): 404
    when no handler matches the path, 501 for a method outside its allowed list, 400 for an unparsable request
    line; an OPTIONS preflight on /v1 gets an empty body. Those are TF Serving's answers, not JSON."""
    line = case.raw.split(b"\r\n", 1)[0].split(b" ")
    page = answer.body.startswith(b"<HTML><HEAD>")
    if len(line) != 3 or not line[2].startswith(b"HTTP/"):
        return answer.status == 400 and page
    method, target = line[0], line[1].split(b"?", 1)[0]
    if method not in _ALLOWED_METHODS:
        return answer.status == 501 and page
    if method == b"OPTIONS" and _API_PATH.fullmatch(target):
        return answer.status in (200, 400) and not answer.body
    return answer.status == 404 and page and not _API_PATH.fullmatch(target)


def _rest_problem(case: fuzz.RestCase, answer: fuzz.HttpAnswer) -> str | None:
    if answer.timed_out:
        return f"no answer and no close within {case.timeout:g} s"
    if answer.status is None:
        return None if case.framing else "connection closed without an answer"
    if _libevent_page(case, answer):
        return None
    if answer.status >= 500 or answer.status < 100:
        return f"status {answer.status}: {answer.body[:200]!r}"
    if case.refuse and 200 <= answer.status < 300:
        return f"accepted framing that RFC 9112 forbids (status {answer.status})"
    if case.valid and answer.status != 200:
        return f"a correct request got {answer.status}: {answer.body[:200]!r}"
    if answer.status >= 400:
        try:
            doc = json.loads(answer.body)
        except ValueError:
            return f"status {answer.status} with a non-JSON body: {answer.body[:200]!r}"
        if not isinstance(doc, dict) or not isinstance(doc.get("error"), str):
            return f"status {answer.status} body is not {{\"error\": str}}: {answer.body[:200]!r}"
    return None


def _grpc_problem(case: fuzz.GrpcCase, code: grpc.StatusCode, details: str) -> str | None:
    if case.valid and code != grpc.StatusCode.OK:
        return f"a correct request got {code.name}: {details}"
    if case.garbage and code == grpc.StatusCode.INTERNAL and "deserializ" in details.lower():
        return None  # gRPC's own answer to bytes that are not the message (TF Serving's C++ gRPC does the same)
    if code in _SERVER_FAULTS:
        return f"{code.name}: {details[:200]}"
    return None


def _split(cases: list[_Case], heavy: Callable[[_Case], bool]) -> tuple[list[_Case], list[_Case]]:
    """The heavy cases and the light ones, each in corpus order."""
    return [c for c in cases if heavy(c)], [c for c in cases if not heavy(c)]


def test_fuzz_rest_and_grpc(half_server) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)
    rest_cases = fuzz.rest_cases(rng, REST_COUNT)
    grpc_cases = fuzz.grpc_cases(rng, GRPC_COUNT)
    channel = grpc.insecure_channel(half_server.grpc_target,
                                    options=[("grpc.max_receive_message_length", -1)])
    calls = {name: channel.unary_unary(path, request_serializer=None, response_deserializer=None)
             for name, path in fuzz.GRPC_PATHS.items()}
    problems: dict[str, list[str]] = defaultdict(list)
    kinds: Counter[str] = Counter()
    statuses: Counter[str] = Counter()

    def run_rest(case: fuzz.RestCase) -> None:
        answer = fuzz.exchange(half_server.rest_port, case.raw, case.timeout)
        statuses[f"rest {answer.status}"] += 1
        problem = _rest_problem(case, answer)
        if problem:
            problems[f"REST {case.kind}"].append(f"{problem}\n    request: {case.raw[:300]!r}")

    def run_grpc(case: fuzz.GrpcCase) -> None:
        try:
            calls[case.method](case.payload, timeout=20)
            code, details = grpc.StatusCode.OK, ""
        except grpc.RpcError as exc:
            code, details = exc.code(), exc.details() or ""
        statuses[f"grpc {code.name}"] += 1
        problem = _grpc_problem(case, code, details)
        if problem:
            problems[f"gRPC {case.kind}"].append(f"{problem}\n    {case.method} bytes: {case.payload[:300]!r}")

    for case in rest_cases:
        kinds[f"REST {case.kind}"] += 1
    for case in grpc_cases:
        kinds[f"gRPC {case.kind}"] += 1
    before = rss.reset_peak(half_server.pid)
    start = time.monotonic()
    rest_heavy, rest_light = _split(rest_cases, lambda case: len(case.raw) > HEAVY_BYTES or b"gzip" in case.raw[:2048])
    grpc_heavy, grpc_light = _split(grpc_cases, lambda case: len(case.payload) > HEAVY_BYTES)
    after_part: list[int] = []
    with ThreadPoolExecutor(THREADS) as pool:
        for grpc_part, rest_part in ((grpc_heavy + grpc_light[::2], rest_heavy + rest_light[::2]),
                                     (grpc_light[1::2], rest_light[1::2])):
            list(pool.map(run_grpc, grpc_part))
            list(pool.map(run_rest, rest_part))
            after_part.append(rss.rss_kib(half_server.pid))
    elapsed = time.monotonic() - start
    peak_growth = (rss.peak_kib(half_server.pid) - before) / 1024
    retained = (after_part[1] - before) / 1024
    last_part_growth = (after_part[1] - after_part[0]) / 1024
    channel.close()

    total = len(rest_cases) + len(grpc_cases)
    print(f"\nFUZZ: {total} requests ({len(rest_cases)} REST, {len(grpc_cases)} gRPC) in {elapsed:.1f} s; "
          f"server peak RSS +{peak_growth:.0f} MiB, retained +{retained:.0f} MiB, of it {last_part_growth:+.0f} MiB "
          f"over the last {len(grpc_light[1::2]) + len(rest_light[1::2])} light requests; "
          f"problems: {sum(len(v) for v in problems.values())}")
    print("FUZZ statuses:", dict(sorted(statuses.items())))
    report = []
    for kind, items in sorted(problems.items()):
        report.append(f"{kind}: {len(items)} of {kinds[kind]}, e.g.\n  " + "\n  ".join(items[:3]))
    assert half_server.process.poll() is None, "the server died during the fuzz run"
    assert total >= 10_000
    assert not problems, "\n".join(report)
    assert peak_growth < RSS_BOUND_MIB, f"server peak RSS grew {peak_growth:.0f} MiB"
    assert retained < RETAINED_BOUND_MIB, f"server RSS stayed {retained:.0f} MiB higher after the run"
    assert last_part_growth < RETAINED_GROWTH_BOUND_MIB, (
        f"server RSS grew {last_part_growth:.0f} MiB over the last part of the corpus "
        f"(after the first part: +{(after_part[0] - before) / 1024:.0f} MiB)")


def test_server_still_answers_after_fuzz(half_server) -> None:  # type: ignore[no-untyped-def]
    """Runs after the fuzz test in the same module (same server): the latest version (2: y = 0.5x + 3) answers."""
    answer = fuzz.exchange(half_server.rest_port, fuzz._post('{"instances": [2.0]}'))
    assert answer.status == 200 and json.loads(answer.body) == {"predictions": [4.0]}
