"""The local API server: Hearth's models through the OpenAI and Anthropic APIs, for coding tools."""
