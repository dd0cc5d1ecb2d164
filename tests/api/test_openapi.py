"""The served contract (/openapi.yaml) keeps every promise of the seed spec and matches the code.

The seed is the contract we were handed: every path, operation, parameter, status
code, schema and property in it is a promise to existing clients. The served spec
may add (paths, responses, properties, constraints the server enforces) but never
take away or change a type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import yaml
from starlette.datastructures import QueryParams
from starlette.routing import Mount, Route

from loki_mode import errors, models
from loki_mode.api import app as app_module
from loki_mode.api import params
from loki_mode.api.app import create_app
from loki_mode.api.routes.events import HISTORY_MAX
from loki_mode.errors import ApiProblem, ValidationProblem
from loki_mode.settings import Settings
from loki_mode.types import EVENT_TYPES, SESSION_STATUSES, TASK_STATUSES

ROOT = Path(__file__).resolve().parents[2]
# The contract we were handed, committed unchanged; the served spec must keep all of it.
SEED = ROOT / "docs" / "spec" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def seed() -> Doc:
    return dict(yaml.safe_load(SEED.read_text()))


@pytest.fixture(scope="module")
def served() -> Doc:
    return dict(yaml.safe_load(files("loki_mode").joinpath("openapi.yaml").read_text()))


def resolve(doc: Doc, node: Any) -> Any:
    """Follow local `$ref`s; sibling keywords of a `$ref` are kept (OpenAPI 3.1)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        seen += 1
        assert seen < 20, f"$ref cycle at {ref}"
    return node


def types(doc: Doc, schema: Any) -> set[str]:
    """The JSON types a schema allows; OpenAPI 3.0's `nullable: true` counts as "null"."""
    schema = resolve(doc, schema)
    declared = schema.get("type")
    found = set(declared) if isinstance(declared, list) else {declared} if declared else set()
    if schema.get("nullable"):
        found.add("null")
    return found


