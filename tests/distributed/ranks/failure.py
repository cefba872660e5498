"""Rank 1 fails in one of several ways while rank 0 waits in a collective.

Usage: mpiexec -n 2 python failure.py MODE
MODE: raise (an uncaught exception), exit (sys.exit without a collective), kill (SIGKILL),
      stall (alive, but never calls the collective). The group's timeout is 3 s.
"""
import datetime
import os
import signal
import sys
import time

import minigrad as mg
import minigrad.distributed as dist


def main(mode):
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=3))
    t = mg.ones(4)
    dist.all_reduce(t)                 # both ranks are up
    print(f"rank {dist.get_rank()} ready", flush=True)
    if dist.get_rank() == 1:
        time.sleep(0.3)
        if mode == "raise":
            raise RuntimeError("rank 1 fails on purpose")
        if mode == "exit":
            sys.exit(3)
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)                 # stall
        return
    dist.all_reduce(t)
    print("rank 0 finished the collective (it should not have)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
