"""REST routing and handlers of the embedded runtime, independent of the HTTP transport (reference/rest_api.md).

``RestApi.handle(method, target, headers, body)`` returns a ``Reply``. It applies TF Serving's URL regexes to the
RAW path plus query, percent-decodes names and labels afterwards, parses bodies with TF Serving's rules, calls the
shared ``ServingCore`` with official request messages, and maps ``ServingError`` codes to HTTP statuses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

from toolkit.server.errors import ServingError, http_status
from toolkit.server.frontend_contract import ServingCore
from toolkit.server.rest_examples import classification_json, fill_input, regression_json
from toolkit.server.rest_json import debug_json, error_body, invalid, parse_document, proto_text
from toolkit.server.rest_numeric import NumericBlock, extract_blocks, restore_blocks
from toolkit.server.rest_tensor import (
    dense_to_proto,
    outputs_json,
    predictions_json,
    tensors_from_inputs,
    tensors_from_instances,
)

logger = logging.getLogger(__name__)

_FLAGS = re.IGNORECASE | re.ASCII
V1_PATH = re.compile(r"/v1/.*", _FLAGS)
PREDICTION_API = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)", _FLAGS
)
MODEL_STATUS_API = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?", _FLAGS
)
_HTTP_ORIGIN = re.compile(r"https?://")
_INT64_MAX = (1 << 63) - 1
DEFAULT_SIGNATURE = "serving_default"
DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"

# libevent's evhttp_send_error page (ERR_FORMAT) for a path no handler claims.
NOT_FOUND_HTML = (
    b"<HTML><HEAD>\n<TITLE>404 Not Found</TITLE>\n</HEAD><BODY>\n<H1>Not Found</H1>\n</BODY></HTML>\n"
)
_CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, GET"),
    ("Access-Control-Allow-Headers", "Content-Type"),
)
_JSON = ("Content-Type", "application/json")


@dataclass
class Reply:
    """An HTTP answer: status, headers and body; ``close`` asks the transport to end the connection."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False


def curl_unescape(text: str) -> str:
    """``curl_easy_unescape``: %XX (hex) becomes the byte; anything else (``+``, stray ``%``) stays as is."""
    if "%" not in text:
        return text
    raw = text.encode("latin-1", "replace")
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25 and i + 2 < n and _is_hex(raw[i + 1]) and _is_hex(raw[i + 2]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", "replace")


def _is_hex(byte: int) -> bool:
    return 48 <= byte <= 57 or 65 <= byte <= 70 or 97 <= byte <= 102


def _version(text: str) -> int:
    """``absl::SimpleAtoi`` into int64 of the ``\\d+`` capture (leading zeros fine, overflow an error)."""
    value = int(text)
    if value > _INT64_MAX:
        raise invalid(f"Failed to convert version: {text} to numeric.")
    return value


def _model_spec(name: str, version: str | None, label: str | None) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=curl_unescape(name))
    if version is not None:
        spec.version.value = _version(version)
    elif label is not None:
        spec.version_label = curl_unescape(label)
    return spec


def _document(body: bytes | bytearray, empty_hint: str) -> dict[str, Any]:
    """``ParseJson`` + the top-level object check."""
    doc = parse_document(body, empty_hint=empty_hint)
    if type(doc) is not dict:
        raise invalid(f"JSON Value: {debug_json(doc)} Is not object")
    return doc


def _signature_name(doc: dict[str, Any]) -> str:
    """``FillSignature``: optional, must be a string."""
    if "signature_name" not in doc:
        return ""
    value = doc["signature_name"]
    if type(value) is not str:
        raise invalid(
            f"JSON Value: {debug_json(doc)} not formatted correctly. 'signature_name' key must be a string value."
        )
    return proto_text(value)


def _proto_json(message: Any) -> str:
    return json_format.MessageToJson(
        message, preserving_proto_field_name=True, indent=1, always_print_fields_with_no_presence=True
    )


