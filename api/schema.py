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
