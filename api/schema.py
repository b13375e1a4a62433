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
