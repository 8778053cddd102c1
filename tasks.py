"""Invoke entry point: the lab's tasks, gathered from toolchain/tasks/."""

from toolchain.tasks import collection

ns = collection()
