"""A progress line on stderr for long runs: images done and images per second."""
import sys
import time


class Meter:
    """Counts images done of ``total`` and shows ``finngen: 1,200 of 10,000 images, 412 images/s``.

    On a terminal the line appears once a run has taken ``delay`` seconds and is redrawn in
    place; elsewhere (a log file, a pipe) nothing is shown unless ``force``, and then every
    update is its own line. The rate counts from the meter's creation: make it when the
    model is loaded, so that it is the rate after start-up. Use it in a ``with`` block, which
    ends an unfinished line (an error message then starts on a line of its own).
    """

    def __init__(self, total: int, *, force: bool = False, stream=None, delay: float = 2.0, interval: float = 0.5):
        self.total, self.stream = total, stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.enabled = force or self.terminal
        self.delay = 0.0 if force else delay
        self.interval = interval
        self.started, self.shown, self.open = time.monotonic(), None, False
        self.done = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.open:
            self.stream.write("\n")
            self.stream.flush()

    def update(self, images: int):
        """``images`` more are done."""
        now = time.monotonic()
        self.done += images
        last = self.done >= self.total
        if not self.enabled or now - self.started < self.delay:
            return
        if not last and self.shown is not None and now - self.shown < self.interval:
            return
        self.shown = now
        elapsed = now - self.started
        rate = f", {self.done / elapsed:,.0f} images/s" if elapsed > 0 else ""
        line = f"finngen: {self.done:,} of {self.total:,} images{rate}"
        if self.terminal:
            self.stream.write("\r" + line + "\x1b[K" + ("\n" if last else ""))
            self.open = not last
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
