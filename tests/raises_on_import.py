"""A component whose own code fails as it is imported (test_topology)."""

raise RuntimeError("this component cannot be imported")
