"""Shared fakes for the edges tests cannot reach (the LLM gateway, …), served on 127.0.0.1."""
