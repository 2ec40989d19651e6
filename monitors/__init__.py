"""Service monitors: the result contract, the registry, one module per service."""
