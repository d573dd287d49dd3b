"""Drives `bundlebase repl` through a real pseudo-terminal: a slow query, Ctrl-C, then EXIT.

Each step waits for what the REPL prints (its prompt, "Cancelled", the count) rather than for a
fixed time, so a slow machine only makes it slower, never wrong. A wait that times out moves on:
the test's assertions on the printed output then say what was missing.
"""
import os, pty, re, select, sys, time

bin_path, bundle = sys.argv[1], sys.argv[2]
PROMPT = re.compile(rb'bundlebase> ')
pid, fd = pty.fork()
if pid == 0:
    os.execvp('node', ['node', bin_path, 'repl', bundle])

out = b''
ended = False  # the REPL closed the terminal (it exited)
def read_until(pattern, seconds, start=0):
    """Reads until `pattern` occurs in the output after byte `start`; True if it did in time."""
    global out, ended
    end = time.time() + seconds
    while not pattern.search(out, start):
        remaining = end - time.time()
        if ended or remaining <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], min(0.1, remaining))
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b''
            if not chunk:
                ended = True
            out += chunk
    return True

def send(data):
    if not ended:
        os.write(fd, data)

read_until(PROMPT, 30)
mark = len(out)
send(b"SELECT sum(i % 7) AS s FROM range(100000000000) t(i)\r")
# Ctrl-C must cancel the running query, not the REPL. One that lands before the query starts only
# prints a hint at the prompt, so press it until the REPL reports the cancellation.
deadline = time.time() + 30
while not ended and time.time() < deadline and not read_until(re.compile(rb'Cancelled'), 0.5, mark):
    send(b"\x03")
read_until(PROMPT, 10, out.find(b'Cancelled', mark) + 1)
mark = len(out)
send(b"COUNT\r")
read_until(re.compile(rb'\b1000\r?\n'), 30, mark)
send(b"EXIT\r")
read_until(re.compile(rb'(?!)'), 30)  # to the end of the output (the REPL exits)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf-8', 'replace'))
sys.stdout.write('\nEXIT_STATUS=%d\n' % os.waitstatus_to_exitcode(status))
