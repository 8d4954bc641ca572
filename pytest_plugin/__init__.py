"""pytest plugin for client authors: the `cryptorobot_mock*` fixtures, the `cryptorobot_mock` marker and the
`--cryptorobot-mock-seed` option (docs/pytest-plugin.md). pytest loads `pytest_plugin.plugin` through the
`pytest11` entry point; this package imports nothing, so installing it costs a test run nothing.
"""
