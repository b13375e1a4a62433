"""What drf-spectacular cannot read off the views: how a key authenticates, and that every
error is a problem document."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class KeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.keys.KeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "crier_<prefix>_<secret>",
            "description": "A workspace's API key, created by an admin under API keys.",
        }


PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details; ``type`` names the kind of error, stably.",
    "properties": {
        "type": {"type": "string", "example": "/api/v1/problems/validation-error"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "For validation-error: each refused field and why.",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
    "additionalProperties": True,
}


def add_problems(result, generator, request, public):
    """POSTPROCESSING_HOOKS: every operation may answer a problem document."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    problem = {
        "description": "An error, as RFC 9457 problem details (docs/api.md lists the types).",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("default", problem)
    return result


# What a POST's answer is, where its path does not say: recipients start an import.
MADE_ELSEWHERE = {"/recipients": "/api/v1/imports", "/recipients/upload": "/api/v1/imports"}


def add_links(result, generator, request, public):
    """POSTPROCESSING_HOOKS: OpenAPI links from each POST that answers a resource with its
    ``id`` (a draft made, a clone, a list, a single message, an import started) to every
    operation on that resource's own path, so a client generator or schemathesis's stateful
    run can follow a draft made to its recipients, price and launch."""
    paths = result.get("paths", {})
    for path, operations in paths.items():
        post = operations.get("post")
        if not isinstance(post, dict):
            continue
        collection = path.split("/{", 1)[0]  # /campaigns/{campaign_pk}/clone makes a campaign
        for ending, elsewhere in MADE_ELSEWHERE.items():
            if path.endswith(ending):
                collection = elsewhere
        links = {}
        for other, other_operations in paths.items():
            rest = other.removeprefix(collection + "/{")
            if rest == other or "{" in rest:  # not the collection's, or a second id
                continue
            parameter = rest.split("}", 1)[0]
            for operation in other_operations.values():
                if isinstance(operation, dict) and "operationId" in operation:
                    links[operation["operationId"]] = {
                        "operationId": operation["operationId"],
                        "parameters": {parameter: "$response.body#/id"},
                    }
        for code, response in post.get("responses", {}).items():
            if links and code in ("200", "201", "202") and _gives_id(result, response):
                response["links"] = links
    return result


def _gives_id(result, response) -> bool:
    """Whether the response's JSON body has an ``id`` at its top."""
    body = (response.get("content") or {}).get("application/json", {}).get("schema", {})
    if ref := body.get("$ref"):
        body = result["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return "id" in body.get("properties", {})
