"""The errors of minigrad.distributed."""


class DistributedTimeoutError(RuntimeError):
    """A collective did not complete within the process group's timeout: a peer died, raised,
    or called different collectives. The group is unusable afterwards."""