class RestApi:
    """The REST handlers of ``tfs serve`` over one ``ServingCore``."""

    def __init__(
        self,
        core: ServingCore,
        *,
        timeout_ms: int = 30000,
        enable_cors: bool = False,
        monitoring_path: str | None = None,
    ) -> None:
        self.core = core
        self.timeout = timeout_ms / 1000.0 if timeout_ms and timeout_ms > 0 else None
        self.enable_cors = enable_cors
        self.monitoring_path = monitoring_path

    # ---------------------------------------------------------------------------------------------- dispatch

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes | bytearray,
               body_note: str = "") -> Reply:
        """Answer one request. ``target`` is the raw request-target (path + query, still percent-encoded)."""
        uri_path = _origin_form(target)
        path_only = uri_path.split("?", 1)[0]
        if self.monitoring_path is not None and path_only == self.monitoring_path:
            return self._prometheus(uri_path)
        if not V1_PATH.fullmatch(uri_path):
            logger.debug("Ignoring HTTP request: %s %s", method, uri_path)
            return Reply(404, NOT_FOUND_HTML, [("Content-Type", "text/html; charset=ISO-8859-1")], close=True)
        if method == "OPTIONS":
            return self._preflight(headers)
        reply = self._v1(method, uri_path, body, body_note)
        reply.headers.append(_JSON)
        if self.enable_cors:
            reply.headers.extend(_CORS_HEADERS)
        return reply

    def _preflight(self, headers: Mapping[str, str]) -> Reply:
        """CORS preflight: 200 with an empty body when Origin is http(s)://..., else 400; never JSON."""
        origin = headers.get("Origin") or ""
        reply = Reply(200 if _HTTP_ORIGIN.match(origin) else 400)
        if self.enable_cors:
            reply.headers.extend(_CORS_HEADERS)
        return reply

    def _prometheus(self, uri_path: str) -> Reply:
        """The exact-path metrics handler: any method; a query string makes it a 400 ``Unexpected path``."""
        text_plain = [("Content-Type", "text/plain")]
        if uri_path != self.monitoring_path:
            message = f"Unexpected path: {uri_path}. Should be {self.monitoring_path}"
            return Reply(400, message.encode("utf-8", "replace"), text_plain)
        try:
            page = self.core.metrics_text()
        except ServingError as exc:
            return Reply(exc.http_status, exc.message.encode("utf-8", "replace"), text_plain)
        return Reply(200, page.encode("utf-8"), text_plain)

    def _v1(self, method: str, uri_path: str, body: bytes | bytearray, body_note: str) -> Reply:
        try:
            text = self._route(method, uri_path, body, body_note)
        except ServingError as exc:
            logger.debug("REST %s %s failed: %s", method, uri_path, exc.to_status_string())
            return Reply(http_status(exc.code), error_body(exc.message))
        except RecursionError:
            return Reply(400, error_body("Request JSON is nested too deeply to process"))
        except MemoryError:
            return Reply(429, error_body("Not enough memory to process this request"))
        except Exception as exc:  # a server bug: report it as INTERNAL, keep the server up
            logger.exception("REST %s %s: internal error", method, uri_path)
            return Reply(500, error_body(f"Internal error while processing the request: {exc!r}"))
        return Reply(200, text.encode("utf-8", "surrogateescape"))

    def _route(self, method: str, uri_path: str, body: bytes | bytearray, body_note: str) -> str:
        malformed = invalid(f"Malformed request: {method} {uri_path}")
        if method == "POST":
            match = PREDICTION_API.fullmatch(uri_path)
            if match is None:
                raise malformed
            name, version, label, verb = match.groups()
            handler: Callable[[model_pb2.ModelSpec, bytes | bytearray, str], str] | None = {
                "predict": self._predict,
                "classify": self._classify,
                "regress": self._regress,
            }.get(verb)
            if handler is None:  # the regex is case-insensitive, the verb compare is not
                raise malformed
            return handler(_model_spec(name, version, label), body, body_note)
        if method == "GET":
            match = MODEL_STATUS_API.fullmatch(uri_path)
            if match is None:
                raise malformed
            name, version, label, metadata = match.groups()
            if metadata == "metadata":
                if not name:
                    raise invalid("Missing model name in request.")
                return self._metadata(_model_spec(name, version, label))
            if not name:
                raise invalid("Missing model name in request.")
            # TF Serving's status handler ignores labels: all versions come back.
            return self._status(_model_spec(name, version, None))
        raise malformed

    # ---------------------------------------------------------------------------------------------- handlers

    def _predict(self, spec: model_pb2.ModelSpec, body: bytes | bytearray, body_note: str) -> str:
        request = row = None
        reduced, blocks = extract_blocks(body)
        if blocks:  # the fast path: big numeric arrays went straight into numpy buffers
            try:
                request, row = self._predict_request(spec, restore_blocks(_document(reduced, body_note), blocks))
            except Exception:  # noqa: BLE001 - any doubt: the exact path below gives TF Serving's answer
                request = None
            del reduced, blocks
        if request is None:
            request, row = self._predict_request(spec, _document(body, body_note))
        response = self.core.predict(request, entrypoint="REST", timeout=self.timeout)
        return predictions_json(response.outputs) if row else outputs_json(response.outputs)

    def _predict_request(self, spec: model_pb2.ModelSpec, doc: dict[str, Any]) -> tuple[predict_pb2.PredictRequest, bool]:
        """``FillPredictRequestFromJson``: the request and whether the body used the row format."""
        original, spec = spec, model_pb2.ModelSpec()
        spec.CopyFrom(original)  # a failed fast attempt must leave the caller's spec untouched
        spec.signature_name = _signature_name(doc)
        _version, signatures = self.core.signature_defs(spec)
        signame = spec.signature_name or DEFAULT_SIGNATURE
        signature = signatures.get(signame)
        if signature is None:
            raise invalid(f'Serving signature name: "{signame}" not found in signature def')
        inputs = {alias: info.dtype for alias, info in signature.inputs.items()}
        if not inputs:
            raise invalid(f"Failed to get input map for signature: {spec.signature_name or 'DEFAULT'}")
        has_instances, has_inputs = "instances" in doc, "inputs" in doc
        if has_instances and has_inputs:
            raise invalid(
                f"JSON Value: {debug_json(doc)} Not formatted correctly expecting only one of 'inputs' or "
                "'instances' keys to exist "
            )
        if has_instances:
            instances = doc["instances"]
            if type(instances) is not list and type(instances) is not NumericBlock:
                raise invalid(f"JSON Value: {debug_json(doc)} Expecting 'instances' to be an list/array")
            if not instances:
                raise invalid(f"JSON Value: {debug_json(doc)} No values in 'instances' array")
            tensors = tensors_from_instances(instances, inputs)
            row = True
        elif has_inputs:
            tensors = tensors_from_inputs(doc["inputs"], inputs)
            row = False
        else:
            raise invalid("Missing 'inputs' or 'instances' key")
        del doc
        request = predict_pb2.PredictRequest(model_spec=spec)
        for name, dense in tensors.items():
            dense_to_proto(dense, into=request.inputs[name])
        return request, row

    def _classify(self, spec: model_pb2.ModelSpec, body: bytes | bytearray, body_note: str) -> str:
        doc = _document(body, body_note)
        request = classification_pb2.ClassificationRequest(model_spec=spec)
        request.model_spec.signature_name = _signature_name(doc)
        fill_input(doc, request.input)
        response = self.core.classify(request, entrypoint="REST", timeout=self.timeout)
        return classification_json(response.result)

    def _regress(self, spec: model_pb2.ModelSpec, body: bytes | bytearray, body_note: str) -> str:
        doc = _document(body, body_note)
        request = regression_pb2.RegressionRequest(model_spec=spec)
        request.model_spec.signature_name = _signature_name(doc)
        fill_input(doc, request.input)
        response = self.core.regress(request, entrypoint="REST", timeout=self.timeout)
        return regression_json(response.result)

    def _status(self, spec: model_pb2.ModelSpec) -> str:
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
        response = self.core.get_model_status(request, entrypoint="REST")
        return _proto_json(response)

    def _metadata(self, spec: model_pb2.ModelSpec) -> str:
        request = get_model_metadata_pb2.GetModelMetadataRequest(model_spec=spec, metadata_field=["signature_def"])
        response = self.core.get_model_metadata(request, entrypoint="REST")
        # TF Serving echoes name and version only: signature_name "" and never a label.
        echoed = model_pb2.ModelSpec(name=response.model_spec.name)
        if response.model_spec.HasField("version"):
            echoed.version.CopyFrom(response.model_spec.version)
        parts = []
        for key, packed in response.metadata.items():
            if packed.Is(get_model_metadata_pb2.SignatureDefMap.DESCRIPTOR):
                sigmap = get_model_metadata_pb2.SignatureDefMap()
                packed.Unpack(sigmap)
                parts.append(f'"{key}": {_proto_json(sigmap)}')
        return '{\n"model_spec":' + _proto_json(echoed) + ',\n"metadata": {' + ", ".join(parts) + "}\n}"


def _origin_form(target: str) -> str:
    """The path+query of a request-target; an absolute-form target (``http://host/p``) loses scheme and host."""
    lowered = target[:8].lower()
    if lowered.startswith("http://") or lowered.startswith("https://"):
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"
    return target
