"""The one contract every provider keeps: `start()` brings the target's stack up and returns the Stack,
`stop()` ends whatever `start()` began (safe to call twice, and after a failed start)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from harness.stack import Stack

__all__ = ["Provider"]


class Provider(ABC):
    @abstractmethod
    def start(self) -> Stack: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