def operations(doc: Doc) -> Iterator[tuple[str, str, Doc]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def parameters(doc: Doc, operation: Doc) -> dict[tuple[str, str], Doc]:
    found = {}
    for raw in operation.get("parameters", []):
        parameter = resolve(doc, raw)
        found[(parameter["in"], parameter["name"])] = parameter
    return found


def assert_compatible(
    seed: Doc, old: Any, served: Doc, new: Any, where: str, *, request: bool
) -> None:
    """`new` (served) keeps every promise of `old` (seed), recursively."""
    old, new = resolve(seed, old), resolve(served, new)
    old_types, new_types = types(seed, old), types(served, new)
    # Same types; a value the seed allowed to be null stays nullable. A served schema may
    # add "null" (the seed's Event.sessionId is null for heartbeats, prdPath for analysis).
    assert old_types - {"null"} == new_types - {"null"}, f"{where}: {old_types} -> {new_types}"
    assert "null" not in old_types or "null" in new_types, f"{where}: no longer nullable"
    for keyword in ("format", "default"):
        if keyword in old:
            assert new.get(keyword) == old[keyword], f"{where}: {keyword} changed"
    if "enum" in old:
        assert set(new.get("enum", [])) - {None} == set(old["enum"]), f"{where}: enum changed"
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    if request:
        assert new_required <= old_required, f"{where}: requires more of clients"
    else:
        assert new_required >= old_required, f"{where}: promises less to clients"
    for name, prop in old.get("properties", {}).items():
        assert name in new.get("properties", {}), f"{where}: property {name} is gone"
        assert_compatible(
            seed, prop, served, new["properties"][name], f"{where}.{name}", request=request
        )
    if "items" in old:
        assert "items" in new, f"{where}: items are gone"
        assert_compatible(seed, old["items"], served, new["items"], f"{where}[]", request=request)


# --- the seed's promises are kept -------------------------------------------------


def test_served_spec_is_openapi_3_1_with_the_seeds_identity(seed: Doc, served: Doc) -> None:
    assert served["openapi"] == "3.1.0"
    assert served["info"]["title"] == seed["info"]["title"]
    assert served["info"]["version"] == seed["info"]["version"]
    assert {t["name"] for t in seed["tags"]} <= {t["name"] for t in served["tags"]}
    assert seed["servers"] == served["servers"]


def test_every_seed_operation_is_served_with_its_id_and_tags(seed: Doc, served: Doc) -> None:
    for path, method, old in operations(seed):
        assert path in served["paths"], path
        assert method in served["paths"][path], f"{method.upper()} {path}"
        new = served["paths"][path][method]
        assert new["operationId"] == old["operationId"]
        assert set(old.get("tags", [])) <= set(new.get("tags", []))


def test_every_seed_parameter_keeps_its_place_and_type(seed: Doc, served: Doc) -> None:
    for path, method, old in operations(seed):
        new = parameters(served, served["paths"][path][method])
        for key, parameter in parameters(seed, old).items():
            where = f"{method.upper()} {path} {key}"
            assert key in new, f"{where} is gone"
            assert new[key].get("required", False) == parameter.get("required", False), where
            assert_compatible(
                seed, parameter["schema"], served, new[key]["schema"], where, request=True
            )


def test_every_seed_request_body_keeps_its_shape(seed: Doc, served: Doc) -> None:
    for path, method, old in operations(seed):
        if "requestBody" not in old:
            continue
        where = f"{method.upper()} {path} body"
        new = resolve(served, served["paths"][path][method].get("requestBody"))
        assert new, f"{where} is gone"
        old_body = resolve(seed, old["requestBody"])
        for media, content in old_body["content"].items():
            assert media in new["content"], f"{where}: {media} is gone"
            assert_compatible(
                seed,
                content["schema"],
                served,
                new["content"][media]["schema"],
                where,
                request=True,
            )


def test_every_seed_response_keeps_its_status_and_shape(seed: Doc, served: Doc) -> None:
    for path, method, old in operations(seed):
        responses = served["paths"][path][method]["responses"]
        for status, response in old["responses"].items():
            where = f"{method.upper()} {path} {status}"
            assert status in responses, f"{where} is gone"
            new = resolve(served, responses[status])
            for media, content in resolve(seed, response).get("content", {}).items():
                assert media in new.get("content", {}), f"{where}: {media} is gone"
                assert_compatible(
                    seed,
                    content["schema"],
                    served,
                    new["content"][media]["schema"],
                    where,
                    request=False,
                )


def test_every_seed_schema_keeps_its_properties_and_types(seed: Doc, served: Doc) -> None:
    requests = {
        resolve(seed, op["requestBody"])["content"]["application/json"]["schema"].get("$ref", "")
        for _, _, op in operations(seed)
        if "requestBody" in op
    }
    for name, old in seed["components"]["schemas"].items():
        assert name in served["components"]["schemas"], f"schema {name} is gone"
        request = f"#/components/schemas/{name}" in requests
        new = served["components"]["schemas"][name]
        assert_compatible(seed, old, served, new, name, request=request)


def test_seed_security_is_kept(seed: Doc, served: Doc) -> None:
    for name, scheme in seed["components"]["securitySchemes"].items():
        assert served["components"]["securitySchemes"][name] == scheme
    for requirement in seed["security"]:
        assert requirement in served["security"]


def test_compatibility_check_catches_a_broken_promise(seed: Doc) -> None:
    """The checker above is not vacuous: a type change, a lost property, a lost null fail it."""
    session = seed["components"]["schemas"]["Session"]
    broken = [
        {**session, "properties": {**session["properties"], "pid": {"type": "string"}}},
        {**session, "properties": {k: v for k, v in session["properties"].items() if k != "pid"}},
        {**session, "properties": {**session["properties"], "pid": {"type": "integer"}}},
    ]
    for schema in broken:
        with pytest.raises(AssertionError):
            assert_compatible(seed, session, seed, schema, "Session", request=False)


# --- the served spec is sound and says what the code does --------------------------


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_every_ref_resolves_and_operation_ids_are_unique(served: Doc) -> None:
    for node in _walk(served):
        if isinstance(node, dict) and "$ref" in node:
            resolve(served, node)
    ids = [op["operationId"] for _, _, op in operations(served)]
    assert len(ids) == len(set(ids))


def test_no_openapi_3_0_nullable_left(served: Doc) -> None:
    """3.1 says null with `type: [T, 'null']`; `nullable` would be ignored by 3.1 tools."""
    assert not [n for n in _walk(served) if isinstance(n, dict) and "nullable" in n]


def test_every_response_has_a_real_schema(served: Doc) -> None:
    for path, method, op in operations(served):
        for status, raw in op["responses"].items():
            where = f"{method.upper()} {path} {status}"
            response = resolve(served, raw)
            if status == "204":
                assert "content" not in response, where
                continue
            assert response.get("content"), f"{where} has no content"
            for media, content in response["content"].items():
                schema = resolve(served, content["schema"])
                if media == "application/json":
                    assert schema.get("properties"), f"{where} is a bare object"
                else:
                    assert schema.get("type") == "string", where


def test_every_error_response_is_an_api_error(served: Doc) -> None:
    health = {"/health", "/health/ready"}  # their 503 is the probe's own body
    for path, _method, op in operations(served):
        for status, raw in op["responses"].items():
            if int(status) < 400 or (path in health and status == "503"):
                continue
            schema = resolve(served, raw)["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ApiError"}, f"{path} {status}"


def _spec_key(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_route_the_app_registers_is_documented(served: Doc, tmp_path: Path) -> None:
    app = create_app(Settings(project_dir=tmp_path))
    mounts = [r.path for r in app.routes if isinstance(r, Mount)]
    served_routes = set()
    for route in app.routes:
        if not isinstance(route, Route) or any(route.path.startswith(m) for m in mounts):
            continue  # static file trees (the dashboard's and the docs' assets)
        for method in route.methods or ():
            if method != "HEAD":
                served_routes.add((method, _spec_key(route.path)))
    documented = {(m.upper(), _spec_key(p)) for p, m, _ in operations(served)}
    assert served_routes == documented


def test_served_spec_is_the_packaged_file(tmp_path: Path) -> None:
    app = create_app(Settings(project_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)

    async def fetch() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get("/openapi.yaml")

    import asyncio

    response = asyncio.run(fetch())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert response.content == files("loki_mode").joinpath("openapi.yaml").read_bytes()


def _wire_names(model: type[msgspec.Struct]) -> set[str]:
    return {f.encode_name for f in msgspec.structs.fields(model)}


@pytest.mark.parametrize(
    ("model", "schema"),
    [
        (models.Session, "Session"),
        (models.Task, "Task"),
        (models.Agent, "Agent"),
        (models.StartSessionRequest, "StartSessionRequest"),
        (models.StartSessionResponse, "StartSessionResponse"),
        (models.SessionStatusResponse, "SessionStatusResponse"),
        (models.SessionList, "SessionList"),
        (models.InputRequest, "InputRequest"),
        (models.Pagination, "Pagination"),
        (models.TaskPage, "TaskPage"),
        (models.TaskList, "TaskList"),
        (models.TaskCounts, "TaskSummary"),
        (models.ProviderAvailability, "ProviderAvailability"),
        (models.HealthResponse, "HealthResponse"),
        (models.Event, "Event"),
        (models.EventHistory, "EventHistory"),
        (models.ControlResponse, "ControlResponse"),
        (models.ApiError, "ApiError"),
    ],
)
def test_schema_properties_are_the_models_fields(
    served: Doc, model: type[msgspec.Struct], schema: str
) -> None:
    properties = set(served["components"]["schemas"][schema]["properties"])
    assert properties == _wire_names(model)


def test_nested_schemas_match_their_models(served: Doc) -> None:
    schemas = served["components"]["schemas"]
    options = schemas["StartSessionRequest"]["properties"]["options"]["properties"]
    assert set(options) == _wire_names(models.StartOptions)
    status = schemas["SessionStatusResponse"]["properties"]
    assert set(status["tasks"]["properties"]) == _wire_names(models.TaskCounts)
    assert set(status["agents"]["properties"]) == _wire_names(models.AgentCounts)


def test_enums_are_the_codes_own(served: Doc) -> None:
    schemas = served["components"]["schemas"]
    assert schemas["Event"]["properties"]["type"]["enum"] == list(EVENT_TYPES)
    assert schemas["Session"]["properties"]["status"]["enum"] == list(SESSION_STATUSES)
    assert schemas["ControlResponse"]["properties"]["status"]["enum"] == list(SESSION_STATUSES)
    assert schemas["Task"]["properties"]["status"]["enum"] == list(TASK_STATUSES)
    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, ApiProblem)
    }
    codes |= set(app_module.HTTP_CODES.values()) | {"STORE_UNAVAILABLE", "INTERNAL_ERROR"}
    assert codes <= set(schemas["ApiError"]["properties"]["code"]["enum"])


def test_event_types_pattern_is_the_parsers_grammar(served: Doc) -> None:
    """`types` accepts exactly what the server's filter parser accepts."""
    from loki_mode.events import EventFilter

    pattern = re.compile(served["components"]["parameters"]["EventTypes"]["schema"]["pattern"])
    samples = [
        "",
        "*",
        " task:* , log:info ,",
        "*,task:completed",
        "\u3000session:started\u2000",
        *EVENT_TYPES,
        *{f"{t.split(':')[0]}:*" for t in EVENT_TYPES},
        "bogus",
        "*,bogus",
        "bogus,*",
        "heartbeat:*",
        "task:",
        ":*",
        "task:*x",
        "\ufefftask:*",
        "task:created;log:info",
    ]
    for value in samples:
        try:
            EventFilter.parse(None, value, None)
            accepted = True
        except ValidationProblem:
            accepted = False
        assert bool(pattern.search(value)) == accepted, repr(value)


def test_published_limits_are_the_enforced_ones(served: Doc) -> None:
    parameters = served["components"]["parameters"]
    limit, offset = parameters["Limit"]["schema"], parameters["Offset"]["schema"]
    page = {"limit": limit["maximum"], "offset": offset["maximum"]}
    assert params.page(QueryParams(page)) == (limit["maximum"], offset["maximum"])
    for name, value in [
        ("limit", limit["minimum"] - 1),
        ("limit", limit["maximum"] + 1),
        ("offset", offset["minimum"] - 1),
        ("offset", offset["maximum"] + 1),
    ]:
        with pytest.raises(ValidationProblem):
            params.page(QueryParams({name: str(value)}))
    stream = parameters_of(served, "/api/events", "get")
    assert stream[("query", "history")]["schema"]["maximum"] == HISTORY_MAX
    options = served["components"]["schemas"]["StartSessionRequest"]["properties"]["options"]
    timeout = options["properties"]["timeout"]
    decode = msgspec.json.Decoder(models.StartOptions).decode
    assert decode(b'{"timeout": %d}' % timeout["maximum"]).timeout == timeout["maximum"]
    for bad in (timeout["minimum"] - 1, timeout["maximum"] + 1):
        with pytest.raises(msgspec.ValidationError):
            decode(b'{"timeout": %d}' % bad)


def parameters_of(doc: Doc, path: str, method: str) -> dict[tuple[str, str], Doc]:
    return parameters(doc, doc["paths"][path][method])
