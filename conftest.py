"""The lmready plugin loads through its pytest11 entry point (pyproject.toml); settings live in
[tool.pytest.ini_options]. Nothing else belongs here: checks get their facts from the plugin."""
