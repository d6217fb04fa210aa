"""The fake's REST side: ``handle_http`` routes TF Serving's REST API paths and writes its JSON and errors."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httpx

from clients import json_codec
from clients.errors import http_status
from clients.testing._convert import (
    _is_b64,
    _json_features,
    _json_out,
    _json_tensor,
    _signature_json,
)
from clients.testing._model import (
    CLASSIFY,
    PREDICT,
    REGRESS,
    FakeCall,
    _Status,
)

if TYPE_CHECKING:
    from clients.testing import FakeServer


_POST = re.compile(r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)")
_GET = re.compile(r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?")

def handle_http(server: FakeServer, request: httpx.Request) -> httpx.Response:
    path = request.url.raw_path.decode("ascii")
    try:
        body = _route(server, request, path)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
    except _Status as status:
        payload = json.dumps({"error": status.message}, indent=4).encode("utf-8")
        return httpx.Response(http_status(status.code), content=payload, headers={"Content-Type": "application/json"})

def _route(server: FakeServer, request: httpx.Request, path: str) -> bytes:
    headers = dict(request.headers)
    if request.method == "POST":
        match = _POST.fullmatch(path)
        if not match:
            raise _Status("INVALID_ARGUMENT", f"Malformed request: POST {path}")
        model, version, label, verb = match.groups()
        try:
            document = json_codec.loads(request.content)
        except ValueError:  # orjson and json decode errors
            raise _Status("INVALID_ARGUMENT", "JSON Parse error: Invalid value. at offset: 0") from None
        if not isinstance(document, dict):
            raise _Status("INVALID_ARGUMENT", f"JSON Value: {request.content[:256]!r} Is not object")
        call = FakeCall(verb, "REST", unquote(model), int(version) if version else None,
                        unquote(label) if label else None, document.get("signature_name", ""), headers=headers)
        if verb == "predict":
            return _rest_predict(server, call, document)
        if "examples" not in document:
            raise _Status("INVALID_ARGUMENT", "JSON Value: {...} When method is classify, key 'examples' is expected and was not found")
        call.examples = [_json_features(e) for e in document["examples"]]
        if document.get("context"):
            context = _json_features(document["context"])
            call.examples = [{**context, **e} for e in call.examples]
        server._record(call)
        _, result = server._examples(call, CLASSIFY if verb == "classify" else REGRESS)
        if verb == "classify":
            return json.dumps({"results": [[[label, float(s)] for label, s in ex] for ex in result]}).encode()
        return json.dumps({"results": [float(v) for v in result]}, allow_nan=True).encode()
    if request.method == "GET":
        match = _GET.fullmatch(path)
        if not match:
            raise _Status("INVALID_ARGUMENT", f"Malformed request: GET {path}")
        model, version, label, metadata = match.groups()
        if not model:
            raise _Status("INVALID_ARGUMENT", "Missing model name in request.")
        call = FakeCall("metadata" if metadata else "status", "REST", unquote(model),
                        int(version) if version else None, unquote(label) if label else None, headers=headers)
        server._record(call)
        if metadata:
            entry = server._resolve(call.model, call.version, call.label)
            return json.dumps({
                "model_spec": {"name": call.model, "signature_name": "",
                               "version": str(server._version_number(call.model, call.version, call.label))},
                "metadata": {"signature_def": {"signature_def": {
                    name: _signature_json(sig.spec) for name, sig in entry.signatures.items()}}},
            }).encode()
        return json.dumps({"model_version_status": [
            {"version": str(n), "state": e.state,
             "status": {"error_code": e.error_code, "error_message": e.error_message}}
            for n, e in server._status(call.model, call.version)
        ]}).encode()
    raise _Status("INVALID_ARGUMENT", f"Malformed request: {request.method} {path}")

def _rest_predict(server: FakeServer, call: FakeCall, document: dict[str, Any]) -> bytes:
    if ("inputs" in document) == ("instances" in document):
        raise _Status("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key")
    entry = server._resolve(call.model, call.version, call.label)
    spec = server._signature(entry, call.signature, PREDICT, "REST").spec
    row = "instances" in document
    value = document["instances" if row else "inputs"]
    names = list(spec.inputs)
    if row:
        if not isinstance(value, list) or not value:
            raise _Status("INVALID_ARGUMENT", "Expecting 'instances' to be an list/array")
        if isinstance(value[0], dict) and not _is_b64(value[0]):
            columns = {n: [item.get(n) for item in value] for n in value[0]}
        else:
            columns = {names[0]: value}
    elif isinstance(value, dict) and not _is_b64(value):
        columns = {n: v for n, v in value.items() if n in spec.inputs}
        missing = [n for n in names if n not in value]
        if missing:
            raise _Status("INVALID_ARGUMENT", f"Missing named input: {missing[0]} in 'inputs' object.")
    else:
        if len(names) != 1:
            raise _Status("INVALID_ARGUMENT", "inputs is a plain value/list, but expecting an object as multiple "
                          "input tensors required as per tensorinfo_map")
        columns = {names[0]: value}
    call.inputs = {n: _json_tensor(v, spec.inputs.get(n)) for n, v in columns.items()}
    server._record(call)
    _, outputs = server._predict(call)
    if row:
        if len(outputs) == 1:
            (name, array), = outputs.items()
            payload: Any = [_json_out(name, a) for a in array]
        else:
            batch = len(next(iter(outputs.values())))
            payload = [{n: _json_out(n, a[i]) for n, a in outputs.items()} for i in range(batch)]
        return json.dumps({"predictions": payload}, allow_nan=True).encode()
    if len(outputs) == 1:
        (name, array), = outputs.items()
        payload = _json_out(name, array)
    else:
        payload = {n: _json_out(n, a) for n, a in outputs.items()}
    return json.dumps({"outputs": payload}, allow_nan=True).encode()


# ------------------------------------------------------------------------------------------------- fake channel
