"""One of the project's servers, started by a Python test.

ServerProcess(command, log_path) starts `command` (a server listening on
127.0.0.1:0), copies its output to log_path and keeps it in `lines` (read on
a thread of its own), and returns once the server has printed
"... listening on HOST:PORT": `port` is that port. With metrics=True it waits
for that line to also name "metrics on port N" (`metrics_port`). A server
that prints neither within 30 s is killed and RuntimeError names its last
lines.

stop() sends SIGTERM and returns the exit status, or "killed after 30 s" if
the server did not exit in time (it is killed then); the caller checks it.
"""
import re
import signal
import subprocess
import threading

_LISTENING = re.compile(r"listening on [0-9.]+:(\d+)")
_LISTENING_WITH_METRICS = re.compile(r"listening on [0-9.]+:(\d+).*metrics on port (\d+)")


class ServerProcess:
    def __init__(self, command, log_path, metrics=False):
        self.log = open(log_path, "a")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.ready = threading.Event()
        self.port = None
        self.metrics_port = None
        self._pattern = _LISTENING_WITH_METRICS if metrics else _LISTENING
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(30):
            self.process.kill()
            raise RuntimeError(f"{command[0]} did not start: " + "".join(self.lines[-20:]))

    def _read(self):
        for line in self.process.stdout:
            self.log.write(line)
            self.log.flush()
            self.lines.append(line)
            match = self._pattern.search(line)
            if match and not self.ready.is_set():
                self.port = int(match.group(1))
                if match.lastindex == 2:
                    self.metrics_port = int(match.group(2))
                self.ready.set()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return "killed after 30 s"
