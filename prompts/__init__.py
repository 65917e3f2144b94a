"""Prompt templates, installed as the package `reviewer.prompts` (see pyproject.toml)."""
