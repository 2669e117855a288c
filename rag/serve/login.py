"""The web chat's login check, with throttling of wrong passwords.

Gradio awaits `Login(user, password).check` for every login attempt. A wrong password costs the caller a
short pause, and after `max_failures` wrong attempts for one user name within `window` seconds that
name is locked for `lockout` seconds: every attempt fails, the right password included, and the
server log says so. (A lockout can also shut the real user out for that time; that is the price of
bounding guesses, as with any account lockout.)
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import defaultdict, deque

log = logging.getLogger("rag.login")


class Login:
    def __init__(
        self,
        user: str,
        password: str,
        max_failures: int = 5,
        window: float = 300.0,
        lockout: float = 300.0,
        pause: float = 1.0,
        clock=time.monotonic,
        sleep=time.sleep,
    ) -> None:
        self._user, self._password = user.encode(), password.encode()
        self.max_failures, self.window, self.lockout, self.pause = max_failures, window, lockout, pause
        self._clock, self._sleep = clock, sleep
        self._failures: dict[str, deque] = defaultdict(deque)
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def locked(self, username: str) -> bool:
        with self._lock:
            return self._locked_until.get(username, 0.0) > self._clock()

    def verify(self, username: str, password: str) -> bool:
        """Right user name and password, not locked. Records a failure; does not pause."""
        username = username or ""
        now = self._clock()
        with self._lock:
            if self._locked_until.get(username, 0.0) > now:
                log.warning("login refused: user %r is locked after repeated wrong passwords", username)
                return False
        right = hmac.compare_digest(username.encode(), self._user) & hmac.compare_digest((password or "").encode(), self._password)
        with self._lock:
            if right:
                self._failures.pop(username, None)
                return True
            recent = self._failures[username]
            recent.append(now)
            while recent and recent[0] <= now - self.window:
                recent.popleft()
            if len(recent) >= self.max_failures:
                self._locked_until[username] = now + self.lockout
                recent.clear()
                log.warning("user %r locked for %.0f s after %d wrong passwords", username, self.lockout, self.max_failures)
            self._forget_old(now)
        return False

    def _forget_old(self, now: float) -> None:
        """Drop failure records older than the window and lockouts that ended (bounded memory; a
        flood of made-up names cannot reset the real name's count)."""
        if len(self._failures) + len(self._locked_until) < 1000:
            return
        for name in [n for n, times in self._failures.items() if not times or times[-1] <= now - self.window]:
            del self._failures[name]
        for name in [n for n, until in self._locked_until.items() if until <= now]:
            del self._locked_until[name]

    def __call__(self, username: str, password: str) -> bool:
        """Blocking form (pauses the calling thread after a wrong password)."""
        if self.verify(username, password):
            return True
        self._sleep(self.pause)
        return False

    async def check(self, username: str, password: str) -> bool:
        """The form Gradio gets: its login route runs on the event loop, so the pause after a wrong
        password is awaited there instead of freezing every other request."""
        import asyncio

        if self.verify(username, password):
            return True
        await asyncio.sleep(self.pause)
        return False
