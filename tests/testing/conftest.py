# host_app/ is a host app's own test suite, run by test_plugin.py in a subprocess of its own.
collect_ignore = ["host_app"]
